"""NIR files through the real peers, at everyone's default settings, in both directions.

snnjax → peer: a trained-like snnjax net exported with ``export_nir`` (default dt), written to a
file, read by the peer's importer with its defaults, run step by step; its output spikes must equal
``model.apply``'s and its final membranes snnjax's (float32 rounding). peer → snnjax: a peer net
exported with the peer's exporter, imported with ``snnjax.nir.import_nir(graph)`` (no dt: the
documented 1e-4 with a warning), must give the peer's own spikes and membranes.

Every case's outcome (loads and agrees, or who refuses it with which message) is recorded in
``tests/nir_interop.json``, and docs/nir.md's table between its markers is rendered from that file:
``test_compatibility_page_is_what_the_peers_do`` fails when either differs from what the installed
peers do now. Regenerate both with ``SNNJAX_WRITE_NIR_INTEROP=1 pytest tests/io/test_nir_interop.py``.
The peers come with ``pip install -e ".[interop]"`` (part of ``[test]``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import jitted
import numpy as np
import pytest
from trained_like import nir_net_config, trained_like_variables

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")
spikingjelly = pytest.importorskip("spikingjelly")
snntorch = pytest.importorskip("snntorch")
norse = pytest.importorskip("norse")

from spikingjelly.activation_based import functional as sj_functional  # noqa: E402
from spikingjelly.activation_based import layer as sj_layer  # noqa: E402
from spikingjelly.activation_based import neuron as sj_neuron  # noqa: E402
from spikingjelly.activation_based.nir_exchange import export_to_nir as sj_export  # noqa: E402
from spikingjelly.activation_based.nir_exchange import import_from_nir as sj_import  # noqa: E402
from snntorch import utils as snntorch_utils  # noqa: E402
from snntorch.export_nir import export_to_nir as snntorch_export  # noqa: E402
from snntorch.import_nir import import_from_nir as snntorch_import  # noqa: E402
from norse.torch import LIFBoxCell, LIFBoxParameters, SequentialState  # noqa: E402
from norse.torch import from_nir as norse_import  # noqa: E402
from norse.torch import to_nir as norse_export  # noqa: E402

from snnjax import models, neurons, surrogate  # noqa: E402
from snnjax.nir import export_nir, import_nir  # noqa: E402
from snnjax.nir.mapping import nir_if_to_euler, nir_lif_to_euler  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "nir_interop.json"
PAGE = REPO / "docs" / "nir.md"
BEGIN, END = "<!-- nir-interop-table:begin -->", "<!-- nir-interop-table:end -->"
T, B = 8, 3
MEMBRANE_ATOL = 2e-5  # float32 rounding of membranes of order 1 after T steps through two synapse layers
PEERS = {"SpikingJelly": "spikingjelly", "snnTorch": "snntorch"}

# snnjax nets: spec, input [H, W, C], config changes, export options
SNNJAX_NETS = {
    "dense": ("20-10", (4, 4, 2), {"norm": "none", "neuron.kind": "lif", "neuron.decay": 0.75}, {}),
    "dense, decay_input (R = 1)": (
        "20-10", (4, 4, 2),
        {"norm": "none", "neuron.kind": "lif", "neuron.decay": 0.75, "neuron.decay_input": True}, {},
    ),
    "conv": ("4c3-ap2-20-10", (10, 10, 1), {"norm": "llc_bn", "neuron.kind": "llc_lif"}, {}),
    "conv, sum pooling": ("4c3-ap2-20-10", (10, 10, 1), {"norm": "bn", "neuron.kind": "lif"}, {"sum_pool": True}),
    "IF": ("4c3-ap2-20-10", (10, 10, 1), {"norm": "bn", "neuron.kind": "if"}, {}),
}
PEER_NETS = ("dense", "conv", "IF")
EXTRA_NETS = {  # peer bugs shown by the table
    ("snnTorch", "snnjax → peer"): ("conv (whole batch at once)",),
    ("snnTorch", "peer → snnjax"): ("dense, reset by subtraction",),
    ("Norse", "peer → snnjax"): ("dense", "dense, scalar parameters"),
}


def _versions() -> dict[str, str]:
    import importlib.metadata as metadata

    return {name: metadata.version(name) for name in ("nir", "nirtorch", "torch", "spikingjelly", "snntorch", "norse")}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:160]


@contextlib.contextmanager
def _quiet():
    """The peers print and log as they convert; keep the test output to the test."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------------------------------------------
# snnjax's side: the nets, their reference spikes, and the membranes NIR's equations give
# ------------------------------------------------------------------------------------------------


def _config(spec, changes):
    return nir_net_config(spec, changes, T)


def _neuron_membranes(graph, x_seq, dt):
    """The final membrane (after the reset) of every LIF/IF node, from NIR's Euler equations.

    Each neuron node is driven by the current snnjax's import computes for it (the previous node's
    output) and run with :func:`snnjax.neurons.lif` on :func:`nir_lif_to_euler`'s constants, firing
    on ``v >= v_threshold`` or ``v > v_threshold`` as the peer does (the spikes agree either way
    unless a membrane lands exactly on the threshold).
    """
    apply_fn, params = import_nir(graph, dt=dt)
    _, hidden = apply_fn(params, x_seq, return_intermediates=True)
    order = list(hidden)
    membranes = {}
    for i, name in enumerate(order):
        node = graph.nodes[name]
        if isinstance(node, nir.LIF):
            euler = nir_lif_to_euler(node.tau, node.r, node.v_leak, node.v_threshold, node.v_reset, dt)
        elif isinstance(node, nir.IF):
            euler = nir_if_to_euler(node.r, node.v_threshold, node.v_reset, dt)
        else:
            continue
        current = hidden[order[i - 1]]

        def per_step(p, like=current):
            p = jnp.asarray(p, like.dtype)
            return p.reshape((1,) * (like.ndim - p.ndim) + p.shape)

        drive = current * per_step(euler.gain) + per_step(euler.offset)
        shape = current.shape[1:]
        _, state = neurons.lif(
            drive, decay=jnp.broadcast_to(jnp.asarray(euler.decay, current.dtype), shape),
            v_th=jnp.broadcast_to(jnp.asarray(euler.v_th, current.dtype), shape), spike_fn=surrogate.sigmoid(),
            state=neurons.LIFState(jnp.broadcast_to(jnp.asarray(euler.v0, current.dtype), shape)),
        )  # fmt: skip
        membranes[name] = np.asarray(state.v) + np.asarray(node.v_reset)
    return membranes


@functools.cache
def _snnjax_export(net: str, tmp: str):
    """(graph read back from a file, x [T, B, C, H, W] in NIR layout, model.apply's output [T, B, K])."""
    spec, shape, changes, options = SNNJAX_NETS[net]
    cfg = _config(spec, changes)
    x = jax.random.uniform(jax.random.PRNGKey(0), (B,) + shape)
    model = models.build_model(cfg, 10)
    variables = trained_like_variables(model, x)
    expected = np.asarray(jitted.apply(model, variables, x, train=False).out)
    path = Path(tmp) / f"snnjax_{net.replace(', ', '_').replace(' ', '_')}.nir"
    nir.write(str(path), export_nir(cfg, variables, shape, **options))
    x_nir = np.broadcast_to(np.asarray(x).transpose(0, 3, 1, 2), (T, B) + (shape[2], shape[0], shape[1]))
    return path, np.ascontiguousarray(x_nir, np.float32), expected


# ------------------------------------------------------------------------------------------------
# Running NIR files in the peers
# ------------------------------------------------------------------------------------------------


def _run_spikingjelly(path, x_seq):
    """SpikingJelly's ``import_from_nir(path)`` with its defaults, all examples at once."""
    with _quiet():
        net = sj_import(str(path))
        state, outputs = None, []
        for x_t in torch.from_numpy(x_seq):
            out, state = net(x_t, state)
            outputs.append(out.detach().numpy())
    membranes = {name: s[0].detach().numpy() for name, s in state.items() if isinstance(s, tuple) and s}
    return np.stack(outputs), membranes


def _run_snntorch(path, x_seq, whole_batch=False):
    """snnTorch's ``import_from_nir(graph)``, one example at a time (its Flatten flattens the batch axis)."""
    with _quiet():
        net = snntorch_import(nir.read(str(path)))
        leaky = {name: m for name, m in net.named_modules() if isinstance(m, snntorch.Leaky)}
        if whole_batch:  # what a user would try first
            snntorch_utils.reset(net)
            out = np.stack([net(torch.from_numpy(x_t))[0].detach().numpy() for x_t in x_seq])
            return out, {name: m.mem.detach().numpy() for name, m in leaky.items()}
        outputs, membranes = [], {name: [] for name in leaky}
        for b in range(x_seq.shape[1]):
            snntorch_utils.reset(net)
            steps = [net(torch.from_numpy(x_t[b]))[0].detach().numpy() for x_t in x_seq]
            outputs.append(np.stack(steps))
            for name, m in leaky.items():
                membranes[name].append(m.mem.detach().numpy())
    return np.stack(outputs, axis=1), {name: np.stack(v) for name, v in membranes.items()}


def _run_norse(path, x_seq):
    """Norse's ``from_nir(graph, dt=1e-4)`` (its default is 1e-3), one example at a time as snnTorch's.

    Norse keeps its state outside the module; its final membranes are not compared (None). A node
    Norse maps to no module is dropped from the graph, which then runs from whichever input node
    comes first in a set (it changes with Python's hash seed): that is reported as a failure.
    """
    from norse.torch.utils.import_nir import _import_norse_module

    graph = nir.read(str(path))
    with _quiet():
        dropped = [
            f"{type(node).__name__} ({name!r})"
            for name, node in graph.nodes.items()
            if not isinstance(node, (nir.Input, nir.Output)) and _import_norse_module(node, dt=1e-4) is None
        ]
    if dropped:
        raise NotImplementedError(f"Norse maps no module for {', '.join(dropped)}; the graph runs without them")
    with _quiet():
        net = norse_import(graph, dt=1e-4)
        outputs = []
        for b in range(x_seq.shape[1]):
            state, steps = None, []
            for x_t in x_seq:
                out, state = net(torch.from_numpy(x_t[b]), state)
                steps.append(out.detach().numpy())
            outputs.append(np.stack(steps))
    return np.stack(outputs, axis=1), None


RUNNERS = {"SpikingJelly": _run_spikingjelly, "snnTorch": _run_snntorch, "Norse": _run_norse}
WHOLE_BATCH = " (whole batch at once)"  # a net-name suffix: the peer runs all examples in one call


def _compare(out, membranes, expected_out, expected_membranes):
    """'same spikes' when the outputs are equal and the membranes agree to float32 rounding."""
    if np.shape(out) != np.shape(expected_out):
        return {"result": "differs", "detail": f"output shape {np.shape(out)}, expected {np.shape(expected_out)}"}
    spikes_differ = int((np.asarray(out) != np.asarray(expected_out)).sum())
    if spikes_differ:
        return {"result": "differs", "detail": f"{spikes_differ} of {np.size(expected_out)} output spikes differ"}
    if membranes is None:
        return {"result": "same spikes", "detail": "membranes not compared"}
    worst = max(float(np.abs(membranes[k] - expected_membranes[k]).max()) for k in expected_membranes)
    if worst > MEMBRANE_ATOL:
        return {"result": "differs", "detail": f"same spikes, membranes differ by up to {worst:.2g}"}
    return {"result": "same spikes", "detail": ""}


@functools.cache
def export_outcome(peer: str, net: str, tmp: str) -> dict:
    """snnjax → ``peer``: the peer reads snnjax's default export with its own defaults."""
    whole_batch = net.endswith(WHOLE_BATCH)
    path, x_seq, expected = _snnjax_export(net.removesuffix(WHOLE_BATCH), tmp)
    try:
        out, membranes = RUNNERS[peer](path, x_seq, **({"whole_batch": True} if whole_batch else {}))
    except Exception as error:  # noqa: BLE001 - a peer's refusal, whatever its type, is the outcome
        return {"result": "peer fails", "detail": _first_line(error)}
    graph = nir.read(str(path))
    reference = _neuron_membranes(graph, jnp.asarray(x_seq), float(graph.metadata["dt"]))
    assert membranes is None or set(membranes) == set(reference), (sorted(membranes), sorted(reference))
    return _compare(out, membranes, expected, reference)


# ------------------------------------------------------------------------------------------------
# Peer nets exported by the peers
# ------------------------------------------------------------------------------------------------


def _seeded_weights(module, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_((torch.rand(p.shape, generator=generator) - 0.45) * 0.8)  # a little excitatory: the nets fire


def _spikingjelly_net(net):
    lif = lambda: sj_neuron.LIFNode(tau=4.0, decay_input=False, v_threshold=0.5, v_reset=0.0)  # noqa: E731
    if net == "dense":
        layers = [sj_layer.Linear(32, 20), lif(), sj_layer.Linear(20, 10), lif()]
    else:
        node = (lambda: sj_neuron.IFNode(v_threshold=0.5, v_reset=0.0)) if net == "IF" else lif
        layers = [sj_layer.Conv2d(1, 4, 3, padding=1), node(), sj_layer.AvgPool2d(2), sj_layer.Flatten(),
                  sj_layer.Linear(100, 20), node(), sj_layer.Linear(20, 10), node()]  # fmt: skip
    module = torch.nn.Sequential(*layers)
    _seeded_weights(module, 0)
    return module


def _snntorch_net(net):
    def leaky(shape):
        beta = torch.full(shape, 1.0 if net == "IF" else 0.75)  # snnTorch has no IF: Leaky without a leak
        reset = "subtract" if "subtraction" in net else "zero"
        return snntorch.Leaky(beta=beta, threshold=torch.full(shape, 0.5), init_hidden=True, reset_mechanism=reset,
                              reset_delay=False)  # the reset in the step that fires, as NIR's (and its importer's)

    if net.startswith("dense"):
        layers = [torch.nn.Linear(32, 20), leaky((20,)), torch.nn.Linear(20, 10), leaky((10,))]
    else:
        layers = [torch.nn.Conv2d(1, 4, 3, padding=1), leaky((4, 10, 10)), torch.nn.AvgPool2d(2),
                  torch.nn.Flatten(start_dim=0), torch.nn.Linear(100, 20), leaky((20,)), torch.nn.Linear(20, 10),
                  leaky((10,))]  # fmt: skip
    module = torch.nn.Sequential(*layers)
    _seeded_weights(module, 1)
    return module


def _norse_net(net):
    def cell(n):  # tau = 4e-4 s; per-neuron parameters unless asked (nir.write fails on Norse's scalars)
        shape = () if "scalar" in net else (n,)
        return LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full(shape, 1 / 4e-4), v_th=torch.full(shape, 0.5),
                                           v_leak=torch.zeros(shape), v_reset=torch.zeros(shape)))

    module = SequentialState(torch.nn.Linear(32, 20), cell(20), torch.nn.Linear(20, 10), cell(10))
    _seeded_weights(module, 3)
    return module


NETS = {"SpikingJelly": _spikingjelly_net, "snnTorch": _snntorch_net, "Norse": _norse_net}


def _peer_input(net):
    shape = (32,) if net.startswith("dense") else (1, 10, 10)
    x = torch.rand((B,) + shape, generator=torch.Generator().manual_seed(2))
    return x.expand((T,) + x.shape).contiguous()


def _peer_run(peer, module, x_seq):
    """The peer net's own output spikes [T, B, K] and final membranes {NIR node name: [B, ...]}."""
    if peer == "Norse":  # spikes only: Norse's state is a tuple per cell
        outputs = []
        for b in range(x_seq.shape[1]):
            state, steps = None, []
            for x_t in x_seq:
                out, state = module(x_t[b], state)
                steps.append(out)
            outputs.append(torch.stack(steps).detach().numpy())
        return np.stack(outputs, axis=1), None
    neuron_types = (sj_neuron.BaseNode,) if peer == "SpikingJelly" else (snntorch.Leaky,)
    names = [name for name, m in module.named_children() if isinstance(m, neuron_types)]
    if peer == "SpikingJelly":
        sj_functional.reset_net(module)
        out = torch.stack([module(x_t) for x_t in x_seq]).detach().numpy()
        return out, {name: getattr(module, name).v.detach().numpy() for name in names}
    outputs, membranes = [], {name: [] for name in names}
    for b in range(x_seq.shape[1]):  # unbatched, as exported (see _export_from_peer)
        snntorch_utils.reset(module)
        outputs.append(torch.stack([module(x_t[b]) for x_t in x_seq]).detach().numpy())
        for name in names:
            membranes[name].append(getattr(module, name).mem.detach().numpy())
    return np.stack(outputs, axis=1), {name: np.stack(v) for name, v in membranes.items()}


def _export_from_peer(peer, module, x_seq, path):
    if peer == "SpikingJelly":
        graph = sj_export(module, x_seq[0])
    elif peer == "Norse":  # at its default dt, 1e-3
        graph = norse_export(module, x_seq[0, 0])
    else:  # snnTorch 1.0 fails its own type check with a batch axis: export one unbatched example
        graph = snntorch_export(module, x_seq[0, 0])
    nir.write(str(path), graph)
    return nir.read(str(path))


@functools.cache
def import_outcome(peer: str, net: str, tmp: str) -> dict:
    """``peer`` → snnjax: ``import_nir(graph)`` with snnjax's defaults reads the peer's export."""
    with _quiet(), torch.no_grad():
        module = NETS[peer](net)
        x_seq = _peer_input(net)
        try:
            graph = _export_from_peer(peer, module, x_seq, Path(tmp) / f"{peer}_{net}.nir")
        except Exception as error:  # noqa: BLE001
            return {"result": "peer's export fails", "detail": _first_line(error)}
        expected, expected_membranes = _peer_run(peer, module, x_seq)
    assert 0 < expected.mean() < 1, f"{peer} {net}: the reference net must fire, but not everywhere"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            apply_fn, params = import_nir(graph)
        except ValueError as error:
            return {"result": "refused", "detail": _first_line(error)}
    assert any("assuming dt = 0.0001 s" in str(w.message) for w in caught), "the assumed dt must be named"
    x = jnp.asarray(x_seq.numpy())
    out = np.asarray(apply_fn(params, x))
    membranes = _neuron_membranes(graph, x, 1e-4)  # in chain order, as the peer's modules
    if expected_membranes is None:
        return _compare(out, None, expected, None)
    assert len(membranes) == len(expected_membranes), (list(membranes), list(expected_membranes))
    peer_membranes = dict(zip(membranes, expected_membranes.values(), strict=True))
    return _compare(out, membranes, expected, peer_membranes)


# ------------------------------------------------------------------------------------------------
# The tests
# ------------------------------------------------------------------------------------------------

# What must hold at the default settings (issue 36); every other outcome is recorded and documented.
MUST_AGREE = [("SpikingJelly", "dense"), ("SpikingJelly", "conv"), ("SpikingJelly", "IF"),
              ("snnTorch", "dense"), ("snnTorch", "conv")]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return str(tmp_path_factory.mktemp("nir_interop"))


@pytest.mark.slow
@pytest.mark.parametrize("peer,net", MUST_AGREE)
def test_peer_reads_snnjax_default_export_with_identical_spikes(peer, net, tmp):
    assert export_outcome(peer, net, tmp) == {"result": "same spikes", "detail": ""}


@pytest.mark.slow
@pytest.mark.parametrize("peer,net", [(p, n) for p in PEERS for n in PEER_NETS if (p, n) != ("snnTorch", "IF")])
def test_snnjax_reads_peer_default_export_with_identical_spikes(peer, net, tmp):
    assert import_outcome(peer, net, tmp) == {"result": "same spikes", "detail": ""}


def _all_outcomes(tmp) -> dict:
    rows = []
    for peer in RUNNERS:
        for net in tuple(SNNJAX_NETS) + EXTRA_NETS.get((peer, "snnjax → peer"), ()):
            rows.append({"peer": peer, "direction": "snnjax → peer", "net": net, **export_outcome(peer, net, tmp)})
        for net in (PEER_NETS if peer in PEERS else ()) + EXTRA_NETS.get((peer, "peer → snnjax"), ()):
            rows.append({"peer": peer, "direction": "peer → snnjax", "net": net, **import_outcome(peer, net, tmp)})
    return {"versions": _versions(), "rows": rows}


def render_table(results: dict) -> str:
    """docs/nir.md's table: one line per peer, direction and net, from ``tests/nir_interop.json``."""
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines = [
        f"Generated by tests/io/test_nir_interop.py ({versions}; CPU).",
        "",
        "| Peer | Direction | Net | Result | Detail |",
        "|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        detail = row["detail"].replace("|", "\\|")
        lines.append(f"| {row['peer']} | {row['direction']} | {row['net']} | {row['result']} | {detail} |")
    return "\n".join(lines)


def test_compatibility_page_is_what_the_peers_do(tmp):
    results = _all_outcomes(tmp)
    head, rest = PAGE.read_text().split(BEGIN)
    _, tail = rest.split(END)
    rendered = f"{head}{BEGIN}\n{render_table(results)}\n{END}{tail}"
    if os.environ.get("SNNJAX_WRITE_NIR_INTEROP") == "1":
        RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        PAGE.write_text(rendered)
    recorded = json.loads(RESULTS.read_text())
    changed = [(old, new) for old, new in zip(recorded["rows"], results["rows"]) if old != new]
    assert recorded == results, f"the peers behave differently (regenerate, module docstring): {changed}"
    _, rest = PAGE.read_text().split(BEGIN)
    assert rest.split(END)[0] == f"\n{render_table(recorded)}\n", "docs/nir.md's table is not tests/nir_interop.json's"
