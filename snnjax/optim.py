"""Optimisers and learning-rate schedules built from ``config.optim``.

``make_optimizer(cfg, steps_per_epoch, num_epochs)`` returns an optax gradient transformation and
the schedule it uses (so the training loop can log the learning rate). Optimisers and schedules
are picked by name from small registries, so configs stay data.

Time is counted in epochs. With ``schedule_per_epoch=True`` (the default) the main schedule sees
the integer epoch index, as a PyTorch scheduler stepped once per epoch does: the learning rate is
constant within an epoch. With ``schedule_per_epoch=False`` it sees the fractional epoch
``step / steps_per_epoch``.

The linear warm-up always runs per step (a per-epoch warm-up from 0 would spend its whole first
epoch at learning rate 0). The main schedule starts when the warm-up ends: its epoch clock is
``(step - warmup_steps) / steps_per_epoch``, so with ``warmup_epochs=0`` it is exactly the PyTorch
schedule.

Example::

    cfg = default_optim_config()
    cfg.schedule = "cosine"
    cfg.cosine_epochs = 64
    tx, schedule = make_optimizer(cfg, steps_per_epoch=390, num_epochs=64)
    lr_now = schedule(state.step)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax

SCHEDULES = ("constant", "cosine", "sgdr")


def default_optim_config() -> ml_collections.ConfigDict:
    """Returns the default ``config.optim`` section (Adam, constant learning rate 1e-3).

    Epoch quantities are floats so that the command line can set them to ints or floats.
    ``cosine_epochs=0`` means "the epochs left after the warm-up".
    """
    return ml_collections.ConfigDict(
        dict(
            name="adam",
            learning_rate=1e-3,
            weight_decay=0.0,
            b1=0.9,
            b2=0.999,
            eps=1e-8,
            momentum=0.9,
            schedule="constant",
            schedule_per_epoch=True,
            warmup_epochs=0.0,
            warmup_init_lr=0.0,
            cosine_epochs=0.0,
            min_lr=0.0,
            sgdr_period_epochs=10.0,
            sgdr_mult=1.0,
            grad_clip_norm=0.0,
        )
    )


# --------------------------------------------------------------------------- schedules (pure)


def cosine_annealing(t: jnp.ndarray, peak: float, min_lr: float, period: float) -> jnp.ndarray:
    r"""PyTorch ``CosineAnnealingLR`` in closed form, valid for every ``t`` (it rises again after T).

    .. math::
        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min}) \frac{1 + \cos(\pi t / T_{max})}{2}

    Args:
      t: epochs since the schedule started (float or integer-valued float array).
      peak: :math:`\eta_{max}`.
      min_lr: :math:`\eta_{min}`.
      period: :math:`T_{max}` in epochs.

    Returns:
      The learning rate, float32.
    """
    t = jnp.asarray(t, jnp.float32)
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + jnp.cos(jnp.pi * t / period))


def sgdr_position(t: jnp.ndarray, period: float, mult: float) -> tuple[jnp.ndarray, jnp.ndarray]:
    r"""Where epoch ``t`` falls in SGDR's cycles: returns ``(t_cur, t_i)``.

    Cycle :math:`i` has length :math:`T_i = T_0 m^i` and starts at
    :math:`S_i = T_0 (m^i - 1) / (m - 1)` (:math:`S_i = i T_0` when :math:`m = 1`), so

    .. math::
        i = \left\lfloor \log_m\!\left(1 + \frac{t (m - 1)}{T_0}\right) \right\rfloor,
        \qquad t_{cur} = t - S_i.

    The logarithm is computed in float32 and then corrected by one cycle either way, so restarts
    land exactly on :math:`S_i`.

    Args:
      t: epochs since the schedule started, ``>= 0``.
      period: :math:`T_0` in epochs.
      mult: :math:`m \ge 1` (PyTorch's ``T_mult``).

    Returns:
      ``t_cur`` (epochs since the last restart) and ``t_i`` (length of the current cycle).
    """
    t = jnp.asarray(t, jnp.float32)
    if mult == 1.0:
        i = jnp.floor(t / period)
    else:
        i = jnp.floor(jnp.log1p(t * (mult - 1.0) / period) / math.log(mult))

    def start(k):
        if mult == 1.0:
            return k * period
        return period * (jnp.power(jnp.float32(mult), k) - 1.0) / (mult - 1.0)

    i = jnp.where(t >= start(i + 1.0), i + 1.0, i)
    i = jnp.where(t < start(i), i - 1.0, i)
    t_i = period * jnp.power(jnp.float32(mult), i)
    return t - start(i), t_i


def sgdr(t: jnp.ndarray, peak: float, min_lr: float, period: float, mult: float) -> jnp.ndarray:
    r"""SGDR, cosine annealing with warm restarts (Loshchilov & Hutter 2017, Eq. 5).

    .. math::
        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})
        \frac{1 + \cos(\pi t_{cur} / T_i)}{2}

    with :math:`t_{cur}, T_i` from :func:`sgdr_position`. Equals PyTorch
    ``CosineAnnealingWarmRestarts(T_0=period, T_mult=mult, eta_min=min_lr)`` stepped with the epoch.
    """
    t_cur, t_i = sgdr_position(t, period, mult)
    return cosine_annealing(t_cur, peak, min_lr, t_i)


def _main_schedule(cfg: ml_collections.ConfigDict, num_epochs: int) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """The schedule after warm-up, as a function of epochs since the warm-up ended."""
    peak, min_lr = float(cfg.learning_rate), float(cfg.get("min_lr", 0.0))
    name = cfg.get("schedule", "constant")
    if name == "constant":
        return lambda t: jnp.full(jnp.shape(t), peak, jnp.float32)
    if name == "cosine":
        period = float(cfg.get("cosine_epochs", 0.0) or 0.0)
        if period <= 0.0:
            period = float(num_epochs) - float(cfg.get("warmup_epochs", 0.0))
        if period <= 0.0:
            raise ValueError(f"cosine period must be > 0 epochs, got {period}")
        return lambda t: cosine_annealing(t, peak, min_lr, period)
    if name == "sgdr":
        period, mult = float(cfg.sgdr_period_epochs), float(cfg.get("sgdr_mult", 1.0))
        if period <= 0.0 or mult < 1.0:
            raise ValueError(f"sgdr needs sgdr_period_epochs > 0 and sgdr_mult >= 1, got {period}, {mult}")
        return lambda t: sgdr(t, peak, min_lr, period, mult)
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES}")


def make_schedule(cfg: ml_collections.ConfigDict, steps_per_epoch: int, num_epochs: int) -> optax.Schedule:
    r"""The learning rate as a pure, jit-safe function of the optimiser step.

    With :math:`W` warm-up steps (``round(warmup_epochs * steps_per_epoch)``) and :math:`N` steps
    per epoch:

    .. math::
        \eta(s) = \begin{cases}
          \eta_0 + (\eta_{max} - \eta_0)\, s / W & s < W \\
          f(\tau), \quad \tau = (s - W) / N \text{ (floored if schedule\_per\_epoch)} & s \ge W
        \end{cases}

    where :math:`\eta_0` is ``warmup_init_lr`` and :math:`f` the named schedule.

    Args:
      cfg: the ``optim`` config section.
      steps_per_epoch: optimiser steps per epoch, ``>= 1``.
      num_epochs: length of the run (the default cosine period).

    Returns:
      ``schedule(step) -> float32 array``.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    main = _main_schedule(cfg, num_epochs)
    per_epoch = bool(cfg.get("schedule_per_epoch", True))
    warmup_steps = int(round(float(cfg.get("warmup_epochs", 0.0)) * steps_per_epoch))
    peak, init = float(cfg.learning_rate), float(cfg.get("warmup_init_lr", 0.0))

    def schedule(step):
        step_f = jnp.asarray(step, jnp.float32)
        if per_epoch:
            # Integer division: in float32, s / N misplaces epoch boundaries in long runs.
            after = jnp.maximum(jnp.asarray(step).astype(jnp.int32) - warmup_steps, 0)
            t = (after // steps_per_epoch).astype(jnp.float32)
        else:
            t = jnp.maximum(step_f - warmup_steps, 0.0) / steps_per_epoch
        lr = main(t)
        if warmup_steps > 0:
            ramp = init + (peak - init) * step_f / warmup_steps
            lr = jnp.where(step_f < warmup_steps, ramp, lr)
        return lr

    return schedule


# --------------------------------------------------------------------------- optimisers


def _adam(cfg, lr):
    if float(cfg.get("weight_decay", 0.0)) != 0.0:
        raise ValueError("adam takes no weight_decay; use name='adamw' (decoupled decay)")
    return optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)


def _adamw(cfg, lr):
    # Decoupled decay scaled by the learning rate, p <- p - lr * wd * p, as PyTorch AdamW.
    return optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)


def _sgd(cfg, lr):
    momentum = float(cfg.get("momentum", 0.0)) or None
    sgd = optax.sgd(lr, momentum=momentum)
    wd = float(cfg.get("weight_decay", 0.0))
    # Coupled L2 (g <- g + wd * p before momentum), as PyTorch SGD's weight_decay.
    return optax.chain(optax.add_decayed_weights(wd), sgd) if wd else sgd


def _standard_promotion(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """Runs ``tx`` under standard dtype promotion, whatever the global setting.

    optax's Adam bias correction computes ``b1 ** count`` (Python float ** int32), which has no
    promotion path under ``jax_numpy_dtype_promotion="strict"`` (optax 0.2.8); our tests run strict.
    """

    def init(params):
        with jax.numpy_dtype_promotion("standard"):
            return tx.init(params)

    def update(updates, state, params=None):
        with jax.numpy_dtype_promotion("standard"):
            return tx.update(updates, state, params)

    return optax.GradientTransformation(init, update)


_OPTIMIZERS = {"adam": _adam, "adamw": _adamw, "sgd": _sgd}
OPTIMIZERS = tuple(_OPTIMIZERS)


def make_optimizer(
    cfg: ml_collections.ConfigDict, steps_per_epoch: int, num_epochs: int
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """Builds the optimiser named by ``cfg.name`` with the schedule of :func:`make_schedule`.

    If ``cfg.grad_clip_norm`` is set (not 0 or None), gradients are first rescaled to global norm
    at most ``grad_clip_norm`` (``optax.clip_by_global_norm``, as ``torch.nn.utils.clip_grad_norm_``).

    Args:
      cfg: the ``optim`` config section (see :func:`default_optim_config`).
      steps_per_epoch: optimiser steps per epoch.
      num_epochs: length of the run.

    Returns:
      ``(tx, schedule)``.

    Raises:
      ValueError: unknown ``name`` or ``schedule``, or inconsistent settings.
    """
    name = cfg.name
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")
    schedule = make_schedule(cfg, steps_per_epoch, num_epochs)
    tx = _OPTIMIZERS[name](cfg, schedule)
    clip = cfg.get("grad_clip_norm", None)
    if clip:
        tx = optax.chain(optax.clip_by_global_norm(float(clip)), tx)
    return _standard_promotion(tx), schedule
