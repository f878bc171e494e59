"""Tests for snnjax.tool.optim: schedules against PyTorch's schedulers written out in NumPy (float64), and
values written out by hand with math.cos."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from snnjax.tool import optim


def _cfg(**overrides):
    cfg = optim.default_optim_config()
    cfg.update(overrides)
    cfg.lock()
    return cfg


def _lr(schedule, step):
    return float(jax.jit(schedule)(jnp.int32(step)))


# ----------------------------------------------------------------------------- schedules


def test_constant_schedule():
    _, schedule = optim.make_optimizer(_cfg(learning_rate=3e-4), steps_per_epoch=7, num_epochs=2)
    for step in (0, 6, 7, 1000):
        assert _lr(schedule, step) == pytest.approx(3e-4, rel=1e-6)


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.1),
        (9, 0.1),  # constant within epoch 0
        (10, 0.05 * (1 + math.cos(math.pi * 1 / 64))),
        (19, 0.05 * (1 + math.cos(math.pi * 1 / 64))),
        (320, 0.05),  # half way
        (630, 0.05 * (1 + math.cos(math.pi * 63 / 64))),
        (640, 0.0),  # T_max
        (960, 0.05),  # continues as a cosine: back up, like PyTorch's closed form
        (1280, 0.1),
    ],
)
def test_cosine_per_epoch_matches_pytorch_closed_form(step, expected):
    cfg = _cfg(learning_rate=0.1, schedule="cosine", cosine_epochs=64)  # int into a float field
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=10, num_epochs=64)
    assert _lr(schedule, step) == pytest.approx(expected, abs=1e-7)


def test_per_epoch_boundaries_are_exact_in_long_runs():
    # step 10007 * 3000 - 1 is the last step of epoch 2999; in float32 it would round into epoch 3000.
    cfg = _cfg(learning_rate=1.0, schedule="cosine", cosine_epochs=6000)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=10007, num_epochs=6000)
    assert _lr(schedule, 10007 * 3000 - 1) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2999 / 6000)), abs=1e-6)
    assert _lr(schedule, 10007 * 3000) == pytest.approx(0.5, abs=1e-6)


def test_cosine_per_step_and_min_lr():
    cfg = _cfg(learning_rate=0.1, min_lr=0.001, schedule="cosine", cosine_epochs=64.0,
               schedule_per_epoch=False)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=10, num_epochs=64)
    assert _lr(schedule, 5) == pytest.approx(0.001 + 0.099 * 0.5 * (1 + math.cos(math.pi * 0.5 / 64)), abs=1e-7)
    assert _lr(schedule, 320) == pytest.approx(0.0505, abs=1e-7)
    assert _lr(schedule, 640) == pytest.approx(0.001, abs=1e-7)


def test_cosine_default_period_is_epochs_after_warmup():
    cfg = _cfg(learning_rate=0.1, schedule="cosine", warmup_epochs=1.0)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=10, num_epochs=5)
    assert _lr(schedule, 10) == pytest.approx(0.1, abs=1e-7)
    assert _lr(schedule, 20) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)), abs=1e-7)
    assert _lr(schedule, 50) == pytest.approx(0.0, abs=1e-7)


def test_warmup_ramp_from_zero_then_constant():
    cfg = _cfg(learning_rate=0.1, warmup_epochs=0.5)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=10, num_epochs=3)
    got = [_lr(schedule, s) for s in range(8)]
    np.testing.assert_allclose(got, [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.1], atol=1e-7)


def test_warmup_from_init_lr():
    cfg = _cfg(learning_rate=0.1, warmup_epochs=1.0, warmup_init_lr=0.01)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=10, num_epochs=3)
    assert _lr(schedule, 0) == pytest.approx(0.01, abs=1e-7)
    assert _lr(schedule, 5) == pytest.approx(0.055, abs=1e-7)
    assert _lr(schedule, 10) == pytest.approx(0.1, abs=1e-7)


@pytest.mark.parametrize(
    "epoch, expected",
    [
        # T_0 = 2, T_mult = 2: cycles [0, 2), [2, 6), [6, 14), [14, 30), [30, 62)
        (0, 1.0),
        (1, 0.5 * (1 + math.cos(math.pi * 1 / 2))),
        (2, 1.0),  # restart
        (3, 0.5 * (1 + math.cos(math.pi * 1 / 4))),
        (5, 0.5 * (1 + math.cos(math.pi * 3 / 4))),
        (6, 1.0),  # restart
        (13, 0.5 * (1 + math.cos(math.pi * 7 / 8))),
        (14, 1.0),  # restart
        (29, 0.5 * (1 + math.cos(math.pi * 15 / 16))),
        (30, 1.0),  # restart
        (61, 0.5 * (1 + math.cos(math.pi * 31 / 32))),
        (62, 1.0),  # restart
    ],
)
def test_sgdr_restarts_with_mult(epoch, expected):
    cfg = _cfg(learning_rate=1.0, schedule="sgdr", sgdr_period_epochs=2, sgdr_mult=2)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=3, num_epochs=100)
    assert _lr(schedule, 3 * epoch) == pytest.approx(expected, abs=1e-6)
    assert _lr(schedule, 3 * epoch + 2) == pytest.approx(expected, abs=1e-6)  # constant in epoch


def test_sgdr_restarts_far_out_are_exact():
    # T_0 = 10, T_mult = 2: restart 10 starts at 10 * (2**10 - 1) = 10230, lasts 10240 epochs.
    cfg = _cfg(learning_rate=1.0, schedule="sgdr", sgdr_period_epochs=10, sgdr_mult=2)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=1, num_epochs=20000)
    assert _lr(schedule, 10229) == pytest.approx(0.5 * (1 + math.cos(math.pi * 5119 / 5120)), abs=1e-6)
    assert _lr(schedule, 10230) == pytest.approx(1.0, abs=1e-6)
    assert _lr(schedule, 10231) == pytest.approx(0.5 * (1 + math.cos(math.pi / 10240)), abs=1e-6)


def test_sgdr_mult_one_and_min_lr():
    cfg = _cfg(learning_rate=0.1, min_lr=0.02, schedule="sgdr", sgdr_period_epochs=3.0)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=1, num_epochs=10)
    got = [_lr(schedule, s) for s in range(7)]
    c = 0.02 + 0.08 * 0.5 * (1 + math.cos(math.pi / 3))
    d = 0.02 + 0.08 * 0.5 * (1 + math.cos(2 * math.pi / 3))
    np.testing.assert_allclose(got, [0.1, c, d, 0.1, c, d, 0.1], atol=1e-7)


def test_sgdr_per_step_is_smooth_inside_a_cycle():
    cfg = _cfg(learning_rate=1.0, schedule="sgdr", sgdr_period_epochs=1.0, sgdr_mult=1.0,
               schedule_per_epoch=False)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=4, num_epochs=3)
    got = [_lr(schedule, s) for s in range(6)]
    expected = [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4)), 1.0,
                0.5 * (1 + math.cos(math.pi / 4))]
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.slow
def test_schedule_accepts_python_ints_and_vectors():
    cfg = _cfg(learning_rate=1.0, schedule="sgdr", sgdr_period_epochs=2, sgdr_mult=2)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=1, num_epochs=10)
    assert float(schedule(2)) == pytest.approx(1.0)
    np.testing.assert_allclose(schedule(jnp.arange(7)), [1.0, 0.5, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5,
                                                         0.5 * (1 + math.cos(3 * math.pi / 4)), 1.0], atol=1e-6)


# ----------------------------------------------------------------------------- PyTorch, written out


def torch_cosine_annealing_lr(length, base, eta_min, t_max):
    """``torch.optim.lr_scheduler.CosineAnnealingLR``, stepped ``length - 1`` times: its recursive
    ``get_lr`` (what ``step()`` uses), in float64. It rises again after ``t_max``."""
    lrs = [base]
    for e in range(1, length):
        if (e - 1 - t_max) % (2 * t_max) == 0:
            lr = lrs[-1] + (base - eta_min) * (1 - np.cos(np.pi / t_max)) / 2
        else:
            lr = (1 + np.cos(np.pi * e / t_max)) / (1 + np.cos(np.pi * (e - 1) / t_max)) * (lrs[-1] - eta_min) + eta_min
        lrs.append(lr)
    return np.array(lrs)


def torch_cosine_warm_restarts(length, base, eta_min, t_0, t_mult):
    """``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``, stepped ``length - 1`` times
    without an epoch argument: ``T_cur += 1``, and at ``T_cur >= T_i`` a restart
    (``T_cur -= T_i; T_i *= T_mult``). Returns the rates and the indices of the restarts."""
    lrs, restarts, t_cur, t_i = [], [], 0, t_0
    for e in range(length):
        if e > 0:
            t_cur += 1
            if t_cur >= t_i:
                t_cur, t_i = t_cur - t_i, t_i * t_mult
                restarts.append(e)
        lrs.append(eta_min + (base - eta_min) * (1 + np.cos(np.pi * t_cur / t_i)) / 2)
    return np.array(lrs), restarts


def torch_lr_per_step(num_steps, steps_per_epoch, warmup_steps, init, peak, per_epoch, main):
    """The rate at every step: ``LinearLR`` from ``init`` to ``peak`` over the warm-up steps, then
    (``SequentialLR``) the ``main`` rates, indexed by whole epochs or by steps since the warm-up."""
    lrs = np.empty(num_steps)
    for s in range(num_steps):
        if s < warmup_steps:
            lrs[s] = init + (peak - init) * s / warmup_steps
        else:
            after = s - warmup_steps
            lrs[s] = main[after // steps_per_epoch if per_epoch else after]
    return lrs


# (config overrides, steps per epoch, epochs, {"cosine": t_max} or {"sgdr": (t_0, t_mult)} in the
# main schedule's unit: epochs when per epoch, steps when per step)
CASES = {
    "llc_lif cosine: rises after T_max": (dict(schedule="cosine", cosine_epochs=4.0, min_lr=0.01), 3, 14, {"cosine": 4}),
    "cosine per step, warm-up from 0": (dict(schedule="cosine", cosine_epochs=2.0, warmup_epochs=1.0,
                                            schedule_per_epoch=False), 5, 7, {"cosine": 10}),
    "cosine default period, warm-up from init": (dict(schedule="cosine", warmup_epochs=2.0, warmup_init_lr=0.05),
                                                 4, 10, {"cosine": 8}),
    "bpsa sgdr: T_0 10, T_mult 2, warm-up 5": (dict(schedule="sgdr", sgdr_period_epochs=10.0, sgdr_mult=2.0,
                                                    warmup_epochs=5.0), 2, 300, {"sgdr": (10, 2)}),
    "sgdr T_mult 3 (log3 of 243 is 4.999... in float64)": (dict(schedule="sgdr", sgdr_period_epochs=2.0, sgdr_mult=3.0),
                                                            1, 400, {"sgdr": (2, 3)}),
    "sgdr T_mult 1, min_lr": (dict(schedule="sgdr", sgdr_period_epochs=3.0, min_lr=0.02), 2, 20, {"sgdr": (3, 1)}),
    "sgdr per step, half-epoch cycles": (dict(schedule="sgdr", sgdr_period_epochs=0.5, sgdr_mult=2.0,
                                              schedule_per_epoch=False, warmup_epochs=0.5), 4, 40, {"sgdr": (2, 2)}),
    "constant after warm-up": (dict(warmup_epochs=1.5), 4, 4, {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_matches_pytorch_at_every_step_and_restarts_on_the_same_steps(case):
    overrides, steps_per_epoch, num_epochs, main_kind = CASES[case]
    cfg = _cfg(learning_rate=0.1, **overrides)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=steps_per_epoch, num_epochs=num_epochs)
    num_steps = steps_per_epoch * num_epochs
    got = np.asarray(jax.jit(schedule)(jnp.arange(num_steps, dtype=jnp.int32)), np.float64)

    warmup_steps = int(round(cfg.warmup_epochs * steps_per_epoch))
    length = num_steps  # more main-schedule entries than needed, in either unit
    restarts = []
    if "cosine" in main_kind:
        main = torch_cosine_annealing_lr(length, 0.1, cfg.min_lr, main_kind["cosine"])
    elif "sgdr" in main_kind:
        main, restarts = torch_cosine_warm_restarts(length, 0.1, cfg.min_lr, *main_kind["sgdr"])
    else:
        main = np.full(length, 0.1)
    expected = torch_lr_per_step(num_steps, steps_per_epoch, warmup_steps, cfg.warmup_init_lr, 0.1,
                                 cfg.schedule_per_epoch, main)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)

    scale = steps_per_epoch if cfg.schedule_per_epoch else 1  # steps per unit of the main schedule
    if "cosine" in main_kind:  # lowest at T_max after the warm-up (if the run gets there), then rising again
        bottom = warmup_steps + scale * main_kind["cosine"]
        if bottom < num_steps:
            assert int(np.argmin(got[warmup_steps:])) + warmup_steps == bottom
            assert got[bottom] == pytest.approx(cfg.min_lr, abs=1e-8)
            rise = got[bottom:bottom + scale * main_kind["cosine"] + 1]
            assert np.all(np.diff(rise) >= 0) and rise[-1] > got[bottom] + 0.01
    else:  # the restarts: the steps where the rate jumps back up, after the warm-up
        expected_restarts = [warmup_steps + scale * r for r in restarts if warmup_steps + scale * r < num_steps]
        jumps = [s for s in range(warmup_steps + 1, num_steps) if got[s] > got[s - 1] + 1e-3]
        assert jumps == expected_restarts
        assert np.all(got[expected_restarts] == np.float32(0.1))
        assert len(expected_restarts) >= (3 if "sgdr" in main_kind else 0)


def test_cosine_rises_again_after_t_max_where_optax_clamps():
    cfg = _cfg(learning_rate=0.1, schedule="cosine", cosine_epochs=4.0)
    _, schedule = optim.make_optimizer(cfg, steps_per_epoch=1, num_epochs=8)
    assert _lr(schedule, 4) == pytest.approx(0.0, abs=1e-8)
    assert _lr(schedule, 6) == pytest.approx(0.05, abs=1e-7) and _lr(schedule, 8) == pytest.approx(0.1, abs=1e-7)
    assert float(optax.cosine_decay_schedule(0.1, 4)(6)) == 0.0  # which is why snnjax keeps its own


def test_sgdr_restarts_reach_past_the_run():
    assert optim.sgdr_restarts(10.0, 2.0, horizon=295.0) == [10.0, 30.0, 70.0, 150.0, 310.0]
    assert optim.sgdr_restarts(1.0, 3.0, horizon=121.0) == [1.0, 4.0, 13.0, 40.0, 121.0, 364.0]


# ----------------------------------------------------------------------------- optimisers


def _norm(tree):
    return math.sqrt(sum(float(np.sum(np.square(x))) for x in jax.tree.leaves(tree)))


def _one_update(tx, grads, params):
    state = tx.init(params)
    updates, _ = jax.jit(tx.update)(grads, state, params)
    return updates


def test_clipping_bounds_a_huge_gradient():
    params = {"a": jnp.zeros(3), "b": jnp.zeros(())}
    grads = {"a": jnp.full(3, 1e6), "b": jnp.asarray(-1e6)}
    clipped, _ = optim.make_optimizer(_cfg(name="sgd", learning_rate=1.0, momentum=0.0, grad_clip_norm=1.0), 1, 1)
    plain, _ = optim.make_optimizer(_cfg(name="sgd", learning_rate=1.0, momentum=0.0), 1, 1)
    norm = _norm(_one_update(clipped, grads, params))
    assert norm == pytest.approx(1.0, rel=1e-5)
    assert _norm(_one_update(plain, grads, params)) == pytest.approx(2e6, rel=1e-5)
    # the direction is kept: -g / |g|
    np.testing.assert_allclose(_one_update(clipped, grads, params)["a"], [-0.5] * 3, rtol=1e-5)


def test_clipping_leaves_small_gradients_alone():
    tx, _ = optim.make_optimizer(_cfg(name="sgd", learning_rate=1.0, momentum=0.0, grad_clip_norm=1.0), 1, 1)
    upd = _one_update(tx, {"a": jnp.asarray([0.3, 0.4])}, {"a": jnp.zeros(2)})
    np.testing.assert_allclose(upd["a"], [-0.3, -0.4], rtol=1e-6)


def test_clip_none_is_off():
    tx, _ = optim.make_optimizer(_cfg(name="sgd", learning_rate=1.0, momentum=0.0, grad_clip_norm=None), 1, 1)
    upd = _one_update(tx, {"a": jnp.asarray([30.0, 40.0])}, {"a": jnp.zeros(2)})
    np.testing.assert_allclose(upd["a"], [-30.0, -40.0], rtol=1e-6)


def test_adamw_decays_weights_with_zero_gradient():
    # Adam's own step is 0 / (0 + eps) = 0, leaving the decoupled decay -lr * wd * p.
    tx, _ = optim.make_optimizer(_cfg(name="adamw", learning_rate=0.1, weight_decay=0.5), 1, 1)
    params = {"w": jnp.asarray([1.0, -2.0])}
    upd = _one_update(tx, {"w": jnp.zeros(2)}, params)
    np.testing.assert_allclose(optax.apply_updates(params, upd)["w"], [0.95, -1.9], rtol=1e-6)


def test_adam_first_step_is_lr_times_sign():
    tx, _ = optim.make_optimizer(_cfg(name="adam", learning_rate=0.01, eps=1e-12), 1, 1)
    upd = _one_update(tx, {"w": jnp.asarray([3.0, -0.5])}, {"w": jnp.zeros(2)})
    np.testing.assert_allclose(upd["w"], [-0.01, 0.01], rtol=1e-5)


def test_adam_rejects_weight_decay():
    with pytest.raises(ValueError, match="adamw"):
        optim.make_optimizer(_cfg(name="adam", weight_decay=1e-4), 1, 1)


def test_sgd_momentum_and_coupled_weight_decay():
    cfg = _cfg(name="sgd", learning_rate=0.1, momentum=0.9, weight_decay=0.5)
    tx, _ = optim.make_optimizer(cfg, 1, 1)
    params = {"w": jnp.asarray(2.0)}
    state = tx.init(params)
    update = jax.jit(tx.update)
    # step 1: g = 1 + 0.5 * 2 = 2, buf = 2, update = -0.2
    u1, state = update({"w": jnp.asarray(1.0)}, state, params)
    assert float(u1["w"]) == pytest.approx(-0.2, rel=1e-6)
    params = optax.apply_updates(params, u1)  # w = 1.8
    # step 2: g = 1 + 0.5 * 1.8 = 1.9, buf = 0.9 * 2 + 1.9 = 3.7, update = -0.37
    u2, state = update({"w": jnp.asarray(1.0)}, state, params)
    assert float(u2["w"]) == pytest.approx(-0.37, rel=1e-6)


def test_optimizer_uses_the_schedule_under_jit():
    cfg = _cfg(name="sgd", learning_rate=1.0, momentum=0.0, schedule="cosine", cosine_epochs=2)
    tx, _ = optim.make_optimizer(cfg, steps_per_epoch=2, num_epochs=2)
    params = {"w": jnp.asarray(0.0)}
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        updates, state = tx.update({"w": jnp.asarray(1.0)}, state, params)
        return optax.apply_updates(params, updates), state

    deltas = []
    for _ in range(5):
        new, state = step(params, state)
        deltas.append(float(params["w"] - new["w"]))
        params = new
    # per-epoch cosine, T_max = 2: epochs 0, 0, 1, 1, 2 -> lr 1, 1, 0.5, 0.5, 0
    np.testing.assert_allclose(deltas, [1.0, 1.0, 0.5, 0.5, 0.0], atol=1e-6)


@pytest.mark.parametrize("field, value, choices", [("name", "rmsprop", "adamw"), ("schedule", "step", "sgdr")])
def test_unknown_names_list_the_choices(field, value, choices):
    with pytest.raises(ValueError, match=choices):
        optim.make_optimizer(_cfg(**{field: value}), 1, 1)


def test_bad_settings_raise():
    with pytest.raises(ValueError):
        optim.make_optimizer(_cfg(schedule="sgdr", sgdr_mult=0.5), 1, 1)
    with pytest.raises(ValueError):
        optim.make_optimizer(_cfg(), steps_per_epoch=0, num_epochs=1)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_optimizers_work_under_strict_dtype_promotion(name):
    tx, _ = optim.make_optimizer(_cfg(name=name, learning_rate=0.01, grad_clip_norm=1.0), 1, 1)
    params = {"w": jnp.ones(3, jnp.float32)}
    with jax.numpy_dtype_promotion("strict"):
        state = tx.init(params)
        updates, state = jax.jit(tx.update)({"w": jnp.ones(3, jnp.float32)}, state, params)
    assert updates["w"].dtype == jnp.float32
    np.testing.assert_allclose(updates["w"], -0.01 if name != "sgd" else -0.01 / math.sqrt(3), rtol=1e-4)
