"""The core's small pure operations: the time axis (snnjax.core.time), voting (snnjax.core.voting), the
precision of reductions (snnjax.core.precision) and the error leaf (snnjax.core.errors), against NumPy."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.core import errors
from snnjax.core.precision import at_least_float32
from snnjax.core.time import apply_merged, channels_last, merge_time, split_time
from snnjax.core.voting import vote


def test_merge_and_split_time_are_inverse_and_time_major():
    x = np.arange(3 * 2 * 4 * 5).reshape(3, 2, 4, 5).astype(np.float32)
    merged = merge_time(jnp.asarray(x))
    assert merged.shape == (6, 4, 5)
    np.testing.assert_array_equal(merged[2 * 1 + 1], x[1, 1])  # row t·B + b is step t, example b
    np.testing.assert_array_equal(split_time(merged, 3), x)


def test_apply_merged_equals_applying_each_step():
    x = np.random.default_rng(0).normal(size=(4, 3, 6)).astype(np.float32)
    w = np.random.default_rng(1).normal(size=(6, 2)).astype(np.float32)
    out = apply_merged(lambda m: m @ w, jnp.asarray(x))
    np.testing.assert_allclose(out, np.stack([x[t] @ w for t in range(4)]), rtol=1e-5, atol=1e-6)


def test_channels_last_broadcasts_a_channel_vector():
    v = jnp.arange(3.0)
    assert channels_last(v, 4).shape == (1, 1, 1, 3)
    np.testing.assert_array_equal((jnp.ones((2, 5, 5, 3)) * channels_last(v, 4))[1, 4, 2], np.arange(3.0))


def test_vote_averages_consecutive_groups_of_n():
    x = np.random.default_rng(2).random((2, 3, 40))
    np.testing.assert_allclose(vote(jnp.asarray(x), 10), x.reshape(2, 3, 10, 4).mean(-1), rtol=1e-6)


def test_vote_refuses_a_width_not_divisible_by_the_classes():
    with pytest.raises(ValueError, match="divisible by 10 classes, got 42"):
        vote(jnp.ones((1, 42)), 10)


@pytest.mark.parametrize("dtype,expected", [(jnp.bfloat16, jnp.float32), (jnp.float16, jnp.float32),
                                            (jnp.float32, jnp.float32)])
def test_reductions_run_in_at_least_float32(dtype, expected):
    assert at_least_float32(jnp.ones(2, dtype)) == jnp.dtype(expected)


def test_a_float64_model_reduces_in_float64():
    import jax

    with jax.enable_x64(True):
        assert at_least_float32(jnp.ones(2, jnp.float64)) == jnp.dtype(jnp.float64)


def test_config_error_is_a_value_error_so_library_callers_can_catch_either():
    assert issubclass(errors.ConfigError, ValueError)
    with pytest.raises(ValueError, match="bad"):
        raise errors.ConfigError("bad")
