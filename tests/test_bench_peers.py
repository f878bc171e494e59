"""The JAX peers' benchmark (bench/peer_jaxpike.py, bench/peer_brainpy.py) and the jaxpike workload
of bench/workloads.py: the workload's shapes, snnjax's hand-composed net against a NumPy loop, and,
where jaxpike / BrainPy are installed (their venvs: bench/peers/setup_venvs.sh), the peers' nets
against snnjax's on the same weights. Speed is never asserted."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench import peer_jaxpike
from bench import workloads as wl

T, B = 12, 3


def _scaled(variables, gain: float = 4.0):
    """The variables with dense kernels ``gain`` times larger, so that both spiking layers fire at
    the test's 5 % input density (at init they barely do) and the comparisons see spikes."""
    params = dict(variables["params"])
    for name in ("dense0", "dense1", "dense2"):
        params[name] = {"kernel": params[name]["kernel"] * gain}
    return {"params": params}


def _numpy_net(variables, x: np.ndarray, lag: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """The SHD net stepped in NumPy (float64): ``m_t = β m_{t-1} + W x_t - s_{t-1}``,
    ``s_t = [m_t > 1]``, readout ``v_t = β v_{t-1} + W h_t``; ``lag`` emits ``s_{t-1}`` at step t."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables["params"])
    h, spikes = x.astype(np.float64), []
    for i in range(2):
        beta, w = np.clip(p[f"beta{i}"], 0, 1), p[f"dense{i}"]["kernel"]
        m = np.zeros((x.shape[1], w.shape[1]))
        s = np.zeros_like(m)
        out = []
        for t in range(x.shape[0]):
            m = beta * m + h[t] @ w - s
            emitted = s if lag else None
            s = (m > 1.0).astype(np.float64)
            out.append(emitted if lag else s)
        h = np.stack(out)
        spikes.append(h)
    beta, w = np.clip(p["beta_out"], 0, 1), p["dense2"]["kernel"]
    v, out = np.zeros((x.shape[1], w.shape[1])), []
    for t in range(x.shape[0]):
        v = beta * v + h[t] @ w
        out.append(v)
    return np.stack(out), spikes


@pytest.fixture(scope="module")
def batch():
    x, y = wl.shd_random_batch(T, B, seed=3)
    return x, y


def test_shd_batch_is_time_major_spikes_at_five_percent():
    x, y = wl.shd_random_batch(256, 64)
    assert x.shape == (256, 64, wl.SHD_INPUTS) and x.dtype == np.float32
    assert set(np.unique(x)) == {0.0, 1.0}
    assert abs(x.mean() - wl.SHD_DENSITY) < 0.003
    assert y.shape == (64,) and y.dtype == np.int32 and y.min() >= 0 and y.max() < wl.SHD_CLASSES
    assert wl.JAXPIKE_SHD_CASES == ((256, 256), (1024, 32))


@pytest.mark.slow
def test_hand_net_has_jaxpikes_parameters(batch):
    variables = wl.shd_hand_net().init(jax.random.PRNGKey(0), jnp.asarray(batch[0]))
    shapes = jax.tree.map(lambda a: a.shape, variables["params"])
    assert shapes == {"dense0": {"kernel": (128, 128)}, "dense1": {"kernel": (128, 128)},
                      "dense2": {"kernel": (128, 20)}, "beta0": (128,), "beta1": (128,), "beta_out": (20,)}
    assert sum(a.size for a in jax.tree.leaves(variables)) == 35_604  # no biases, β per neuron
    beta = np.asarray(variables["params"]["beta0"])
    assert 0.0 <= beta.min() and beta.max() <= 1.0 and abs(beta.mean() - 0.5) < 0.06


@pytest.mark.parametrize("lag", [False, True])
def test_hand_net_forward_equals_a_numpy_loop(batch, lag):
    x = batch[0]
    net = wl.shd_hand_net(lag=lag)
    variables = _scaled(net.init(jax.random.PRNGKey(1), jnp.asarray(x)))
    ours = np.asarray(jax.jit(net.apply)(variables, jnp.asarray(x)))
    expected, spikes = _numpy_net(variables, x, lag)
    assert 0.02 < spikes[0].mean() < 0.9 and 0.02 < spikes[1].mean() < 0.9  # both layers fire
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_lag_delays_the_first_layers_spikes_by_one_step(batch):
    x = jnp.asarray(batch[0])
    variables = _scaled(wl.shd_hand_net().init(jax.random.PRNGKey(1), x))
    _, now = _numpy_net(variables, batch[0], lag=False)
    _, lagged = _numpy_net(variables, batch[0], lag=True)
    np.testing.assert_array_equal(lagged[0][1:], now[0][:-1])
    np.testing.assert_array_equal(lagged[0][0], 0.0)


def test_spyx_arctan_surrogate_and_strict_threshold():
    spike = wl.shd_spike_fn()
    u = jnp.asarray([0.5, 1.0, 1.25, 0.9], jnp.float32)
    np.testing.assert_array_equal(spike(u, jnp.float32(1.0)), [0.0, 0.0, 1.0, 0.0])  # u > v_th
    grad = jax.grad(lambda u: spike(u, jnp.float32(1.0)).sum())(u)
    x = np.asarray(u, np.float64) - 1.0
    np.testing.assert_allclose(grad, 1.0 / (np.pi * (1.0 + (2.0 * np.pi * x) ** 2)), rtol=1e-5)


def test_hand_net_train_step_is_finite(batch):
    import optax

    x, y = (jnp.asarray(a) for a in batch)
    net = wl.shd_hand_net()
    variables = _scaled(net.init(jax.random.PRNGKey(1), x))
    loss, grads = jax.jit(jax.value_and_grad(lambda p: wl.shd_loss(net.apply(p, x), y)))(variables)
    assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    assert float(jnp.abs(grads["params"]["beta0"]).sum()) > 0  # β learns
    assert optax.adam(wl.SHD_LEARNING_RATE).init(variables) is not None


@pytest.mark.parametrize("chunk,lag,matmul", [(5, False, "@"), (4, True, "merged"), (12, False, "merged")])  # 12 steps: does not divide, divides, all
def test_chunked_hand_net_gives_the_whole_nets_values_and_gradients(batch, chunk, lag, matmul):
    with jax.enable_x64(True):
        x, y = jnp.asarray(batch[0], jnp.float64), jnp.asarray(batch[1])
        variables = _scaled(wl.shd_hand_net().init(jax.random.PRNGKey(1), x))
        variables = jax.tree.map(lambda a: a.astype(jnp.float64), variables)

        def loss(v, chunk, matmul):
            return wl.shd_loss(wl.shd_hand_net(lag=lag, chunk=chunk, matmul=matmul).apply(v, x), y)

        value, grads = jax.jit(jax.value_and_grad(loss), static_argnums=(1, 2))(variables, 0, "@")
        value_c, grads_c = jax.jit(jax.value_and_grad(loss), static_argnums=(1, 2))(variables, chunk, matmul)
        np.testing.assert_allclose(value_c, value, rtol=1e-12)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12), grads_c, grads)
        assert float(jnp.abs(grads["params"]["beta1"]).sum()) > 0
        readout = wl.shd_hand_net(lag=lag, chunk=chunk, matmul=matmul).apply(variables, x)
        np.testing.assert_allclose(readout, _numpy_net(variables, batch[0], lag)[0], rtol=1e-10, atol=1e-10)


def test_chunked_hand_net_train_step_keeps_one_chunks_activations():
    x, y = (jnp.asarray(a) for a in wl.shd_random_batch(256, 16))
    variables = wl.shd_hand_net().init(jax.random.PRNGKey(0), x[:2])

    def temp_mib(chunk):
        grad = jax.grad(lambda v: wl.shd_loss(wl.shd_hand_net(chunk=chunk).apply(v, x), y))
        return jax.jit(grad).lower(variables).compile().memory_analysis().temp_size_in_bytes / 2**20

    whole, chunked = temp_mib(0), temp_mib(wl.shd_best_chunk(256))
    assert chunked * 3 < whole, (whole, chunked)


def test_best_chunk_is_the_divisor_nearest_the_square_root():
    assert [wl.shd_best_chunk(t) for t in (256, 1024, 12, 7, 1)] == [16, 32, 3, 1, 1]


@pytest.mark.slow
def test_sequence_snn_config_builds_the_nearest_net():
    from snnjax import models
    from snnjax.tool import validate

    config = wl.shd_sequence_config()
    validate.check_config(config)  # what train.py checks before it builds anything
    model = models.build_model(config.model, wl.SHD_CLASSES)
    x = jnp.zeros((2, 16, wl.SHD_INPUTS), jnp.float32)  # batch-major [B, T, 128]
    variables = model.init({"params": jax.random.PRNGKey(0)}, x, train=False)
    shapes = jax.tree.map(lambda a: a.shape, variables["params"])
    assert shapes == {"fc0": {"kernel": (128, 128), "bias": (128,)}, "fc1": {"kernel": (128, 128), "bias": (128,)},
                      "readout": {"kernel": (128, 20), "bias": (20,)}}  # biases, no learnable β: not jaxpike's net
    assert model.apply(variables, x, train=False).out.shape == (16, 2, wl.SHD_CLASSES)


@pytest.mark.slow
def test_quick_bench_without_the_peer_runs_snnjax_only(capsys, monkeypatch):
    monkeypatch.setattr(peer_jaxpike, "available", lambda: False)
    assert peer_jaxpike.main(["--case", "8", "4", "--steps", "1", "--repeats", "1", "--hand_unroll", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "jaxpike is not importable" in lines[0]["note"]
    rows = [(r["framework"], r["path"], r["mode"]) for r in lines[1:]]
    assert rows == [("snnjax", "hand[unroll=1]", "train"), ("snnjax", "hand[unroll=1]", "eval"),
                    ("snnjax", "hand[chunk=2]", "train"), ("snnjax", "hand[chunk=2]", "eval"),
                    ("snnjax", "sequence_snn", "train"), ("snnjax", "sequence_snn", "eval")]
    assert all(r["T"] == 8 and r["batch"] == 4 and r["samples_per_s"] > 0 and r["temp_MiB"] >= 0 for r in lines[1:])


def test_jax_peers_table_gives_the_fastest_snnjax_over_each_record():
    from bench import table

    base = {"workload": "shd_jaxpike", "mode": "train", "batch": 32, "T": 1024}
    records = [{**base, "framework": "jaxpike", "path": "unroll[8]", "samples_per_s": 50.0},
               {**base, "framework": "snnjax", "path": "hand[unroll=1]", "samples_per_s": 100.0},
               {**base, "framework": "snnjax", "path": "sequence_snn", "samples_per_s": 80.0},
               {"ratio": "ignored", "samples_per_s_ratio": 2.0}, {"note": "a note"}]
    lines = table.jax_peers_table(records).splitlines()
    assert lines[2] == "| shd_jaxpike | train | 32 | 1024 | snnjax | hand[unroll=1] | 100 | 1.00× |"
    assert lines[3] == "| shd_jaxpike | train | 32 | 1024 | snnjax | sequence_snn | 80 | 1.25× |"
    assert lines[4] == "| shd_jaxpike | train | 32 | 1024 | jaxpike | unroll[8] | 50 | 2.00× |"
    assert lines[-1] == "note: a note"
    with_memory = table.jax_peers_table([{**r, "temp_MiB": 12.5} for r in records[:2]]).splitlines()
    assert with_memory[0].endswith("| XLA temp MiB |")
    assert with_memory[2] == "| shd_jaxpike | train | 32 | 1024 | snnjax | hand[unroll=1] | 100 | 1.00× | 12.5 |"


# --- jaxpike installed (its venv): its net against snnjax's on the same weights ---------------

def _jaxpike_net(key=0):
    pytest.importorskip("jaxpike")
    with jax.numpy_rank_promotion("allow"):
        return peer_jaxpike.build_jaxpike_net(jax.random.key(key))


def _scaled_jaxpike(net, gain: float = 4.0):
    import equinox as eqx

    dense = [i for i, layer in enumerate(net.layers) if hasattr(layer, "weight")]
    for i in dense:
        net = eqx.tree_at(lambda n, i=i: n.layers[i].weight, net, net.layers[i].weight * gain)
    return net


@pytest.mark.parametrize("path", peer_jaxpike.PATHS)
def test_jaxpike_net_equals_the_hand_net_with_spikes_one_step_later(batch, path):
    x = jnp.asarray(batch[0])
    jp_net = _scaled_jaxpike(_jaxpike_net())
    variables = peer_jaxpike.hand_params_from_jaxpike(jp_net)
    with jax.numpy_rank_promotion("allow"):
        theirs = np.asarray(jax.jit(peer_jaxpike.runner(path))(jp_net, x))
    lagged = np.asarray(wl.shd_hand_net(lag=True).apply(variables, x))
    now = np.asarray(wl.shd_hand_net(lag=False).apply(variables, x))
    _, spikes = _numpy_net(variables, batch[0], lag=True)
    assert spikes[1].mean() > 0.02  # the comparison sees spikes in both layers
    np.testing.assert_allclose(theirs, lagged, rtol=1e-5, atol=1e-5)
    assert np.abs(theirs - now).max() > 1e-2  # without the delay they differ: the documented difference


def test_jaxpike_gradients_equal_the_hand_nets_with_spikes_one_step_later(batch):
    pytest.importorskip("jaxpike")
    import equinox as eqx

    x, y = (jnp.asarray(a) for a in batch)
    jp_net = _scaled_jaxpike(_jaxpike_net())
    variables = peer_jaxpike.hand_params_from_jaxpike(jp_net)
    params, static = eqx.partition(jp_net, eqx.is_inexact_array)
    run = peer_jaxpike.runner("unroll[8]")
    with jax.numpy_rank_promotion("allow"):
        g_theirs = jax.grad(lambda p: wl.shd_loss(run(eqx.combine(p, static), x), y))(params)
    g_ours = jax.grad(lambda v: wl.shd_loss(wl.shd_hand_net(lag=True).apply(v, x), y))(variables)
    mapped = peer_jaxpike.hand_params_from_jaxpike(eqx.combine(g_theirs, static))
    for name, a in jax.tree_util.tree_leaves_with_path(g_ours):
        b = jax.tree_util.tree_leaves_with_path(mapped)
        b = dict((jax.tree_util.keystr(k), v) for k, v in b)[jax.tree_util.keystr(name)]
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=jax.tree_util.keystr(name))
    assert float(jnp.abs(g_ours["params"]["beta0"]).sum()) > 0


@pytest.mark.skipif(not os.environ.get("JAXPIKE_REPO"), reason="JAXPIKE_REPO (a jaxpike checkout at v0.1.4) not set")
def test_our_jaxpike_net_is_its_benchmark_files_net(batch):
    pytest.importorskip("jaxpike")
    import equinox as eqx

    repo = os.environ.pop("JAXPIKE_REPO")
    try:
        ours = _jaxpike_net(5)
        with jax.numpy_rank_promotion("allow"):
            theirs = peer_jaxpike.build_jaxpike_net(jax.random.key(5), repo=repo)
    finally:
        os.environ["JAXPIKE_REPO"] = repo
    a, b = (jax.tree.leaves(eqx.filter(n, eqx.is_inexact_array)) for n in (ours, theirs))
    assert len(a) == len(b) == 6
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)  # the same keys drawn the same way
    x = jnp.asarray(batch[0])
    with jax.numpy_rank_promotion("allow"):
        for path in peer_jaxpike.PATHS:
            run = peer_jaxpike.runner(path)
            np.testing.assert_allclose(run(_scaled_jaxpike(ours), x), run(_scaled_jaxpike(theirs), x), rtol=1e-6, atol=1e-6)


# --- BrainPy installed (its venv): its neurons against snnjax's LIF ----------------------------

def _brainpy_neuron(kind: str):
    pytest.importorskip("brainpy")
    import brainpy.math as bm
    import ml_collections

    from bench import peer_brainpy

    bm.set_environment(mode=bm.TrainingMode(batch_size=B), dt=1.0)
    cfg = ml_collections.ConfigDict({"kind": "lif", "decay": 0.5, "v_th": 1.0,
                                     "surrogate": "sigmoid", "surrogate_param": 4.0, "a_init": 0.0})
    return peer_brainpy.make_neuron(kind, (7,), cfg, B)


def _brainpy_run(neuron, x):
    """Spikes of ``neuron`` over ``x [T, B, 7]`` and the input gradient of a weighted spike sum."""
    import brainpy.math as bm

    from bench import peer_brainpy

    weights = jnp.linspace(0.5, 1.5, x.shape[0] * x.shape[1] * 7, dtype=jnp.float32).reshape(x.shape)
    loss = lambda x: (peer_brainpy._run_over_time(neuron, x) * weights).sum()  # noqa: E731
    spikes = np.asarray(peer_brainpy._run_over_time(neuron, x))
    return spikes, np.asarray(bm.grad(loss)(x)), weights


def _snnjax_run(x, weights, detach: bool):
    from snnjax import neurons, surrogate

    f = lambda x: neurons.lif(x, decay=0.5, v_th=1.0, spike_fn=surrogate.sigmoid(4.0), reset="hard",  # noqa: E731
                              detach_reset=detach, decay_input=True)[0]
    return np.asarray(f(x)), np.asarray(jax.grad(lambda x: (f(x) * weights).sum())(x))


def _lif_input():
    return jnp.asarray(np.random.default_rng(0).uniform(0.0, 2.2, (T, B, 7)), jnp.float32)


def test_brainpy_sj_neuron_is_snnjaxs_lif():
    x = _lif_input()
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        spikes, grad, weights = _brainpy_run(_brainpy_neuron("sj"), x)
    ours, our_grad = _snnjax_run(x, weights, detach=True)
    assert 0.1 < ours.mean() < 0.9
    np.testing.assert_array_equal(spikes, ours)
    np.testing.assert_allclose(grad, our_grad, rtol=1e-5, atol=1e-6)


def test_brainpy_stock_lif_spikes_as_snnjax_and_keeps_the_reset_gradient():
    x = _lif_input()
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        spikes, grad, weights = _brainpy_run(_brainpy_neuron("stock"), x)
    detached, detached_grad = _snnjax_run(x, weights, detach=True)
    kept, kept_grad = _snnjax_run(x, weights, detach=False)
    np.testing.assert_array_equal(spikes, detached)  # the same spikes
    np.testing.assert_allclose(grad, kept_grad, rtol=1e-4, atol=1e-5)  # its gradient: the reset's kept
    assert np.abs(grad - detached_grad).max() > 1e-2  # not SpikingJelly's (detached)


def test_brainpy_quick_bench_prints_both_neurons(capsys):
    pytest.importorskip("brainpy")
    from bench import peer_brainpy

    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        assert peer_brainpy.main(["--quick", "--only", "seq_plif", "--steps", "1", "--repeats", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    rows = [(r["framework"], r.get("path"), r["mode"]) for r in lines if "framework" in r]
    assert rows == [("snnjax", None, "train"), ("brainpy", "stock", "train"), ("brainpy", "sj", "train"),
                    ("snnjax", None, "eval"), ("brainpy", "stock", "eval"), ("brainpy", "sj", "eval")]
