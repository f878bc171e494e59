"""Latency and delta encoders against snnTorch's spikegen formulas (and snnTorch where installed)."""

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.core import encoders

X = np.array([[0.0, 0.005, 0.02, 0.3, 0.5, 0.74, 1.0]], np.float32)


def test_latency_fires_once_at_the_linear_time():
    s = np.asarray(encoders.latency(jnp.asarray(X), 5))
    assert s.shape == (5, 1, 7)
    np.testing.assert_array_equal(s.sum(0), np.ones((1, 7)))  # one spike each
    # t_f = round(4 (1 - max(x, 0.01))): 3.96, 3.96, 3.92, 2.8, 2.0, 1.04, 0
    np.testing.assert_array_equal(s.argmax(0), [[4, 4, 4, 3, 2, 1, 0]])
    clipped = np.asarray(encoders.latency(jnp.asarray(X), 5, clip=True))
    np.testing.assert_array_equal(clipped.sum(0), [[0, 0, 1, 1, 1, 1, 1]])


def test_delta_spikes_on_rises_and_optionally_falls():
    x = jnp.asarray([1, 2, 2.9, 3, 3.9], jnp.float32)[:, None]
    np.testing.assert_array_equal(np.asarray(encoders.delta(x, threshold=1.0))[:, 0], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(encoders.delta(x, threshold=1.0, padding=True))[:, 0], [0, 1, 0, 0, 0])
    b = jnp.asarray([1, 2, 0, 2, 2.9], jnp.float32)[:, None]
    np.testing.assert_array_equal(np.asarray(encoders.delta(b, threshold=1.0, off_spike=True))[:, 0], [1, 1, -1, 1, 0])


def test_latency_and_delta_are_registered_encoders():
    assert encoders.encode("latency", jnp.asarray(X), 5).shape == (5, 1, 7)
    seq = jnp.asarray(np.random.default_rng(0).random((2, 6, 3)), jnp.float32)  # [B, T, N]
    np.testing.assert_array_equal(np.asarray(encoders.encode("delta", seq, 1)),
                                  np.asarray(encoders.delta(jnp.swapaxes(seq, 0, 1))))


def test_equal_to_snntorch_spikegen():
    torch = pytest.importorskip("torch")
    spikegen = pytest.importorskip("snntorch.spikegen")
    x = np.random.default_rng(1).random((3, 8)).astype(np.float32)
    for clip in (False, True):
        peer = spikegen.latency(torch.tensor(x), num_steps=10, linear=True, normalize=True, clip=clip)
        np.testing.assert_array_equal(np.asarray(encoders.latency(jnp.asarray(x), 10, clip=clip)), peer.numpy())
    seq = np.random.default_rng(2).random((7, 3, 4)).astype(np.float32)
    for padding in (False, True):
        for off in (False, True):
            peer = spikegen.delta(torch.tensor(seq), threshold=0.2, padding=padding, off_spike=off)
            ours = encoders.delta(jnp.asarray(seq), threshold=0.2, padding=padding, off_spike=off)
            np.testing.assert_array_equal(np.asarray(ours), peer.numpy())


@pytest.mark.slow
@pytest.mark.parametrize("copies", [1, 3, 8, encoders.STACKED_COPIES_MAX + 1])
@pytest.mark.parametrize("axis", [0, 1])
def test_repeat_equals_broadcast_and_its_gradient_sums_the_copies(copies, axis):
    import jax

    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, 4)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(1).normal(size=np.insert(x.shape, axis, copies)), jnp.float32)
    expected = np.broadcast_to(np.expand_dims(np.asarray(x), axis), w.shape)
    np.testing.assert_array_equal(encoders.repeat(x, copies, axis), expected)
    grad = jax.grad(lambda x: jnp.sum(jnp.tanh(encoders.repeat(x, copies, axis)) * w))(x)
    by_hand = np.sum((1 - np.tanh(expected) ** 2) * np.asarray(w), axis=axis)
    np.testing.assert_allclose(grad, by_hand, rtol=1e-5, atol=1e-6)
    jvp = jax.jvp(lambda x: encoders.repeat(x, copies, axis), (x,), (jnp.ones_like(x),))[1]  # forward mode works
    np.testing.assert_array_equal(jvp, np.ones(w.shape, np.float32))


def test_direct_repeats_over_time_and_repeat_axis_one_matches_jnp_repeat():
    x = jnp.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(encoders.direct(x, 4), np.broadcast_to(np.asarray(x), (4, 3, 2)))
    np.testing.assert_array_equal(encoders.repeat(x, 2, axis=1).reshape(6, 2), jnp.repeat(x, 2, axis=0))
