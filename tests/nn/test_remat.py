"""Rematerialisation (issue 33 §2): ``neuron.remat=k`` recomputes a layer's time loop in the backward
pass, every step or every k steps; values and gradients are those of the stored loop, for every
registered neuron kind.
``model.remat`` (:func:`snnjax.core.scan.time_scan`) does the same for the sequence net's per-step
scan, every step or every k steps. The conv net has no per-step scan (``neuron.remat`` covers it)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.core.scan import time_scan
from snnjax.layers import NEURON_KINDS, NeuronConfig, SpikingNeuron
from snnjax.models import SequenceSNN


def _loss(config: NeuronConfig, te: jax.Array | None):
    layer = SpikingNeuron(config)

    def loss(params, x):
        s = layer.apply(params, x, te=te)
        return jnp.sum(s * jnp.arange(s.size, dtype=s.dtype).reshape(s.shape) / s.size)

    return layer, loss


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(NEURON_KINDS))
def test_remat_gives_the_same_spikes_and_gradients_for_every_kind(kind):
    with jax.enable_x64(True):
        _check_remat_equal(kind)


def _check_remat_equal(kind):
    T, B, N = 6, 3, 5
    x = jax.random.normal(jax.random.key(0), (T, B, N), jnp.float64) * 1.5 + 0.6
    te = jax.random.uniform(jax.random.key(1), (T, N), jnp.float64) if NEURON_KINDS[kind].needs_te else None
    results = []
    for remat in (0, 1, 4):  # off; every step; chunks of 4 (T = 6: one full chunk and a short one)
        layer, loss = _loss(NeuronConfig(kind=kind, remat=remat), te)
        params = layer.init(jax.random.key(2), x, te=te)
        value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(params, x)
        results.append((value, grads))
    (v0, g0), *rematerialised = results
    for v1, g1 in rematerialised:
        np.testing.assert_allclose(v1, v0, rtol=1e-12, atol=0)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12), g1, g0)
    assert float(jnp.abs(g0[1]).sum()) > 0  # the surrogate gradient reaches the input


@pytest.mark.parametrize("value,expected", [(True, 1), (False, 0), ("28", 28), (3, 3)])
def test_neuron_remat_reads_a_bool_or_a_digit_string_as_its_int(value, expected):
    assert NeuronConfig(remat=value).remat == expected


@pytest.mark.parametrize("value,impl,message", [
    (-1, "scan", "neuron.remat must be 0 (off), 1 (every step) or k > 1 (every k steps), got -1"),
    (2.5, "scan", "neuron.remat must be 0 (off), 1 (every step) or k > 1 (every k steps), got 2.5"),
    (2, "pallas", "neuron.remat rematerialises the step scan; use impl='scan' with it"),
])
def test_a_bad_neuron_remat_is_one_line(value, impl, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        NeuronConfig(remat=value, impl=impl)


def test_neuron_remat_every_k_steps_stores_less_than_the_plain_loop():
    """XLA's compiled temporary memory of one layer's gradient at T = 256: chunks of 16 steps keep
    the state at chunk starts, not every step's residuals."""
    x = jnp.ones((256, 64, 128))

    def temp_bytes(remat):
        layer = SpikingNeuron(NeuronConfig(kind="alif", remat=remat))
        params = layer.init(jax.random.key(0), x[:2])
        grad = jax.jit(jax.grad(lambda p, x: layer.apply(p, x).sum(), argnums=1))
        return grad.lower(params, x).compile().memory_analysis().temp_size_in_bytes

    assert temp_bytes(16) < 0.5 * temp_bytes(0)


def test_remat_puts_a_checkpoint_in_the_program():
    x = jnp.ones((4, 2, 3))
    for remat, expected in ((0, False), (1, True), (2, True)):
        layer = SpikingNeuron(NeuronConfig(remat=remat))
        params = layer.init(jax.random.key(0), x)
        jaxpr = jax.make_jaxpr(jax.grad(lambda p: layer.apply(p, x).sum()))(params)
        assert ("checkpoint" in str(jaxpr) or "remat" in str(jaxpr)) is expected


# --- model.remat: the whole net's per-step scan (snnjax.core.scan; time_scan itself: tests/core/test_scan.py)


SEQ_NETS = {
    "ce_lif": dict(hidden=(8, 6)),
    "lif-recurrent-li-readout": dict(hidden=(5, 4), recurrent_layers=(1,), readout_decay=0.8,
                                     neuron=NeuronConfig(kind="lif", decay=0.6, v_th=0.2)),
}


@pytest.mark.slow
@pytest.mark.parametrize("remat", [1, 5])  # 36 steps: every step; chunks of 5 and one of 1
@pytest.mark.parametrize("name", sorted(SEQ_NETS))
def test_model_remat_gives_the_per_step_scans_values_and_gradients(name, remat):
    with jax.enable_x64(True):
        x = jax.random.uniform(jax.random.key(1), (3, 6, 6, 1), jnp.float64)
        y = jnp.array([0, 3, 1])
        plain = SequenceSNN(num_outputs=4, scan="step", **SEQ_NETS[name])
        params = jax.tree.map(lambda p: p.astype(jnp.float64), plain.init(jax.random.key(0), x, train=False)["params"])

        def loss(params, model):
            out = model.apply({"params": params}, x, train=True)
            logits = out.out.mean(0)
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

        results = [jax.jit(jax.value_and_grad(loss), static_argnums=1)(params, model)
                   for model in (plain, plain.clone(remat=remat), plain.clone(scan="auto", remat=remat))]
        (v0, g0), *rest = results
        for v, g in rest:
            np.testing.assert_allclose(v, v0, rtol=1e-12, atol=0)
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12), g, g0)
        assert float(jnp.abs(g0["fc0"]["kernel"]).sum()) > 0


def test_model_remat_puts_a_checkpoint_in_the_training_program():
    x = jnp.ones((2, 4, 4, 1))
    model = SequenceSNN(hidden=(4,), num_outputs=3)  # scan="auto": per-layer in training unless remat
    params = model.init(jax.random.key(0), x, train=False)["params"]
    for remat, expected in ((0, False), (2, True)):
        m = model.clone(remat=remat)
        jaxpr = str(jax.make_jaxpr(jax.grad(lambda p: m.apply({"params": p}, x, train=True).out.sum()))(params))
        assert ("checkpoint" in jaxpr or "remat" in jaxpr) is expected


def test_model_remat_refuses_the_per_layer_schedule():
    x = jnp.ones((2, 4, 4, 1))
    with pytest.raises(ValueError, match="model.remat=2 rematerialises the per-step scan"):
        SequenceSNN(hidden=(4,), num_outputs=3, scan="layer", remat=2).init(jax.random.key(0), x, train=False)


def test_the_config_check_refuses_model_remat_without_a_per_step_scan():
    from snnjax.tool.config import base_config
    from snnjax.tool.validate import ConfigError, check_config

    config = base_config()
    config.model.arch, config.model.remat = "sequence", 2
    check_config(config)  # scan="auto" with remat: the per-step scan
    for arch, scan in (("conv", "auto"), ("sequence", "layer")):
        config.model.arch, config.model.scan = arch, scan
        with pytest.raises(ConfigError, match=r"model.remat=2 rematerialises a sequence net's per-step scan"):
            check_config(config)


@pytest.mark.slow
def test_memory_bench_gives_each_cases_memory_analysis_time_and_ratio():
    from bench import memory

    w = memory.seq_mnist_workload()
    cases = [memory.Case(w, 48, 4), memory.Case(w, 48, 4, model_remat=7)]
    rows = list(memory.records(cases, repeats=1, steps=1))
    assert [r["model_remat"] for r in rows] == [0, 7]
    assert all(r["ms_per_step_median"] > 0 and r["argument_size_in_bytes"] > 0 for r in rows)
    (ratio,) = memory.ratios(rows)
    assert ratio["temp_cut"] == round(rows[0]["temp_size_in_bytes"] / rows[1]["temp_size_in_bytes"], 2) > 1
