"""Rematerialisation (issue 33 §2): ``neuron.remat`` recomputes a layer's time loop in the backward
pass; values and gradients are those of the stored loop, for every registered neuron kind."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.layers import NEURON_KINDS, NeuronConfig, SpikingNeuron


def _loss(config: NeuronConfig, te: jax.Array | None):
    layer = SpikingNeuron(config)

    def loss(params, x):
        s = layer.apply(params, x, te=te)
        return jnp.sum(s * jnp.arange(s.size, dtype=s.dtype).reshape(s.shape) / s.size)

    return layer, loss


@pytest.mark.parametrize("kind", sorted(NEURON_KINDS))
def test_remat_gives_the_same_spikes_and_gradients_for_every_kind(kind):
    with jax.enable_x64(True):
        _check_remat_equal(kind)


def _check_remat_equal(kind):
    T, B, N = 6, 3, 5
    x = jax.random.normal(jax.random.key(0), (T, B, N), jnp.float64) * 1.5 + 0.6
    te = jax.random.uniform(jax.random.key(1), (T, N), jnp.float64) if NEURON_KINDS[kind].needs_te else None
    results = []
    for remat in (False, True):
        layer, loss = _loss(NeuronConfig(kind=kind, remat=remat), te)
        params = layer.init(jax.random.key(2), x, te=te)
        value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(params, x)
        results.append((value, grads))
    (v0, g0), (v1, g1) = results
    np.testing.assert_allclose(v1, v0, rtol=1e-12, atol=0)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12), g1, g0)
    assert float(jnp.abs(g0[1]).sum()) > 0  # the surrogate gradient reaches the input


def test_remat_puts_a_checkpoint_in_the_program():
    x = jnp.ones((4, 2, 3))
    for remat, expected in ((False, False), (True, True)):
        layer = SpikingNeuron(NeuronConfig(remat=remat))
        params = layer.init(jax.random.key(0), x)
        jaxpr = jax.make_jaxpr(jax.grad(lambda p: layer.apply(p, x).sum()))(params)
        assert ("checkpoint" in str(jaxpr) or "remat" in str(jaxpr)) is expected
