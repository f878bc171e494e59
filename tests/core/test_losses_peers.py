"""The peers' losses and regularisers against their formulas in NumPy (and snnTorch where installed),
and their selection and validation from ``config.loss``."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from snnjax import losses
from snnjax.tool.config import default_loss_config
from snnjax.layers import NeuronConfig
from snnjax.models import ModelOutput, SequenceSNN

T, B, K = 6, 4, 5


def _out(seed=0, spikes=True):
    rng = np.random.default_rng(seed)
    return (rng.random((T, B, K)) < 0.4).astype(np.float32) if spikes else rng.normal(0, 1, (T, B, K)).astype(np.float32)


LABELS = np.array([0, 3, 4, 1])


def _np_ce(logits, y):
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def _onehot(y, k=K):
    return np.eye(k)[y]


def test_ce_rate_and_tet_are_the_time_average_of_per_step_cross_entropy():
    o = _out()
    expected = np.mean([_np_ce(o[t].astype(np.float64), LABELS) for t in range(T)])
    np.testing.assert_allclose(float(losses.ce_rate(jnp.asarray(o), jnp.asarray(LABELS))), expected, rtol=1e-6)
    np.testing.assert_allclose(float(losses.tet(jnp.asarray(o), jnp.asarray(LABELS))), expected, rtol=1e-6)
    # TET with its MSE term (Deng et al. 2022, Eq. 10): (1 - λ) L_TET + λ mean (o - φ)²
    got = float(losses.tet(jnp.asarray(o), jnp.asarray(LABELS), tet_lambda=0.3, tet_target=0.8))
    np.testing.assert_allclose(got, 0.7 * expected + 0.3 * np.mean((o - 0.8) ** 2), rtol=1e-6)


def test_ce_count_mse_count_and_membrane_losses_match_their_formulas():
    o = _out(1)
    counts = o.sum(0).astype(np.float64)
    np.testing.assert_allclose(float(losses.ce_count(jnp.asarray(o), jnp.asarray(LABELS))), _np_ce(counts, LABELS), rtol=1e-6)
    target = T * (0.75 * _onehot(LABELS) + 0.25 * (1 - _onehot(LABELS)))
    got = float(losses.mse_count(jnp.asarray(o), jnp.asarray(LABELS), correct_rate=0.75, incorrect_rate=0.25))
    np.testing.assert_allclose(got, np.mean((counts - target) ** 2) / T, rtol=1e-6)
    got_sum = float(losses.mse_count(jnp.asarray(o), jnp.asarray(LABELS), reduction="sum", correct_rate=0.75, incorrect_rate=0.25))
    np.testing.assert_allclose(got_sum, np.mean(np.sum((counts - target) ** 2, -1)) / T, rtol=1e-6)
    mem = _out(2, spikes=False)
    tgt = 1.5 * _onehot(LABELS) - 0.5 * (1 - _onehot(LABELS))
    got = float(losses.mse_membrane(jnp.asarray(mem), jnp.asarray(LABELS), on_target=1.5, off_target=-0.5))
    np.testing.assert_allclose(got, np.mean([np.mean((mem[t] - tgt) ** 2) for t in range(T)]), rtol=1e-6)
    got = float(losses.ce_max_membrane(jnp.asarray(mem), jnp.asarray(LABELS)))
    np.testing.assert_allclose(got, _np_ce(mem.max(0).astype(np.float64), LABELS), rtol=1e-6)


def test_regularisers_match_snntorch_and_spyx_formulas():
    rng = np.random.default_rng(3)
    counts = {"a": {"count": (jnp.asarray(rng.integers(0, 4, (B, 6)), jnp.float32),)},
              "b": {"count": (jnp.asarray(rng.integers(0, 4, (B, 3, 2)), jnp.float32),)}}
    flat = [np.asarray(counts["a"]["count"][0]), np.asarray(counts["b"]["count"][0]).reshape(B, -1)]
    np.testing.assert_allclose(float(losses.l1_rate_sparsity(counts, 1e-3)), 1e-3 * sum(c.sum() for c in flat), rtol=1e-6)
    expected = sum(np.sum(np.maximum(0, 2.0 - c.mean(0)) ** 2) for c in flat)
    np.testing.assert_allclose(float(losses.silence_reg(counts, 2.0)), expected, rtol=1e-6)
    huber = lambda d: np.where(np.abs(d) <= 1, 0.5 * d ** 2, np.abs(d) - 0.5)
    expected = sum(np.sum(huber(np.maximum(0, c.mean(-1) - 0.5))) for c in flat)
    np.testing.assert_allclose(float(losses.sparsity_reg(counts, 0.5)), expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["ce_rate", "ce_count", "mse_count", "tet", "mse_membrane", "ce_max_membrane"])
def test_peer_losses_keep_float64_and_promote_half_precision(name):
    fn = getattr(losses, name)
    with jax.enable_x64(True):
        o = _out(4, spikes=name not in ("mse_membrane", "ce_max_membrane")).astype(np.float64)
        o = o + 1e-9 * np.arange(o.size).reshape(o.shape)  # below float32's resolution
        got = fn(jnp.asarray(o), jnp.asarray(LABELS))
        assert got.dtype == jnp.float64
        got_32 = fn(jnp.asarray(o, jnp.float32), jnp.asarray(LABELS))
        assert got_32.dtype == jnp.float32
        assert float(got) != float(got_32)  # the float64 input was not rounded to float32 first
    assert fn(jnp.asarray(o, jnp.bfloat16), jnp.asarray(LABELS)).dtype == jnp.float32


def test_regularisers_sum_in_the_counts_precision():
    loss_cfg = ml_collections.ConfigDict(dict(default_loss_config(), l1_rate_sparsity=1e-3, silence_reg=0.5,
                                              sparsity_reg=0.1))
    with jax.enable_x64(True):
        counts = {"a": {"count": (jnp.asarray(np.random.default_rng(5).integers(0, 4, (B, 6)), jnp.float64),)}}
        total, parts = losses.regularisation(counts, loss_cfg)
        assert total.dtype == jnp.float64 and all(v.dtype == jnp.float64 for v in parts.values())
        assert set(parts) == {"reg_l1_rate_sparsity", "reg_silence_reg", "reg_sparsity_reg"}
        np.testing.assert_allclose(float(total), 1e-3 * float(parts["reg_l1_rate_sparsity"])
                                   + 0.5 * float(parts["reg_silence_reg"]) + 0.1 * float(parts["reg_sparsity_reg"]))
    none, parts = losses.regularisation(counts, ml_collections.ConfigDict(default_loss_config()))
    assert parts == {} and none.dtype == jnp.float32 and float(none) == 0.0


def test_a_float64_loss_adds_the_float32_counts_regulariser_in_float64():
    """Counts sown in float32 (a float32 or bfloat16 layer inside a float64 run; tests run with strict
    dtype promotion, where float64 + float32 is an error)."""
    loss_cfg = ml_collections.ConfigDict(dict(default_loss_config(), silence_reg=0.5))
    counts = {"a": {"count": (jnp.asarray(np.random.default_rng(6).integers(0, 4, (B, 6)), jnp.float32),)}}
    with jax.enable_x64(True):
        output = ModelOutput(out=jnp.asarray(_out(7), jnp.float64))
        total, parts = losses.total_loss_from_config(output, jnp.asarray(LABELS), loss_cfg, spike_counts=counts)
        assert total.dtype == jnp.float64
        np.testing.assert_allclose(float(total), float(parts["loss_global"]) + 0.5 * float(parts["reg_silence_reg"]),
                                   rtol=1e-12)


def test_snntorch_losses_equal_ours():
    torch = pytest.importorskip("torch")
    sf = pytest.importorskip("snntorch.functional")
    o = _out(4)
    y = torch.tensor(LABELS)
    cases = [
        (sf.ce_rate_loss(), losses.ce_rate(jnp.asarray(o), jnp.asarray(LABELS))),
        (sf.ce_count_loss(), losses.ce_count(jnp.asarray(o), jnp.asarray(LABELS))),
        (sf.mse_count_loss(correct_rate=0.5, incorrect_rate=0.0),  # T·rate integral: snnTorch truncates
         losses.mse_count(jnp.asarray(o), jnp.asarray(LABELS), correct_rate=0.5, incorrect_rate=0.0)),
        (sf.ce_max_membrane_loss(), losses.ce_max_membrane(jnp.asarray(o), jnp.asarray(LABELS))),
        (sf.mse_membrane_loss(on_target=1.0, off_target=0.0), losses.mse_membrane(jnp.asarray(o), jnp.asarray(LABELS))),
    ]
    for peer, ours in cases:
        np.testing.assert_allclose(float(ours), float(peer(torch.tensor(o), y)), rtol=1e-5)
    reg = sf.reg.l1_rate_sparsity(Lambda=1e-2)
    np.testing.assert_allclose(float(losses.l1_rate_sparsity({"l": {"count": (jnp.asarray(o.sum(0)),)}}, 1e-2)),
                               float(reg(torch.tensor(o))), rtol=1e-6)


def test_spikingjelly_tet_equals_ours():
    torch = pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional

    o = _out(5, spikes=False)
    peer = functional.temporal_efficient_training_cross_entropy(torch.tensor(o), torch.tensor(LABELS))
    np.testing.assert_allclose(float(losses.tet(jnp.asarray(o), jnp.asarray(LABELS))), float(peer), rtol=1e-5)


def _cfg(**kw):
    c = default_loss_config()
    c.update(kw)
    return c


@pytest.mark.slow
def test_total_loss_from_config_applies_options_and_regularisers():
    model = SequenceSNN(hidden=(6, 5), num_outputs=K, neuron=NeuronConfig(kind="lif", decay=0.6, v_th=0.2))
    x = jax.random.uniform(jax.random.PRNGKey(0), (B, 3, 3, 1))
    variables = model.init(jax.random.PRNGKey(1), x, train=False)
    output, cols = model.apply(variables, x, train=False, mutable=["spike_counts"])
    counts = cols["spike_counts"]
    assert set(counts) == {"neuron0", "neuron1"}
    cfg = _cfg(name="mse_count", correct_rate=0.6, l1_rate_sparsity=1e-3, silence_reg=0.5, silence_min_spikes=2.0)
    total, parts = losses.total_loss_from_config(output, jnp.asarray(LABELS), cfg, counts)
    base = losses.mse_count(output.out, jnp.asarray(LABELS), correct_rate=0.6)
    reg = 1e-3 * losses.l1_rate_sparsity(counts, 1.0) + 0.5 * losses.silence_reg(counts, 2.0)
    np.testing.assert_allclose(float(total), float(base + reg), rtol=1e-6)
    assert set(parts) == {"loss", "loss_global", "reg_l1_rate_sparsity", "reg_silence_reg"}
    with pytest.raises(ValueError, match="pass the spike_counts collection"):
        losses.total_loss_from_config(output, jnp.asarray(LABELS), cfg)
    # the default config is exactly total_loss
    np.testing.assert_allclose(float(losses.total_loss_from_config(output, jnp.asarray(LABELS), _cfg(name="cross_entropy"))[0]),
                               float(losses.total_loss(output, jnp.asarray(LABELS), "cross_entropy")[0]), rtol=1e-7)


def test_bad_loss_configs_get_clear_errors():
    assert losses.config_problems(default_loss_config()) == []
    problems = losses.config_problems(_cfg(name="ce_rat", tet_lambda=1.5, silence_reg=-1.0, correct_rate=2.0))
    assert any("loss.name='ce_rat' is unknown" in p for p in problems)
    assert any("tet_lambda=1.5 must be in [0, 1]" in p for p in problems)
    assert any("silence_reg=-1.0 is a weight and must be >= 0" in p for p in problems)
    assert any("correct_rate=2.0 is a firing rate" in p for p in problems)
    assert len(problems) == 4


def test_new_losses_are_selectable_by_name_through_total_loss():
    output = ModelOutput(out=jnp.asarray(_out(6)), readout="mean")
    for name in ["ce_rate", "ce_count", "mse_count", "tet", "mse_membrane", "ce_max_membrane"]:
        loss, _ = losses.total_loss(output, jnp.asarray(LABELS), name)
        assert np.isfinite(float(loss))
        np.testing.assert_allclose(float(loss), float(losses.LOSSES[name](output.out, jnp.asarray(LABELS))))
