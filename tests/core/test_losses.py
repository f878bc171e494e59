"""Losses and accuracy against hand-computed values."""

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import losses
from snnjax.models import ModelOutput


def test_mse_rate_by_hand():
    out = jnp.array([[[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]])  # [T=2, B=1, K=3]: rates [0.5, 0, 1]
    y = jnp.array([2])
    # ((0.5 - 0)² + 0² + (1 - 1)²) / 3
    np.testing.assert_allclose(float(losses.mse_rate(out, y)), 0.25 / 3, rtol=1e-6)
    np.testing.assert_allclose(float(losses.mse_rate(out, y, reduction="sum")), 0.25, rtol=1e-6)


def test_cross_entropy_on_time_averaged_readout_by_hand():
    out = jnp.array([[[2.0, 0.0]], [[0.0, 0.0]]])  # mean logits [1, 0]
    expected = -np.log(np.exp(1.0) / (np.exp(1.0) + 1.0))
    np.testing.assert_allclose(float(losses.cross_entropy(out, jnp.array([0]))), expected, rtol=1e-6)
    # per-step (copy memory): labels [B, T]
    per_step = losses.cross_entropy(out, jnp.array([[0, 1]]), readout="per_step")
    step0 = -np.log(np.exp(2.0) / (np.exp(2.0) + 1.0))
    np.testing.assert_allclose(float(per_step), (step0 + np.log(2.0)) / 2, rtol=1e-6)


def test_mse_regression_reads_the_last_step():
    out = jnp.array([[[5.0]], [[0.7]]])
    np.testing.assert_allclose(float(losses.mse_regression(out, jnp.array([1.0]))), 0.09, rtol=1e-5)


def test_total_loss_adds_local_losses():
    out = jnp.array([[[1.0, 0.0]]])
    local = jnp.array([[[0.0, 1.0]]])
    output = ModelOutput(out=out, local_outs=(local, local))
    total, parts = losses.total_loss(output, jnp.array([0]), "mse_rate", local_weight=0.5)
    np.testing.assert_allclose(float(parts["loss_global"]), 0.0)
    np.testing.assert_allclose(float(parts["loss_local_0"]), 1.0)
    np.testing.assert_allclose(float(total), 0.0 + 0.5 * (1.0 + 1.0))


def test_accuracy_and_unknown_loss():
    output = ModelOutput(out=jnp.array([[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]]))
    np.testing.assert_allclose(float(losses.accuracy(output, jnp.array([0, 1, 1]))), 2 / 3, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        losses.get("hinge")
