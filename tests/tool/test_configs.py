"""Every experiment config in ``configs/``: it loads, it is locked, its model builds and trains a step.

Configs are discovered with a glob, and each is loaded with every ``arg`` it documents (its ``ARGS``
tuple) and with none. For each (config, arg):

- it loads, is locked (adding a key fails), passes ``snnjax.tool.validate.check_config`` (every key known,
  every name registered), takes a bad ``arg`` as an error, and its docstring holds the command;
- with ``data`` replaced by the ``random`` dataset of the config's real input shape and class count
  (the generated adding / copy-memory tasks are used as they are), ``validate.check_with_data``
  accepts it and ``jax.eval_shape`` traces init → forward → loss → ``jax.grad`` at batch 2 and full
  size (128×128 DVS frames, 784-step sequences included): shapes, output counts, parameter counts;
- a real forward + loss + ``jax.grad`` with finite values runs on the config with batch 2 and its
  conv/dense widths shrunk (8 channels, 16 units; time steps, input shapes, sequence lengths and
  every switch kept). Compiling each config takes seconds on a CPU, so by default this runs for a
  subset of the configs chosen greedily so that every switch value any config uses (neuron kind,
  surrogate, BPTA, norm, OSSA form, local heads, encoder, readout, loss, recurrence, input layout...)
  is exercised at least once; ``SNNJAX_TEST_ALL_CONFIGS=1`` runs it for every (config, arg).

Paper-specific defaults (batch sizes, T, constants, parameter counts, text-vs-code differences) are
checked by name at the end, so that a wrong default fails a test.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jitted
import ml_collections
import numpy as np
import pytest

from snnjax import data as data_lib
from snnjax import losses
from snnjax.tool import validate
from snnjax.data.neuromorphic import EVENT_SETS, SHD_CHANNELS, SHD_CLASSES

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # configs/ is a package at the repository root, as train.py sees it
    sys.path.insert(0, str(REPO))

CONFIG_FILES = sorted(
    p for p in (REPO / "configs").glob("*.py") if p.stem != "__init__" and not p.stem.endswith("common")
)
IMAGE_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "mnist_small": (28, 28, 1), "cifar10": (32, 32, 3)}
GENERATED = ("adding", "copy_memory")
RUN_ALL = os.environ.get("SNNJAX_TEST_ALL_CONFIGS", "") not in ("", "0")
# Compiling for a quick test: XLA's backend optimisations cost more time than they save here.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _module(stem: str):
    return importlib.import_module(f"configs.{stem}")


def _cases() -> list[tuple[str, str | None]]:
    cases = []
    for path in CONFIG_FILES:
        cases.append((path.stem, None))
        cases += [(path.stem, a) for a in getattr(_module(path.stem), "ARGS", ())]
    return cases


CASES = _cases()


def _id(case) -> str:
    stem, arg = case
    return stem if arg is None else f"{stem}:{arg}"


@functools.cache
def _config(stem: str, arg: str | None) -> ml_collections.ConfigDict:
    return _module(stem).get_config(arg)


def _fresh(stem: str, arg: str | None) -> ml_collections.ConfigDict:
    """An unlocked copy, free to shrink."""
    return ml_collections.ConfigDict(_config(stem, arg).to_dict())


# --------------------------------------------------------------------------- data stand-ins


def _stand_in_data(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``cfg.data`` replaced by the ``random`` set of the same shape and classes (generated tasks kept)."""
    d = cfg.data
    if d.name in GENERATED:
        return d
    if d.name in IMAGE_SHAPES:
        shape, classes = IMAGE_SHAPES[d.name], 10
    elif d.name == "shd":
        shape, classes = (int(d.time_bins), SHD_CHANNELS), SHD_CLASSES
    elif d.name in EVENT_SETS:
        width, height, polarities = EVENT_SETS[d.name].sensor_size
        shape, classes = (int(d.time_bins), height, width, polarities), EVENT_SETS[d.name].num_classes
    else:
        raise AssertionError(f"tests/tool/test_configs.py knows no input shape for dataset {d.name!r}")
    stand_in = ml_collections.ConfigDict(d.to_dict())
    stand_in.update(name="random", shape=shape, num_classes=classes, num_train=8, num_test=8, augment="none")
    return stand_in


def _batch(cfg: ml_collections.ConfigDict, batch: int = 2):
    dataset = data_lib.load(cfg.data)
    x, y = dataset.train.get(np.arange(batch))
    return dataset, jnp.asarray(x), jnp.asarray(y)


def _step_fn(model, loss_cfg, x, y):
    """``key -> (params, output, loss, grads)``: init, a train-mode forward, the loss, its gradient."""

    def fn(key):
        k_params, k_dropout, k_encoder = jax.random.split(key, 3)
        rngs = {"dropout": k_dropout, "encoder": k_encoder}
        variables = model.init({"params": k_params, **rngs}, x, train=False)

        def loss_fn(params):
            output, _ = model.apply(
                {"params": params, "batch_stats": variables.get("batch_stats", {})},
                x,
                train=True,
                rngs=rngs,
                mutable=["batch_stats"],
            )
            loss, _ = losses.total_loss(output, y, loss_cfg.name, float(loss_cfg.local_weight), loss_cfg.reduction)
            return loss, output

        (loss, output), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
        return variables["params"], output, loss, grads

    return fn


def _prepare(cfg: ml_collections.ConfigDict):
    """Stand-in data, the model (through ``validate.check_with_data``) and a batch of 2."""
    cfg.data = _stand_in_data(cfg)
    cfg.train.batch_size = 2
    cfg.train.eval_batch_size = 2
    validate.check_config(cfg)
    dataset, x, y = _batch(cfg)
    model = validate.check_with_data(cfg, dataset)
    return model, dataset, x, y


def _param_count(params) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


def _expected_time_steps(cfg, x) -> int:
    m = cfg.model
    if m.encoder in ("direct", "rate"):
        return int(m.time_steps)
    if m.encoder in ("pixel", "permuted_pixel"):
        return int(np.prod(x.shape[1:3]))
    return int(x.shape[1])  # sequence


def _signature(cfg: ml_collections.ConfigDict) -> str:
    """What the traced step depends on: the model, the loss and the (stand-in) data's shapes."""
    d = _stand_in_data(cfg)
    data = {k: d[k] for k in ("name", "shape", "num_classes", "seq_len", "time_bins")}
    return repr((cfg.model.to_dict(), cfg.loss.to_dict(), data))


class Trace(NamedTuple):
    """A config's step traced at full size: the stand-in data, a batch, and the step's shapes."""

    cfg: ml_collections.ConfigDict
    dataset: Any
    x: jax.Array
    params: Any
    output: Any
    loss: Any
    grads: Any


_TRACES: dict[str, Trace] = {}


def _abstract(stem: str, arg: str | None) -> Trace:
    """Shapes of ``_step_fn`` at full size, via ``jax.eval_shape``.

    Configs that differ only in what the step does not see (optimiser, epochs, seed, dataset files)
    share one trace.
    """
    cfg = _fresh(stem, arg)
    key = _signature(cfg)
    if key not in _TRACES:
        model, dataset, x, y = _prepare(cfg)
        shapes = jax.eval_shape(_step_fn(model, cfg.loss, x, y), jax.random.PRNGKey(0))
        _TRACES[key] = Trace(cfg, dataset, x, *shapes)
    return _TRACES[key]._replace(cfg=cfg)


# --------------------------------------------------------------------------- shrinking for real runs


def shrink_spec(spec: str, channels: int = 8, units: int = 16) -> str:
    """The same layer sequence with every conv at ``channels`` and every hidden dense layer at
    ``units``; the output layer (and the voting pair ``M-N``) is kept."""
    tokens = spec.split("-")
    keep = {len(tokens) - 1}
    if len(tokens) > 1 and tokens[-2].isdigit() and tokens[-1].isdigit():
        keep.add(len(tokens) - 2)  # "100-10": the voting layer and its classes
    out = []
    for i, tok in enumerate(tokens):
        conv = re.fullmatch(r"(\d+)c(\d+)", tok)
        if conv:
            out.append(f"{channels}c{conv.group(2)}")
        elif tok.isdigit() and i not in keep:
            out.append(str(units))
        else:
            out.append(tok)
    return "-".join(out)


def _shrunk(stem: str, arg: str | None) -> ml_collections.ConfigDict:
    cfg = _fresh(stem, arg)
    if cfg.model.arch == "conv":
        cfg.model.spec = shrink_spec(cfg.model.spec)
    else:
        cfg.model.hidden = tuple(min(int(h), 16) for h in cfg.model.hidden)
    return cfg


def _features(cfg: ml_collections.ConfigDict) -> set:
    """The switch values a config exercises; real runs cover every value some config uses."""
    m, n = cfg.model, cfg.model.neuron
    f = {
        ("arch", m.arch),
        ("kind", n.kind),
        ("surrogate", n.surrogate),
        ("bpta", float(n.bpta_alpha) > 0),
        ("decay_input", n.decay_input),
        ("detach_reset", n.detach_reset),
        ("reset", n.reset),
        ("encoder", m.arch, m.encoder),
        ("readout", m.readout),
        ("loss", cfg.loss.name, cfg.loss.reduction),
    }
    if m.arch == "conv":
        tokens = set(re.sub(r"\d+", "#", m.spec).split("-"))
        f |= {
            ("norm", m.norm, m.llc_bn_leak if m.norm == "llc_bn" else None),
            ("relu", m.relu_before_neuron),
            ("ossa", (m.ossa_form, m.ossa_onset, float(m.ossa_attn_dropout) > 0) if m.ossa else None),
            ("local_heads", m.local_heads, m.local_detach),
            # the released-code switches (docs/papers.md §1.7, §2.7)
            ("trunk_calls", m.trunk_calls, m.first_neuron),
            ("dense", m.dense_bias, m.dense_relu, m.dropout_site),
            ("conv_bias", m.conv_bias),
            ("norm_stats", m.norm_stats, m.static_norm_updates),
        }
        f |= {("token", t) for t in tokens}
    else:
        f.add(("recurrent", bool(m.recurrent_layers)))
    return f


def _compile_cost(cfg: ml_collections.ConfigDict) -> float:
    """A rough relative compile time, so that the cover prefers small nets."""
    m = cfg.model
    if m.arch != "conv":
        return 3 + len(m.hidden) + 3 * len(m.recurrent_layers)
    cost = len(m.spec.split("-")) + 3 * (m.norm == "llc_bn") + 3 * (m.local_heads != "none")
    if m.ossa:
        cost += 4 + (len(m.spec.split("-")) if m.ossa_onset == "separate" else 0)
    return cost


def _covering(cases) -> list:
    """A small, cheap set of cases whose features cover every feature of ``cases`` (greedy set
    cover: most new features per unit of compile cost first)."""
    unique = {}
    for case in cases:  # one case per distinct model/loss/data signature
        unique.setdefault(_signature(_fresh(*case)), case)
    features = {case: _features(_config(*case)) for case in unique.values()}
    cost = {case: _compile_cost(_config(*case)) for case in unique.values()}
    wanted = set().union(*features.values())
    todo, chosen = set(wanted), []
    while todo:
        best = max(features, key=lambda c: (len(features[c] & todo) / cost[c], len(features[c] & todo), c[1] is None))
        chosen.append(best)
        todo -= features[best]
    for case in sorted(chosen, key=cost.get, reverse=True):  # drop cases the others make redundant
        others = [c for c in chosen if c != case]
        if others and set().union(*(features[c] for c in others)) == wanted:
            chosen = others
    return chosen


REAL_CASES = CASES if RUN_ALL else _covering(CASES)


# --------------------------------------------------------------------------- every config


def test_configs_are_discovered():
    stems = {p.stem for p in CONFIG_FILES}
    assert {"llc_lif_mnist", "bpsa_mnist", "ce_lif_seq_mnist", "smoke_llc_lif", "smoke_bpsa", "smoke_ce_lif"} <= stems
    for stem in stems:
        assert hasattr(_module(stem), "get_config"), f"configs/{stem}.py defines no get_config"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_config_loads_locked_and_valid(case):
    stem, arg = case
    cfg = _config(stem, arg)
    assert isinstance(cfg, ml_collections.ConfigDict)
    if not cfg.is_locked:  # lockable, as the training job locks it
        cfg = _fresh(stem, arg)
        cfg.lock()
    with pytest.raises((AttributeError, KeyError)):
        cfg.model.not_a_key = 1
    with pytest.raises((AttributeError, KeyError)):
        cfg.optim.lerning_rate = 1e-3
    validate.check_config(cfg)
    # Loading twice gives the same config (no state shared between calls).
    assert _module(stem).get_config(arg).to_dict() == cfg.to_dict()


@pytest.mark.parametrize("stem", [p.stem for p in CONFIG_FILES])
def test_docstring_has_command_and_args_resolve(stem):
    module = _module(stem)
    doc = module.__doc__ or ""
    assert f"python train.py --config configs/{stem}.py" in doc, (
        f"configs/{stem}.py: put the run command in its docstring"
    )
    assert "--workdir runs/" in doc
    args = getattr(module, "ARGS", ())
    if args:  # no arg = the first documented one
        assert module.get_config(None).to_dict() == module.get_config(args[0]).to_dict()
    if stem != "smoke":  # configs/smoke.py belongs to the training-loop developer
        with pytest.raises(ValueError):
            module.get_config("no_such_variant")


# Trainable parameters of every llc-lif and bpsa config (the CE-LIF ones are pinned against Table 1
# below), derived by hand. Conv 3×3 C→F: 9·C·F, +F with a bias (bpsa _code); (LLC-)BN: λ, β = 2F,
# +1 for LLC-BN's own leak w; dense N→M: N·M, +M with a bias (all but llc-lif _code); one leak a per
# LLC-LIF layer; LIF has none. "Same" convs, floor pooling.
PARAM_COUNTS = {
    # llc-lif text, 28×28×1, LLC-BN sharing the LLC-LIF leak, OSSA text (three 1×1 convs C→C + bias
    # and three leaks: 49,539), local heads per conv: convs 1,152 + 147,456; LLC-BN 2·256; leaks 2;
    # fc 6272·2048 + 2048 + leak, 2048·100 + 100 + leak; local0 100352·100 + 100 + leak, local1
    # 25088·100 + 100 + leak (the conv1 block's 128×14×14 output) → 25,794,869.
    "llc_lif_mnist": 25_794_869,
    "llc_lif_fashion_mnist": 25_794_869,
    # llc-lif _code (the released net, 24,029,743): static conv 1,152 + LLC-BN 257; two first LIF
    # leaks; OSSA code Q, K 128→16 + bias, V 128→128 + bias, three leaks, γ: 20,644; the onset and the
    # later block each conv 147,456 + LLC-BN 257 + leak; fc 6272·2048 + leak, 2048·100 + leak; local
    # heads 100352·100 + leak and 6272·100 + leak (no Linear bias anywhere).
    "llc_lif_mnist_code": 24_029_743,
    "llc_lif_fashion_mnist_code": 24_029_743,
    # llc-lif text CIFAR-10, 32×32×3: convs 6,912 + 5·589,824; LLC-BN 6·512; leaks 6; OSSA text
    # 3·(256·256 + 256) + 3; fc 16384·2048 + 2048 + 1, 2048·100 + 100 + 1; six local heads,
    # 3·(262144·100 + 100 + 1) + 3·(65536·100 + 100 + 1) → 135,222,477.
    "llc_lif_cifar10": 135_222_477,
    # llc-lif _code CIFAR-10: static conv 6,912 + 513; 2 first leaks; OSSA code 256→32 (×2), 256→256
    # + biases, 3 leaks, γ: 82,244; onset and later blocks 5·(589,824 + 513 + 1) each; fc 16384·2048
    # + 1, 2048·100 + 1; local heads 262144·100 + 1 and 16384·100 + 1 → 67,605,087.
    "llc_lif_cifar10_code": 67_605_087,
    # bpsa small net on 28×28×1: convs 1,152 + 147,456 + 294,912; BN 2·512; fc 12544·4096 + 4096 +
    # 4096·100 + 100 → 52,238,564; _code: + conv biases 128 + 128 + 256 → 52,239,076 (the released
    # net with its first Linear read as 12544 → 4096).
    "bpsa_mnist": 52_238_564,
    "bpsa_fashion_mnist": 52_238_564,
    "bpsa_mnist_code": 52_239_076,
    # bpsa middle net on 32×32×3: convs 3,456 + 147,456 + 294,912 + 1,179,648; BN 2·1024; 512
    # features: 512·512 + 512 + 512·100 + 100 → 1,941,476. On 34×34×2 (N-MNIST): first conv 2,304 →
    # 1,940,324.
    "bpsa_cifar10": 1_941_476,
    "bpsa_nmnist": 1_940_324,
    # bpsa _code CIFAR-10 (released 128c3-128c3-mp2-128c3-mp2-256c3-mp2-512c3-ap4-100-10): convs
    # 3,456 + 2·147,456 + 294,912 + 1,179,648 + biases 1,152; BN 2·1,152; 512·100 + 100 → 1,827,684.
    "bpsa_cifar10_code": 1_827_684,
    # bpsa _code N-MNIST (128c3-mp2-128c3-mp2-256c3-ap2-512c3-ap4-dp-100-10): convs 2,304 + 147,456 +
    # 294,912 + 1,179,648 + biases 1,024; BN 2·1,024; 512·100 + 100 → 1,678,692.
    "bpsa_nmnist_code": 1_678_692,
    # bpsa large net on 128×128×2: convs 2,304 + 2·147,456 + 294,912 + 1,179,648 + 4,718,592; BN
    # 2·2,176; 2×2×1024 = 4096 features: 4096·1024 + 1024, then 1024·110 + 110 (DVS-Gesture, 11
    # classes) or 1024·100 + 100 → 10,802,798 / 10,792,548.
    "bpsa_dvs_gesture": 10_802_798,
    "bpsa_cifar10_dvs": 10_792_548,
    # bpsa _code DVS nets (s2 to 64×64, no 1024FC): the same convs + biases 2,176; BN 2·2,176; 1024
    # features: 1024·110 + 110 or 1024·100 + 100 → 6,609,646 / 6,599,396.
    "bpsa_dvs_gesture_code": 6_609_646,
    "bpsa_cifar10_dvs_code": 6_599_396,
}
ABLATION_COUNTS = {  # llc_lif_ablation rows, against "full" (25,794,869)
    "full": 25_794_869,
    "no_llc_lif": 25_794_865,  # LIF: −6 leaks (conv, fc, local; OSSA keeps LLC-LIF), LLC-BN gets its own w: +2
    "no_local": 13_250_667,  # − the two local heads (10,035,301 + 2,508,901)
    "no_llc_bn": 25_794_869,  # BN has λ, β too
    "no_ossa": 25_745_330,  # − OSSA's 49,539
    "no_llc_bn_ossa": 25_745_330,
    "llc_lif_only": 13_201_128,  # − local heads − OSSA
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_model_builds_and_traces_at_full_size(case):
    trace = _abstract(*case)
    k = trace.dataset.num_classes
    t = _expected_time_steps(trace.cfg, trace.x)
    assert trace.output.out.shape == (t, 2, k)
    for local in trace.output.local_outs:
        assert local.shape == (t, 2, k)
    assert trace.loss.shape == () and trace.loss.dtype == jnp.float32
    assert jax.tree.structure(trace.grads) == jax.tree.structure(trace.params)
    stem, arg = case
    expected = ABLATION_COUNTS[arg or "full"] if stem == "llc_lif_ablation" else PARAM_COUNTS.get(stem)
    if stem.startswith(("llc_lif", "bpsa")):
        assert _param_count(trace.params) == expected, f"configs/{stem}.py: pin its count in PARAM_COUNTS"


def test_real_runs_cover_every_switch_value():
    covered = set().union(*(_features(_config(*c)) for c in REAL_CASES))
    wanted = set().union(*(_features(_config(*c)) for c in CASES))
    assert covered == wanted
    assert len(REAL_CASES) <= 16 or RUN_ALL  # keep this file quick


@pytest.mark.slow
@pytest.mark.parametrize("case", REAL_CASES, ids=_id)
def test_shrunk_step_is_finite(case):
    cfg = _shrunk(*case)
    model, _, x, y = _prepare(cfg)
    lowered = jax.jit(_step_fn(model, cfg.loss, x, y)).lower(jax.random.PRNGKey(0))
    try:
        compiled = lowered.compile(compiler_options=FAST_COMPILE)
    except Exception:  # noqa: BLE001 -- an XLA that lacks these options: compile normally
        compiled = lowered.compile()
    _, output, loss, grads = compiled(jax.random.PRNGKey(0))
    assert np.isfinite(float(loss)), f"{_id(case)}: loss {loss}"
    assert np.all(np.isfinite(np.asarray(output.out)))
    bad = [
        jax.tree_util.keystr(p)
        for p, g in jax.tree_util.tree_leaves_with_path(grads)
        if not np.all(np.isfinite(np.asarray(g)))
    ]
    assert not bad, f"{_id(case)}: non-finite gradients in {bad}"
    assert output.out.shape[1] == 2


@pytest.mark.slow
def test_command_line_loading_with_arg_and_override():
    """As ``train.py`` loads a config: a file path with ``:arg``, overrides, run from the repository root."""
    code = (
        "import sys\n"
        "from absl import flags\n"
        "from ml_collections import config_flags\n"
        "c = config_flags.DEFINE_config_file('config', None, '', lock_config=True)\n"
        "flags.FLAGS(sys.argv)\n"
        "print(c.value.model.hidden, c.value.optim.learning_rate, c.value.model.neuron.bpta_alpha)\n"
    )
    argv = ["--config=configs/ce_lif_seq_mnist.py:88", "--config.optim.learning_rate=0.001"]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["(64,", "88,", "88)", "0.001", "0.0"]


# --------------------------------------------------------------------------- paper values


def _diff(a: ml_collections.ConfigDict, b: ml_collections.ConfigDict) -> set[str]:
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    fa, fb = flat(a.to_dict()), flat(b.to_dict())
    return {k for k in fa if fa[k] != fb[k]}


LLC_CODE_SWITCHES = {
    "model.spec",  # average pooling, a dropout before the first Linear
    "model.pool",
    "model.trunk_calls",
    "model.first_neuron",
    "model.dense_bias",
    "model.norm_stats",
    "model.encoder",
    "model.neuron.decay_input",
    "model.neuron.detach_reset",
    "model.llc_bn_leak",
    "model.ossa_form",
    "model.ossa_onset",
    "model.ossa_attn_dropout",
    "model.local_heads",
    "train.batch_size",
    "train.seed",
}


def test_llc_lif_text_values():
    for name in ("llc_lif_mnist", "llc_lif_fashion_mnist", "llc_lif_cifar10"):
        c = _config(name, None)
        assert (c.train.batch_size, c.model.time_steps, c.model.llc_bn_alpha) == (16, 8, 3.2)
        assert (c.model.encoder, c.model.norm, c.model.llc_bn_leak) == ("rate", "llc_bn", "shared")
        assert (c.model.ossa, c.model.ossa_form, c.model.local_heads) == (True, "text", "per_conv")
        assert (c.model.neuron.kind, c.model.neuron.decay_input) == ("llc_lif", False)
        assert (c.optim.name, c.optim.learning_rate, c.optim.schedule, c.optim.cosine_epochs) == (
            "adam",
            1e-3,
            "cosine",
            64,
        )
        assert (c.train.num_epochs, c.loss.name, c.loss.local_weight) == (200, "mse_rate", 1.0)
        assert c.model.spec.endswith("-2048-dp-100-10")
        assert c.data.data_dir is None and c.data.augment == "none"
    assert _config("llc_lif_fashion_mnist", None).data.name == "fashion_mnist"


def test_llc_lif_local_heads_per_conv_layer():
    assert len(_abstract("llc_lif_fashion_mnist", None).output.local_outs) == 2  # L154: n = conv layers
    assert len(_abstract("llc_lif_cifar10", None).output.local_outs) == 6
    assert len(_abstract("llc_lif_cifar10_code", None).output.local_outs) == 2  # the released code's two


@pytest.mark.parametrize("name", ["llc_lif_mnist", "llc_lif_fashion_mnist", "llc_lif_cifar10"])
def test_llc_lif_code_variants_change_only_the_code_switches(name):
    text, code = _config(name, None), _config(name + "_code", None)
    expected = LLC_CODE_SWITCHES | ({"data.augment"} if name == "llc_lif_mnist" else set())
    assert _diff(text, code) == expected
    assert (code.train.batch_size, code.train.seed, code.model.encoder) == (8, 2020, "direct")
    assert (code.model.neuron.surrogate, code.model.neuron.surrogate_param) == ("atan", 2.0)
    assert (code.model.ossa_form, code.model.ossa_onset, code.model.ossa_attn_dropout) == ("code", "separate", 0.1)


def test_llc_lif_ablation_rows():
    full = _config("llc_lif_ablation", "full")
    assert _diff(full, _config("llc_lif_fashion_mnist", None)) == set()
    expected = {
        "no_llc_lif": {"model.neuron.kind"},  # fixed leak: decay 0.5 is already the default
        "no_local": {"model.local_heads"},
        "no_llc_bn": {"model.norm"},
        "no_ossa": {"model.ossa"},
        "no_llc_bn_ossa": {"model.norm", "model.ossa"},
        "llc_lif_only": {"model.local_heads", "model.norm", "model.ossa"},
    }
    for row, keys in expected.items():
        c = _config("llc_lif_ablation", row)
        assert _diff(full, c) == keys, row
    c = _config("llc_lif_ablation", "no_llc_lif")
    assert (c.model.neuron.kind, c.model.neuron.decay) == ("lif", 0.5)
    assert _config("llc_lif_ablation", "no_llc_bn").model.norm == "bn"


def test_bpsa_text_values():
    c = _config("bpsa_mnist", None)
    n = c.model.neuron
    assert (c.model.time_steps, n.kind, n.decay, n.v_th, n.surrogate, n.bpta_alpha) == (
        16,
        "lif",
        0.9,
        0.5,
        "bpsa",
        0.8,
    )
    assert (c.model.relu_before_neuron, c.model.norm, c.model.encoder) == (True, "bn", "direct")
    assert (c.optim.name, c.optim.learning_rate, c.optim.schedule, c.train.num_epochs) == ("adamw", 1e-3, "sgdr", 300)
    assert c.optim.warmup_epochs > 0
    assert c.model.spec == "128c3-mp2-128c3-256c3-mp2-4096-dp-100-10"
    assert (c.loss.name, c.loss.reduction) == ("mse_rate", "sum")
    assert (
        _config("bpsa_mnist", "bpsa").model.neuron.surrogate,
        _config("bpsa_mnist", "bpsa").model.neuron.bpta_alpha,
    ) == ("bpsa", 0.0)
    base = _config("bpsa_mnist", "baseline").model.neuron
    assert (base.surrogate, base.bpta_alpha) == ("boxcar", 0.0)
    assert _config("bpsa_fashion_mnist", "baseline,4").model.time_steps == 4


BPSA_CODE_SWITCHES = {
    "model.neuron.bpta_alpha",
    "model.neuron.surrogate",
    "model.spec",
    "model.dense_relu",
    "model.dropout_site",
    "model.conv_bias",
    "model.norm_stats",
    "model.static_norm_updates",
    "loss.reduction",
    "optim.weight_decay",
    "optim.schedule",
}


def test_bpsa_code_values():
    text, code = _config("bpsa_mnist", None), _config("bpsa_mnist_code", None)
    assert _diff(text, code) == BPSA_CODE_SWITCHES
    assert (code.model.neuron.bpta_alpha, code.optim.weight_decay, code.optim.warmup_epochs, code.optim.schedule) == (
        0.2,
        1e-4,
        5,
        "cosine",
    )
    assert code.model.spec == "128c3-mp2-128c3-256c3-ap2-4096-dp-100-10"  # second pooling: AvgPool2d(2)
    assert (code.model.neuron.surrogate, code.loss.reduction) == ("bpsa_code", "mean")
    assert (code.model.dense_relu, code.model.dropout_site, code.model.conv_bias) == (True, "current", True)
    assert (code.model.norm_stats, code.model.static_norm_updates) == ("per_step", "per_step")
    baseline = _config("bpsa_mnist_code", "baseline").model.neuron
    assert (baseline.bpta_alpha, baseline.surrogate) == (0.0, "boxcar")  # BPTA stays off, STBP surrogate kept
    cifar = _config("bpsa_cifar10_code", None)
    assert (cifar.model.time_steps, cifar.train.num_epochs, cifar.model.neuron.bpta_alpha) == (8, 500, 0.2)
    assert cifar.model.spec == "128c3-128c3-mp2-128c3-mp2-256c3-mp2-512c3-ap4-100-10"
    assert _config("bpsa_cifar10", None).model.time_steps == 16
    for name in ("bpsa_nmnist", "bpsa_dvs_gesture", "bpsa_cifar10_dvs"):
        assert _diff(_config(name, None), _config(name + "_code", None)) == BPSA_CODE_SWITCHES, name
    assert _config("bpsa_dvs_gesture_code", None).model.spec.startswith("s2-")  # 128 → 64, as F.interpolate


@pytest.mark.parametrize(
    "name,frames,classes",
    [("bpsa_nmnist", (34, 34), 10), ("bpsa_dvs_gesture", (128, 128), 11), ("bpsa_cifar10_dvs", (128, 128), 10)],
)
def test_bpsa_neuromorphic(name, frames, classes):
    trace = _abstract(name, None)
    c = trace.cfg
    assert (c.model.encoder, c.data.time_bins, c.model.time_steps) == ("sequence", 16, 16)
    assert trace.x.shape == (2, 16, *frames, 2) and trace.dataset.num_classes == classes
    assert c.model.spec.endswith(f"-{10 * classes}-{classes}")
    assert trace.output.out.shape == (16, 2, classes)
    if name == "bpsa_dvs_gesture":  # Table 9's latency sweep: T frames
        assert _abstract(name, "bpsa_bpta,8").output.out.shape == (8, 2, classes)


def test_ce_lif_constants():
    c = _config("ce_lif_seq_mnist", None)
    n = c.model.neuron
    assert (n.kind, n.decay, n.rho, n.v_th, n.surrogate, n.surrogate_param) == ("ce_lif", 0.5, 0.99, 0.3, "boxcar", 0.2)
    assert (c.model.te_init_mean, c.model.te_init_std) == (0.01, 0.01)
    assert (c.train.batch_size, c.optim.learning_rate, c.optim.name) == (256, 5e-4, "adam")
    assert (c.model.encoder, c.model.readout, c.loss.name) == ("pixel", "mean", "cross_entropy")
    assert _config("ce_lif_ps_mnist", None).model.encoder == "permuted_pixel"
    copy = _config("ce_lif_copy_memory", None)
    assert (copy.optim.learning_rate, copy.train.num_steps, copy.model.readout, copy.loss.name) == (
        1e-3,
        5000,
        "per_step",
        "cross_entropy",
    )
    assert tuple(copy.model.hidden) == (64, 256, 256)
    assert _config("ce_lif_copy_memory", "50").data.seq_len == 50
    adding = _config("ce_lif_adding", "500")
    assert (adding.data.seq_len, adding.model.readout, adding.loss.name, tuple(adding.model.hidden)) == (
        500,
        "last",
        "mse_regression",
        (64, 256, 256),
    )


@pytest.mark.parametrize(
    "name,arg,expected",
    [
        ("ce_lif_seq_mnist", None, 153_962),  # Table 1: 153.9k
        ("ce_lif_seq_mnist", "88", 83_562),  # 83.5k
        ("ce_lif_ps_mnist", "88", 83_562),
        ("ce_lif_seq_mnist_recurrent", None, 181_378),  # 181.4k
        ("ce_lif_seq_mnist_recurrent", "136", 158_386),  # 158.3k
        ("ce_lif_seq_mnist_baseline", "lif", 85_130),  # LIF* 85.1k
        ("ce_lif_seq_mnist_baseline", "lif_rec", 155_082),  # LIF* recurrent 155.1k
    ],
)
def test_ce_lif_parameter_counts_of_table_1(name, arg, expected):
    trace = _abstract(name, arg)
    assert trace.x.shape == (2, 28, 28, 1)
    assert _param_count(trace.params) == expected
    assert trace.output.out.shape == (784, 2, 10)


def test_shrink_spec_keeps_structure():
    assert shrink_spec("128c3-p2-128c3-p2-2048-dp-100-10") == "8c3-p2-8c3-p2-16-dp-100-10"
    assert (
        shrink_spec("128c3-mp2-128c3-mp2-256c3-mp2-512c3-ap4-512-100-10") == "8c3-mp2-8c3-mp2-8c3-mp2-8c3-ap4-16-100-10"
    )
    assert shrink_spec("16c3-p2-10") == "8c3-p2-10"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,arg",
    [("ce_lif_seq_mnist", "88"), ("ce_lif_seq_mnist_recurrent", "136"), ("ce_lif_seq_mnist_baseline", "alif_rec")],
)
def test_ce_lif_gradients_are_finite_over_784_steps(name, arg):
    """At full length (784 steps) on real MNIST digits, the initial gradients are finite and of a
    sane size: an undetached reset or PyTorch-scale recurrent weights overflow here."""
    import importlib

    from snnjax import data, losses, models

    cfg = importlib.import_module(f"configs.{name}").get_config(arg)
    x, y = data.load(data.default_data_config()).train.get(np.arange(8))  # the shipped MNIST subset
    model = models.build_model(cfg.model, 10)
    variables = jitted.init(model, jax.random.PRNGKey(0), jnp.asarray(x), train=False)

    def loss(params):
        out = model.apply({"params": params}, jnp.asarray(x), train=True)
        return losses.cross_entropy(out.out, jnp.asarray(y))

    grads = jax.jit(jax.grad(loss))(variables["params"])
    largest = max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads))
    assert np.isfinite(largest) and largest < 10.0


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["llc_lif_fashion_mnist_code", "bpsa_mnist_code"])
def test_code_models_stay_in_float64(stem):
    """A float64 model of a ``_code`` config (shrunk widths, every switch kept) computes in float64
    throughout: every intermediate of the train and the eval forward, the running statistics and the
    loss (no hidden float32 casts)."""
    cfg = _shrunk(stem, None)
    cfg.model.time_steps = 3
    with jax.enable_x64(True):
        model, _, x, y = _prepare(cfg)
        x = x.astype(jnp.float64)
        rngs = {"dropout": jax.random.PRNGKey(1), "encoder": jax.random.PRNGKey(2)}
        variables = jitted.init(model, {"params": jax.random.PRNGKey(0), **rngs}, x, train=False)
        variables = jax.tree.map(lambda a: a.astype(jnp.float64), variables)
        floats = lambda tree: {jnp.dtype(a.dtype).name for a in jax.tree.leaves(tree) if jnp.issubdtype(a.dtype, jnp.floating)}
        for train in (True, False):
            output, state = jitted.apply(
                model, variables, x, train=train, rngs=rngs, capture_intermediates=True,
                mutable=["intermediates", "batch_stats"] if train else ["intermediates"],
            )
            assert floats(state["intermediates"]) == {"float64"}, (train, floats(state["intermediates"]))
            assert floats(output.out) == {"float64"} and floats(output.local_outs) <= {"float64"}
            loss, parts = losses.total_loss(output, y, cfg.loss.name, float(cfg.loss.local_weight), cfg.loss.reduction)
            assert loss.dtype == jnp.float64 and floats(parts) == {"float64"}
            if train:
                assert floats(state["batch_stats"]) == {"float64"}
