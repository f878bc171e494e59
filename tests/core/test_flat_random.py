"""``snnjax.core.flat_random`` draws the numbers of ``jax.random`` bit for bit, and the layers that use it
(weight inits, the rate encoder, dropout) give the values they gave with ``jax.random``."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import layers
from snnjax.core import flat_random
from snnjax.core import encoders
from snnjax.layers.dropout import Dropout
from snnjax.layers.synapse import torch_uniform
from snnjax.models.sequence_net import normal_init

# every rank the library draws at (a rank-4 conv kernel, a rank-5 rate-coded batch), and the empty
SHAPES = [(), (7,), (0, 3), (5, 7), (3, 3, 4, 5), (2, 1, 3, 4, 2)]


def _equal(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_draws_equal_jax_random_bit_for_bit(shape):
    key = jax.random.PRNGKey(3)
    _equal(flat_random.uniform(key, shape, jnp.float32, -0.5, 2.0), jax.random.uniform(key, shape, jnp.float32, -0.5, 2.0))
    _equal(flat_random.normal(key, shape), jax.random.normal(key, shape))
    p = jax.random.uniform(jax.random.PRNGKey(1), shape)
    _equal(flat_random.bernoulli(key, p), jax.random.bernoulli(key, p))  # p per element


@pytest.mark.slow
def test_typed_keys_bfloat16_and_a_scalar_probability():
    key, shape = jax.random.key(3), (2, 3, 4)
    _equal(flat_random.uniform(key, shape, jnp.bfloat16), jax.random.uniform(key, shape, jnp.bfloat16))
    _equal(flat_random.normal(key, shape, jnp.bfloat16), jax.random.normal(key, shape, jnp.bfloat16))
    _equal(flat_random.bernoulli(key, 0.3, shape), jax.random.bernoulli(key, 0.3, shape))


@pytest.mark.slow
def test_a_broadcast_probability_and_float64_under_x64():
    key = jax.random.PRNGKey(5)
    p = jnp.linspace(0.0, 1.0, 4).reshape(1, 1, 4)  # broadcast along the first two axes
    _equal(flat_random.bernoulli(key, p, (3, 2, 4)), jax.random.bernoulli(key, p, (3, 2, 4)))
    with jax.enable_x64(True):
        _equal(flat_random.uniform(key, (3, 4, 5), jnp.float64), jax.random.uniform(key, (3, 4, 5), jnp.float64))
        _equal(flat_random.normal(key, (3, 4, 5), jnp.float64), jax.random.normal(key, (3, 4, 5), jnp.float64))


@pytest.mark.slow
def test_the_same_under_jit_vmap_and_the_older_threefry_counters():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    draw = jax.jit(jax.vmap(lambda k: flat_random.uniform(k, (2, 3, 4))))
    _equal(draw(keys), jax.vmap(lambda k: jax.random.uniform(k, (2, 3, 4)))(keys))
    with jax.threefry_partitionable(False):
        _equal(flat_random.normal(keys[0], (3, 3, 2, 4)), jax.random.normal(keys[0], (3, 3, 2, 4)))


def test_other_prngs_fall_back_to_jax_random():
    key = jax.random.key(2, impl="rbg")
    _equal(flat_random.uniform(key, (3, 4, 5)), jax.random.uniform(key, (3, 4, 5)))
    _equal(flat_random.bernoulli(key, 0.5, (2, 3, 4)), jax.random.bernoulli(key, 0.5, (2, 3, 4)))


@pytest.mark.slow
def test_the_inits_give_jax_randoms_numbers():
    key = jax.random.PRNGKey(7)
    shape = (3, 3, 4, 8)  # a conv kernel
    _equal(torch_uniform(36)(key, shape), jax.random.uniform(key, shape, jnp.float32, -1 / 6, 1 / 6))
    _equal(normal_init(0.01, 0.02)(key, (5, 6)), 0.01 + 0.02 * jax.random.normal(key, (5, 6)))


@pytest.mark.slow
def test_the_rate_encoder_draws_jax_randoms_spikes():
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 4, 4, 1))
    key = jax.random.PRNGKey(1)
    p = jnp.broadcast_to(jnp.clip(x, 0.0, 1.0), (3,) + x.shape)
    _equal(encoders.rate(x, 3, key), jax.random.bernoulli(key, p).astype(x.dtype))


@pytest.mark.slow
@pytest.mark.parametrize("broadcast_dims", [(), (0,), (0, 2)])
@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_dropout_equals_flax_dropout(broadcast_dims, rate):
    """Same auto-name, same key, same mask: the outputs and the gradients of ``nn.Dropout``."""
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 2, 5, 4))
    rngs = {"dropout": jax.random.PRNGKey(4)}

    class Net(nn.Module):
        dropout: type

        @nn.compact
        def __call__(self, x):
            return self.dropout(rate, broadcast_dims=broadcast_dims)(x * 2.0, deterministic=False)

    ours, flax_ = Net(Dropout), Net(nn.Dropout)
    _equal(ours.apply({}, x, rngs=rngs), flax_.apply({}, x, rngs=rngs))
    grad = lambda m: jax.grad(lambda x: jnp.sum(m.apply({}, x, rngs=rngs) ** 2))(x)  # noqa: E731
    chex.assert_trees_all_equal(grad(ours), grad(flax_))
    chex.assert_trees_all_equal(Dropout(rate).apply({}, x, deterministic=True), x)


def test_time_consistent_dropout_is_flax_dropout_broadcast_over_time():
    x = jnp.ones((4, 3, 6, 2))
    rngs = {"dropout": jax.random.PRNGKey(9)}
    ours = layers.TimeConsistentDropout(0.5).apply({}, x, train=True, rngs=rngs)

    class Reference(nn.Module):  # what TimeConsistentDropout was: nn.Dropout under the same name
        @nn.compact
        def __call__(self, x):
            return nn.Dropout(0.5, broadcast_dims=(0,), deterministic=False)(x)

    _equal(ours, Reference().apply({}, x, rngs=rngs))
