"""Optimisers and learning-rate schedules built from ``config.optim``.

``make_optimizer(cfg, steps_per_epoch, num_epochs)`` returns an optax gradient transformation and
the schedule it uses (so the training loop can log the learning rate). Optimisers and schedules
are picked by name from small registries, so configs stay data.

Time is counted in epochs. With ``schedule_per_epoch=True`` (the default) the main schedule sees
the integer epoch index, as a PyTorch scheduler stepped once per epoch does: the learning rate is
constant within an epoch. With ``schedule_per_epoch=False`` it runs in steps (its periods are
converted to steps), as a PyTorch scheduler stepped once per step does.

The linear warm-up always runs per step (a per-epoch warm-up from 0 would spend its whole first
epoch at learning rate 0). The main schedule starts when the warm-up ends: its clock is
``step - warmup_steps``, so with ``warmup_epochs=0`` it is exactly the PyTorch schedule.

Warm-up (``optax.linear_schedule``), SGDR's cycles (``optax.cosine_decay_schedule``) and their
joins (``optax.join_schedules``) are optax's; `cosine_annealing` is PyTorch's ``CosineAnnealingLR``,
which unlike optax's cosine rises again after its period.

Example::

    cfg = default_optim_config()
    cfg.schedule = "cosine"
    cfg.cosine_epochs = 64
    tx, schedule = make_optimizer(cfg, steps_per_epoch=390, num_epochs=64)
    lr_now = schedule(state.step)
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jax.typing import ArrayLike

from snnjax.core.registry import Registry

# optim.schedule -> f(cfg, epochs_after_warmup, unit): the schedule after warm-up, of the time since
# the warm-up ended, in epochs (unit=1) or steps (unit = steps per epoch); see `_main_schedule`.
SCHEDULES: Registry[Callable[[ml_collections.ConfigDict, float, int], optax.Schedule]] = Registry("schedule")

# optim.name -> f(cfg, schedule): the optax transformation, without clipping (see `make_optimizer`).
OPTIMIZERS: Registry[Callable[[ml_collections.ConfigDict, optax.Schedule], optax.GradientTransformation]] = (
    Registry("optimizer"))


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


def cosine_annealing(t: ArrayLike, peak: float, min_lr: float, period: float) -> jax.Array:
    r"""PyTorch ``CosineAnnealingLR`` in closed form, valid for every ``t``: it rises again after
    :math:`T_{max}` (period :math:`2 T_{max}`), where ``optax.cosine_decay_schedule`` stays at its
    minimum. The llc-lif configs (64-epoch period, longer runs) rely on the rise.

    .. math::
        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min}) \frac{1 + \cos(\pi t / T_{max})}{2}

    Args:
      t: epochs (or steps) since the schedule started.
      peak: :math:`\eta_{max}`.
      min_lr: :math:`\eta_{min}`.
      period: :math:`T_{max}`, in the unit of ``t``.

    Returns:
      The learning rate, float32.
    """
    t = jnp.asarray(t, jnp.float32)
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + jnp.cos(jnp.pi * t / period))


def sgdr_restarts(period: float, mult: float, horizon: float) -> list[float]:
    r"""The starts of SGDR's cycles after the first, up to the first one past ``horizon``.

    Cycle :math:`i` lasts :math:`T_i = T_0 m^i` and starts at :math:`S_i = \sum_{j<i} T_j`
    (:math:`= T_0 (m^i - 1) / (m - 1)`, or :math:`i T_0` when :math:`m = 1`), summed in Python
    floats (float64), so restarts land exactly on :math:`S_i`.

    Args:
      period: :math:`T_0 > 0`.
      mult: :math:`m \ge 1` (PyTorch's ``T_mult``).
      horizon: the schedule's length, in the unit of ``period``.

    Returns:
      ``[S_1, S_2, ..., S_n]`` with :math:`S_{n-1} \le` ``horizon`` :math:`< S_n`.
    """
    starts, start, length = [], 0.0, period
    while True:
        start += length
        starts.append(start)
        if start > horizon:
            return starts
        length *= mult


def sgdr(peak: float, min_lr: float, period: float, mult: float, horizon: float) -> optax.Schedule:
    r"""SGDR, cosine annealing with warm restarts (Loshchilov & Hutter, "SGDR: Stochastic Gradient
    Descent with Warm Restarts", ICLR 2017, Sec. 3, Eq. 5), built from optax.

    .. math::
        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min}) \frac{1 + \cos(\pi t_{cur} / T_i)}{2},
        \qquad t_{cur} = t - S_i \text{ in cycle } i

    Each cycle is an ``optax.cosine_decay_schedule`` and ``optax.join_schedules`` restarts them at
    :math:`S_i` (`sgdr_restarts`); with :math:`m = 1` one cycle is repeated with ``t mod T_0``. Equals
    PyTorch ``CosineAnnealingWarmRestarts(T_0=period, T_mult=mult, eta_min=min_lr)`` stepped with
    ``t``. With :math:`m > 1` the cycles cover ``horizon``; after the last one ends the rate stays at
    :math:`\eta_{min}`.

    Args:
      peak, min_lr: :math:`\eta_{max}, \eta_{min}`.
      period: :math:`T_0`, in the unit of ``t`` (epochs or steps).
      mult: :math:`m \ge 1`.
      horizon: how far (in the unit of ``t``) the restarts must reach.
    """
    alpha = min_lr / peak

    def cycle(length: float) -> optax.Schedule:
        return optax.cosine_decay_schedule(peak, length, alpha=alpha)

    if mult == 1.0:
        first = cycle(period)
        return lambda t: first(jnp.mod(jnp.asarray(t, jnp.float32), period))
    starts = sgdr_restarts(period, mult, horizon)
    lengths = [period * mult**i for i in range(len(starts) + 1)]
    joined = optax.join_schedules([cycle(length) for length in lengths], starts)
    return lambda t: joined(jnp.asarray(t, jnp.float32))


@SCHEDULES.register("constant")
def _constant(cfg: ml_collections.ConfigDict, after_warmup: float, unit: int) -> optax.Schedule:
    """:math:`\\eta = \\eta_{max}` (``learning_rate``)."""
    return optax.constant_schedule(float(cfg.learning_rate))


@SCHEDULES.register("cosine")
def _cosine(cfg: ml_collections.ConfigDict, after_warmup: float, unit: int) -> optax.Schedule:
    """`cosine_annealing` over ``cosine_epochs`` (0: the epochs left after the warm-up)."""
    peak, min_lr = float(cfg.learning_rate), float(cfg.get("min_lr", 0.0))
    period = float(cfg.get("cosine_epochs", 0.0) or 0.0) or after_warmup
    if period <= 0.0:
        raise ValueError(f"cosine period must be > 0 epochs, got {period}")
    return lambda t: cosine_annealing(t, peak, min_lr, period * unit)


@SCHEDULES.register("sgdr")
def _sgdr(cfg: ml_collections.ConfigDict, after_warmup: float, unit: int) -> optax.Schedule:
    """`sgdr` with period ``sgdr_period_epochs`` and multiplier ``sgdr_mult``, restarting to the run's end."""
    peak, min_lr = float(cfg.learning_rate), float(cfg.get("min_lr", 0.0))
    period, mult = float(cfg.sgdr_period_epochs), float(cfg.get("sgdr_mult", 1.0))
    if period <= 0.0 or mult < 1.0:
        raise ValueError(f"sgdr needs sgdr_period_epochs > 0 and sgdr_mult >= 1, got {period}, {mult}")
    return sgdr(peak, min_lr, period * unit, mult, max(after_warmup, period) * unit)


def _main_schedule(cfg: ml_collections.ConfigDict, num_epochs: float, unit: int) -> optax.Schedule:
    """The schedule after warm-up, of the time since the warm-up ended, counted in epochs
    (``unit=1``) or in steps (``unit`` = steps per epoch)."""
    after_warmup = float(num_epochs) - float(cfg.get("warmup_epochs", 0.0))
    return SCHEDULES.lookup(cfg.get("schedule", "constant"))(cfg, after_warmup, unit)


def make_schedule(cfg: ml_collections.ConfigDict, steps_per_epoch: int, num_epochs: float) -> optax.Schedule:
    r"""The learning rate as a pure, jit-safe function of the optimiser step.

    With :math:`W` warm-up steps (``round(warmup_epochs * steps_per_epoch)``) and :math:`N` steps
    per epoch:

    .. math::
        \eta(s) = \begin{cases}
          \eta_0 + (\eta_{max} - \eta_0)\, s / W & s < W \\
          f(\tau), \quad \tau = (s - W) / N \text{ (floored if schedule\_per\_epoch)} & s \ge W
        \end{cases}

    where :math:`\eta_0` is ``warmup_init_lr`` and :math:`f` the named schedule: the warm-up is an
    ``optax.linear_schedule`` joined to :math:`f` by ``optax.join_schedules``. With
    ``schedule_per_epoch`` :math:`f` sees the integer epoch :math:`\lfloor (s - W) / N \rfloor`
    (integer division, exact in long runs); otherwise it runs in steps.

    Args:
      cfg: the ``optim`` config section.
      steps_per_epoch: optimiser steps per epoch, ``>= 1``.
      num_epochs: length of the run (the default cosine period, the reach of SGDR's restarts).

    Returns:
      ``schedule(step) -> float32 array``.
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    per_epoch = bool(cfg.get("schedule_per_epoch", True))
    main = _main_schedule(cfg, num_epochs, unit=1 if per_epoch else steps_per_epoch)
    warmup_steps = int(round(float(cfg.get("warmup_epochs", 0.0)) * steps_per_epoch))
    peak, init = float(cfg.learning_rate), float(cfg.get("warmup_init_lr", 0.0))

    def after_warmup(count):
        count = jnp.maximum(jnp.asarray(count).astype(jnp.int32), 0)
        t = count // steps_per_epoch if per_epoch else count
        return jnp.asarray(main(t), jnp.float32)

    if warmup_steps == 0:
        return after_warmup
    warmup = optax.linear_schedule(init, peak, transition_steps=warmup_steps)
    joined = optax.join_schedules([warmup, after_warmup], [warmup_steps])
    return lambda step: jnp.asarray(joined(jnp.asarray(step).astype(jnp.int32)), jnp.float32)


# --------------------------------------------------------------------------- optimisers


@OPTIMIZERS.register("adam")
def _adam(cfg, lr):
    if float(cfg.get("weight_decay", 0.0)) != 0.0:
        raise ValueError("adam takes no weight_decay; use name='adamw' (decoupled decay)")
    return optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)


@OPTIMIZERS.register("adamw")
def _adamw(cfg, lr):
    # Decoupled decay scaled by the learning rate, p <- p - lr * wd * p, as PyTorch AdamW.
    return optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("sgd")
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


def make_optimizer(
    cfg: ml_collections.ConfigDict, steps_per_epoch: int, num_epochs: float
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
    build = OPTIMIZERS.lookup(cfg.name)
    schedule = make_schedule(cfg, steps_per_epoch, num_epochs)
    tx = build(cfg, schedule)
    clip = cfg.get("grad_clip_norm", None)
    if clip:
        tx = optax.chain(optax.clip_by_global_norm(float(clip)), tx)
    return _standard_promotion(tx), schedule
