"""Tests of the training loop (snnjax.tool.train_lib) on shrunken configs."""

import dataclasses
import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from snnjax.tool import checkpointing
from snnjax import data as data_lib
from snnjax.tool import device_loop as dl
from snnjax import neurons
from snnjax.tool import evaluation
from snnjax.tool import run_dir
from snnjax.tool import run_summary
from snnjax.tool import steppers
from snnjax.tool import validate
from snnjax.tool import input_pipeline as pipeline
from snnjax.tool import train_lib as tl
from snnjax.tool import train_steps as steps
from snnjax.tool.config import base_config
from snnjax.data.dataset import ArraySplit
from snnjax.models import build_model
from snnjax.core.output import ModelOutput

REPO = Path(__file__).resolve().parents[2]


def smoke_config() -> ml_collections.ConfigDict:
    spec = importlib.util.spec_from_file_location("smoke", REPO / "configs" / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def tiny(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The smoke config shrunk to a few cheap steps (batch divisible by conftest's 4 devices)."""
    config.model.spec = "4c3-p2-8c3-p2-20-10"
    config.model.time_steps = 2
    config.train.batch_size = 32
    config.train.eval_batch_size = 256  # 1000 test images: 3 full batches and one padded
    config.train.num_epochs = 0.02  # 3 of 156 steps
    config.train.log_every_steps = 2
    config.train.checkpoint_every_steps = 2
    return config


# --------------------------------------------------------------------------- the whole loop


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    config = tiny(smoke_config())
    config.model.neuron.kind = "llc_lif"  # learnable leaks, logged as leak/<layer>
    summary = tl.train_and_evaluate(config, workdir, progress=False)
    return workdir, config, summary


def test_train_and_evaluate_writes_files_and_summary(smoke_run):
    workdir, config, summary = smoke_run
    for key in ("final_test_accuracy", "best_test_accuracy", "num_params", "wall_time_s", "samples_per_s",
                "firing_rates", "energy", "device", "jax_version", "config"):
        assert key in summary, key
    assert summary == json.loads((workdir / "summary.json").read_text())
    assert summary["steps"] == 3
    # one evaluation: the best is that evaluation, and its checkpoint is the last one, kept
    assert summary["best_test_accuracy"] == summary["final_test_accuracy"]
    assert summary["best_checkpoint"]["step"] == 3 and summary["best_checkpoint"]["metric"] == "test_accuracy"
    assert Path(summary["best_checkpoint"]["path"]).is_dir()
    assert run_dir.load_run(workdir, step=summary["best_checkpoint"]["step"], with_data=False).step == 3
    assert summary["device"]["count"] == jax.device_count()
    assert summary["jax_version"] == jax.__version__
    assert summary["config"]["model"]["spec"] == config.model.spec
    # the number of parameters is the model's
    variables = jax.eval_shape(lambda x: build_model(config.model, 10).init(jax.random.PRNGKey(0), x, train=False),
                               jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32))
    assert summary["num_params"] == sum(math.prod(x.shape) for x in jax.tree.leaves(variables["params"]))
    # one firing rate per spiking layer, named by module path
    assert set(summary["firing_rates"]) == {"conv0/neuron", "conv1/neuron", "fc0_neuron"}
    assert all(0.0 <= r <= 1.0 for r in summary["firing_rates"].values())
    # energy: every synaptic layer, the paper's constants recorded
    energy = summary["energy"]
    assert {l["name"] for l in energy["layers"]} == {"conv0/conv", "conv1/conv", "fc0"}
    assert energy["e_mac"] == pytest.approx(4.6e-12) and energy["e_ac"] == pytest.approx(0.1e-12)
    assert energy["time_steps"] == config.model.time_steps
    assert energy["e_snn"] > 0 and energy["e_ann"] > 0
    assert json.loads((workdir / "config.json").read_text())["model"]["spec"] == config.model.spec
    assert any(p.name.startswith("events.out.tfevents") for p in (workdir / "tb").iterdir())


def test_metrics_jsonl_holds_train_eval_firing_rates_and_leaks(smoke_run):
    workdir, config, _ = smoke_run
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "train/loss" in r]
    evals = [r for r in records if "test/accuracy" in r]
    assert [r["step"] for r in train] == [2, 3]  # one line per log step (every 2) and the epoch's end
    assert all("train/accuracy" in r and "train/learning_rate" in r for r in train)
    assert not any(k.startswith("train/finite") or k.startswith("train/nonfinite") for r in train for k in r)
    assert len(evals) == 1 and evals[0]["step"] == 3
    assert {k for k in evals[0] if k.startswith("firing_rate/")} == {
        "firing_rate/conv0/neuron", "firing_rate/conv1/neuron", "firing_rate/fc0_neuron"}
    (leak_record,) = [r for r in records if any(k.startswith("leak/") for k in r)]
    leaks = {k: v for k, v in leak_record.items() if k.startswith("leak/")}
    assert set(leaks) == {"leak/conv0", "leak/conv1", "leak/fc0_neuron"}
    # the logged leak is the neuron's: llc_leak(a, decay_input) (smoke.py: decay_input=True, sigmoid(-a))
    assert config.model.neuron.decay_input is True
    params = run_dir.load_run(workdir, step=leak_record["step"], with_data=False).variables["params"]
    for name, path in {"leak/conv0": ("conv0", "a"), "leak/conv1": ("conv1", "a"),
                       "leak/fc0_neuron": ("fc0_neuron", "a")}.items():
        a = params[path[0]][path[1]]
        assert leaks[name] == pytest.approx(float(np.mean(neurons.llc_leak(a, decay_input=True))), rel=1e-6)
        assert leaks[name] != pytest.approx(float(np.mean(neurons.llc_leak(a, decay_input=False))), rel=1e-3)


@pytest.mark.parametrize("decay_input", [False, True])
def test_leak_values_are_the_neurons_leak_for_both_forms(decay_input):
    a = np.asarray([-1.5, 0.0, 2.0], np.float32)
    params = {"conv0": {"a": a, "kernel": np.ones(3, np.float32)}, "fc0_neuron": {"a": np.float32(0.7)}}
    leaks = run_summary.leak_values(params, decay_input=decay_input)
    assert set(leaks) == {"leak/conv0", "leak/fc0_neuron"}
    assert leaks["leak/conv0"] == pytest.approx(float(np.mean(neurons.llc_leak(a, decay_input))), rel=1e-6)
    assert leaks["leak/fc0_neuron"] == pytest.approx(float(neurons.llc_leak(np.float32(0.7), decay_input)), rel=1e-6)
    expected = 1 / (1 + np.exp(0.7)) if decay_input else 1 / (1 + np.exp(-0.7))  # sigmoid(-a) / sigmoid(a)
    assert leaks["leak/fc0_neuron"] == pytest.approx(expected, rel=1e-6)


def test_checkpoints_mid_epoch_and_at_the_end(smoke_run):
    workdir, _, _ = smoke_run
    with checkpointing.Checkpointer(workdir / "checkpoints") as ckpt:
        assert ckpt.all_steps() == [2, 3]  # checkpoint_every_steps=2, and the end
        _, meta = ckpt.restore()
    assert meta["step"] == 3 and "best_test_accuracy" in meta["best"]


def test_resuming_with_a_different_config_is_refused(smoke_run):
    workdir, config, _ = smoke_run
    changed = ml_collections.ConfigDict(config.to_dict())
    changed.optim.learning_rate = 0.5
    with pytest.raises(validate.ConfigError, match="optim.learning_rate"):
        tl.train_and_evaluate(changed, workdir, progress=False)
    lengthened = ml_collections.ConfigDict(config.to_dict())
    lengthened.train.eval_every_epochs = 2  # cadence keys may change
    assert tl.check_resumed_config(json.loads((workdir / "config.json").read_text()), lengthened, False) == []


def test_a_key_added_since_the_run_started_is_no_change_at_its_default(smoke_run):
    workdir, config, _ = smoke_run
    saved = json.loads((workdir / "config.json").read_text())
    del saved["model"]["neuron"]["precision"], saved["model"]["trunk_calls"]  # a run saved before these keys
    assert tl.check_resumed_config(saved, config, False) == []
    changed = ml_collections.ConfigDict(config.to_dict())
    changed.model.trunk_calls = 2  # a new key away from its default does change what the run computes
    with pytest.raises(validate.ConfigError, match="model.trunk_calls: '<absent>' .saved. -> 2"):
        tl.check_resumed_config(saved, changed, False)


# --------------------------------------------------------------------------- pieces


def test_truncate_metrics_drops_records_after_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "train/loss": 1.0}) + "\n" for s in (2, 4, 6, 8)))
    tl.truncate_metrics(path, 5)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [2, 4]


def test_epoch_permutation_is_a_pure_function_of_seed_and_epoch():
    a = pipeline.epoch_permutation(0, 3, 100)
    np.testing.assert_array_equal(a, pipeline.epoch_permutation(0, 3, 100))
    np.testing.assert_array_equal(np.sort(a), np.arange(100))
    assert not np.array_equal(a, pipeline.epoch_permutation(0, 4, 100))
    assert not np.array_equal(a, pipeline.epoch_permutation(1, 3, 100))
    batches = [pipeline.train_batch_indices(a, i, 32) for i in range(100 // 32)]
    assert all(len(b) == 32 for b in batches)
    assert len(np.unique(np.concatenate(batches))) == 96  # distinct examples; the last 4 dropped


def test_run_length_epochs_steps_and_fractions():
    cfg = base_config().train
    cfg.batch_size, cfg.num_epochs = 32, 2.5
    length = pipeline.run_length(cfg, 100)  # 3 steps per epoch, the incomplete batch dropped
    assert (length.steps_per_epoch, length.total_steps, length.num_epochs) == (3, 8, 3)
    assert [length.steps_in_epoch(e) for e in range(3)] == [3, 3, 2]
    cfg.num_steps = 10  # a step budget overrides num_epochs
    assert pipeline.run_length(cfg, 100).total_steps == 10


class _Oracle(nn.Module):
    """Predicts class ``round(x[0])``: out[t, b] = one_hot(x[b, 0]) at every step."""

    @nn.compact
    def __call__(self, x, *, train):
        del train
        out = jax.nn.one_hot(x[:, 0].astype(jnp.int32), 3, dtype=jnp.float32)
        return ModelOutput(out=jnp.stack([out, out]), readout="mean")


def test_eval_is_exact_over_a_set_that_is_not_a_multiple_of_the_batch():
    """10 examples in batches of 4: the padded last batch must count 2 examples, not 4."""
    pred = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 2, 0, 1], np.int32)  # the last 3 wrong
    split = ArraySplit(pred[:, None], labels)
    mesh = pipeline.make_mesh(jax.devices()[:4] if jax.device_count() >= 4 else jax.devices()[:1])
    loss_cfg = base_config().loss  # mse_rate
    state = steps.TrainState(step=jnp.zeros((), jnp.int32), params={}, batch_stats={}, opt_state=())
    step = steps.jit_eval_step(steps.make_eval_step(_Oracle(), loss_cfg, "classification", jax.random.PRNGKey(0)), mesh)
    result = evaluation.evaluate(step, state, split, 4, mesh)
    assert result.metrics["accuracy"] == pytest.approx(0.7)  # not 0.75 (padding counted) nor 0.667 (batch means)
    one_hot = np.eye(3)[pred.astype(int)]
    expected_loss = np.mean(np.mean((one_hot - np.eye(3)[labels]) ** 2, axis=1))
    assert result.metrics["loss"] == pytest.approx(expected_loss, rel=1e-6)


def test_eval_batches_pad_by_wrapping_and_mask():
    batches = list(pipeline.eval_batches(10, 4))
    assert [len(i) for i, _ in batches] == [4, 4, 4]
    np.testing.assert_array_equal(batches[-1][0], [8, 9, 0, 1])
    np.testing.assert_array_equal(batches[-1][1], [True, True, False, False])


def test_energy_report_uses_the_paper_constants():
    synops = {"conv0/conv": {"macs": 100.0, "input_rate": 0.3, "analog_input": True, "steps": 1},
              "fc0": {"macs": 50.0, "input_rate": 0.1, "analog_input": False, "steps": 4}}
    report = run_summary.energy_report(synops)
    assert report["time_steps"] == 4
    assert report["e_ann"] == pytest.approx(150 * 4.6e-12)
    assert report["e_snn"] == pytest.approx(100 * 4 * 4.6e-12 + 50 * 0.1 * 4 * 0.1e-12)


# --------------------------------------------------------------------------- safety


@pytest.mark.slow
def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """NaN inputs from epoch 1 on: the run stops at its first step with a clear message, and the
    checkpoint of the end of epoch 0 stays the latest, with finite parameters."""
    real_load = data_lib.load

    @dataclasses.dataclass(frozen=True)
    class NaNFromEpoch1:
        base: object

        @property
        def num_examples(self):
            return self.base.num_examples

        def get(self, indices, epoch=0):
            x, y = self.base.get(indices, epoch)
            return (x * np.float32(np.nan) if epoch >= 1 else x), y

    def load(cfg):
        dataset = real_load(cfg)
        return dataclasses.replace(dataset, train=NaNFromEpoch1(dataset.train))

    monkeypatch.setattr(tl.data_lib, "load", load)
    config = tiny(smoke_config())
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test = 64, 8
    config.train.eval_batch_size = 8
    config.train.num_epochs = 2.0  # 2 steps per epoch
    config.train.checkpoint_every_steps = 0
    (tmp_path / "summary.json").write_text("{}")  # a stale summary from an earlier run
    with pytest.raises(tl.NonFiniteLossError) as error:
        tl.train_and_evaluate(config, tmp_path, progress=False)
    message = str(error.value)
    # the loss of an all-NaN batch through spiking layers stays finite; the gradients do not
    assert "non-finite grad_norm (nan) at step 3" in message  # what was non-finite, and its value
    assert "learning_rate" in message and "grad_clip_norm" in message
    assert "last good checkpoint is step 2" in message
    with checkpointing.Checkpointer(tmp_path / "checkpoints") as ckpt:
        assert ckpt.latest_step() == 2
        state, _ = ckpt.restore()
    assert checkpointing.is_finite_tree(state)
    assert not (tmp_path / "summary.json").exists()


# --------------------------------------------------------------------------- the loop on the device


def _final_checkpoint(workdir):
    with checkpointing.Checkpointer(workdir / "checkpoints") as ckpt:
        steps = ckpt.all_steps()
        state, _ = ckpt.restore()
    return steps, state


def _train_records(workdir):
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "train/samples_per_s"} for r in records]


@pytest.mark.slow
@pytest.mark.parametrize("augment", ["none", "affine"])
def test_device_loop_with_k_steps_per_call_equals_the_host_loop(tmp_path, augment):
    """K = 3 steps per call, cadences (log and checkpoint every 2) not multiples of K, 4 devices,
    rate coding (per-step keys) and, in one case, the llc-lif RandomAffine: the device loop's final
    state equals the host loop's within 1e-6 (not bitwise: XLA compiles the step inside a while loop
    with other fusions, so float32 sums round in another order; see snnjax.tool.device_loop), and the
    checkpoint steps and the metrics file's records are the same."""
    runs = {}
    for loop in ("host", "device"):
        config = tiny(smoke_config())
        config.model.encoder = "rate"
        config.data.augment = augment
        config.train.num_epochs = 0.05  # 8 steps
        config.train.loop = loop
        config.train.max_checkpoints = 10
        config.train.steps_per_call = 3
        summary = tl.train_and_evaluate(config, tmp_path / loop, progress=False)
        assert summary["loop"]["kind"] == loop
        runs[loop] = (*_final_checkpoint(tmp_path / loop), _train_records(tmp_path / loop), summary)
    (host_steps, host_state, host_records, host_summary) = runs["host"]
    (dev_steps, dev_state, dev_records, dev_summary) = runs["device"]
    assert host_steps == dev_steps == [2, 4, 6, 8]  # the checkpoint cadence kept its meaning
    assert jax.tree.structure(host_state) == jax.tree.structure(dev_state)
    for a, b in zip(jax.tree.leaves(host_state), jax.tree.leaves(dev_state)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
    assert int(dev_state["step"]) == 8
    assert [r["step"] for r in dev_records if "train/loss" in r] == [2, 4, 6, 8]  # one line per log step
    assert [sorted(r) for r in dev_records] == [sorted(r) for r in host_records]
    for d, h in zip(dev_records, host_records):  # same train losses, same evaluation
        assert d == pytest.approx(h, rel=1e-5, abs=1e-7)
    assert dev_summary["final_test_loss"] == pytest.approx(host_summary["final_test_loss"], rel=1e-5)


def test_call_length_cuts_calls_at_every_cadence():
    # K = 5, log every 4, checkpoint every 6, 10 steps per epoch, starting at step 0 of epoch 0
    lengths, step = [], 0
    while step < 10:
        n = dl.call_length(step, step, 10, 5, 4, 6)
        lengths.append(n)
        step += n
    assert lengths == [4, 2, 2, 2]  # ends at 4 (log), 6 (checkpoint), 8 (log), 10 (epoch end)
    assert dl.call_length(12, 2, 10, 5, 0, 0) == 5  # no cadence: K
    assert dl.call_length(17, 7, 10, 5, 0, 0) == 3  # the epoch's end


def test_choose_loop_by_size_platform_and_switch():
    assert dl.choose_loop("auto", 10, 100, "gpu")[0] == "device"
    assert dl.choose_loop("auto", 1000, 100, "gpu")[0] == "host"
    assert dl.choose_loop("auto", 10, 100, "cpu")[0] == "device"  # faster there too since layers.conv
    assert dl.choose_loop("auto", 1000, 100, "cpu")[0] == "host"
    assert dl.choose_loop("device", 1000, 100, "cpu")[0] == "device"
    assert dl.choose_loop("host", 10, 100, "gpu")[0] == "host"


def test_host_arrays_equal_get_over_all_indices():
    """The device loop's copy of a split is what ``get`` gives, index by index (epoch 3)."""
    config = smoke_config()
    with config.unlocked():
        config.data.augment = "affine"
    dataset = data_lib.load(config.data)
    arrays = dl.host_arrays(dataset.train, epoch=3)
    idx = np.array([0, 17, 4999])
    x, y = dataset.train.get(idx, epoch=3)
    np.testing.assert_array_equal(arrays.x[idx].astype(np.float32) * np.float32(arrays.x_scale), x)
    np.testing.assert_array_equal(arrays.y[idx], y)
    assert not dl.epoch_invariant(dataset.train)


def test_a_short_run_learns_well_above_chance(tmp_path):
    """40 steps of a small dense net on mnist_small: a loop that fed wrong labels, reused one batch or
    dropped the updates would stay near the 10 % of chance."""
    config = smoke_config()
    config.model.spec = "100-10"
    config.model.norm = "none"
    config.train.batch_size = 32
    config.train.num_steps = 40
    config.train.log_every_steps = 10
    config.train.checkpoint_every_steps = 0
    summary = tl.train_and_evaluate(config, tmp_path, progress=False)
    assert summary["final_test_accuracy"] > 0.6
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train/loss" in r] == [10, 20, 30, 40]


# --------------------------------------------------------------------------- reliability (issue 15)


class _InfStats(nn.Module):
    """A finite loss with a running statistic that overflows to inf on inputs above 1."""

    @nn.compact
    def __call__(self, x, *, train):
        w = self.param("w", nn.initializers.ones, (x.shape[-1], 3))
        stat = self.variable("batch_stats", "var", lambda: jnp.ones((), jnp.float32))
        if train:
            stat.value = jnp.max(x) * jnp.float32(3e38)  # inf once max(x) > ~1.13
        out = x.reshape(x.shape[0], -1)[:, :1] @ w[:1]
        return ModelOutput(out=jnp.stack([out, out]), readout="mean")


def test_the_guard_covers_batch_stats_and_names_the_leaf():
    import optax

    model, tx = _InfStats(), optax.sgd(0.1)
    x = jnp.full((4, 2), 2.0, jnp.float32)
    state = steps.init_state(model, tx, x, jax.random.PRNGKey(0))
    step = jax.jit(steps.make_train_step(model, tx, optax.constant_schedule(0.1), base_config().loss,
                                         "classification", jax.random.PRNGKey(1)))
    new, metrics = step(state, x, jnp.zeros((4,), jnp.int32))
    assert np.isfinite(float(metrics["loss"])) and not bool(metrics["finite"])
    names = steps.guarded_names(state)
    assert names[int(metrics["nonfinite_leaf"])] == "batch_stats/var"
    assert float(metrics["nonfinite_value"]) == np.inf
    assert float(new.batch_stats["var"]) == 1.0 and int(new.step) == 0  # keep_last_good: not applied
    _, ok = step(state, x * 0.1, jnp.zeros((4,), jnp.int32))
    assert bool(ok["finite"]) and int(ok["nonfinite_leaf"]) == -1


def test_a_second_trainer_on_a_workdir_is_refused_naming_the_holder(tmp_path):
    from snnjax.tool import run_lock

    with run_lock.RunLock(tmp_path):
        with pytest.raises(run_lock.RunLockedError, match=rf"in use by another trainer \(process {os.getpid()} "):
            tl.train_and_evaluate(tiny(smoke_config()), tmp_path, progress=False)
    assert not (tmp_path / "config.json").exists() and not (tmp_path / "checkpoints").exists()


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
    from snnjax.tool import run_lock

    code = f"from snnjax.tool.run_lock import RunLock; RunLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); input()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(run_lock.RunLockedError, match=f"process {proc.pid} "):
        run_lock.RunLock(tmp_path).acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / ".lock").read_text().startswith(str(proc.pid))  # the stale file stays...
    run_lock.RunLock(tmp_path).acquire().release()  # ...and does not block


def _snapshot(workdir):
    return {p.name: p.read_bytes() for p in workdir.iterdir() if p.is_file() and p.name != ".lock"}


def test_rerunning_a_finished_run_does_nothing_and_says_so(smoke_run, capsys):
    workdir, config, summary = smoke_run
    before = _snapshot(workdir)
    assert tl.train_and_evaluate(config, workdir, progress=False) == summary
    assert "nothing to do" in capsys.readouterr().err
    assert _snapshot(workdir) == before  # no second eval record, config.json not rewritten


# A restore that fails (the changed model does not fit the checkpoint) leaves orbax/tensorstore read
# coroutines unawaited; they are reported at garbage collection, not by this test's code.
@pytest.mark.filterwarnings("ignore:Exception ignored in:pytest.PytestUnraisableExceptionWarning")
def test_a_failed_config_change_resume_writes_nothing(smoke_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run[0], workdir)
    before = _snapshot(workdir)
    changed = ml_collections.ConfigDict(smoke_run[1].to_dict())
    changed.model.spec = "4c3-p2-8c3-p2-30-10"  # the checkpoint cannot be restored into this model
    with pytest.raises(Exception):
        tl.train_and_evaluate(changed, workdir, allow_config_change=True, progress=False)
    assert _snapshot(workdir) == before  # config.json, metrics.jsonl, summary, history untouched
    assert tl.train_and_evaluate(smoke_run[1], workdir, progress=False)["steps"] == 3  # still readable


@pytest.mark.slow
def test_config_history_records_which_steps_ran_under_which_config(smoke_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run[0], workdir)
    longer = ml_collections.ConfigDict(smoke_run[1].to_dict())
    longer.train.num_epochs = 0.025  # round(3.9) = 4 steps: one more
    assert tl.train_and_evaluate(longer, workdir, progress=False)["steps"] == 4
    history = [json.loads(line) for line in (workdir / "config_history.jsonl").read_text().splitlines()]
    assert [h["from_step"] for h in history] == [0, 3]
    assert history[0]["changes"] == [] and history[0]["config"]["train"]["num_epochs"] == 0.02
    assert history[1]["changes"] == ["train.num_epochs: 0.02 (saved) -> 0.025 (now)"]
    assert not (workdir / "summary.json").read_text() == (smoke_run[0] / "summary.json").read_text()


@pytest.mark.slow
def test_a_checkpoint_that_is_not_written_stops_the_run(tmp_path, monkeypatch):
    """orbax may decline a save (it returns False); the run must not go on as if it had saved."""
    monkeypatch.setattr(checkpointing.Checkpointer, "save", lambda self, *args, **kwargs: False)
    config = tiny(smoke_config())
    config.train.num_epochs = 0.015  # 2 steps: the first checkpoint is due at step 2
    with pytest.raises(RuntimeError, match="checkpoint of step 2 was not written"):
        tl.train_and_evaluate(config, tmp_path, progress=False)
    assert not (tmp_path / "summary.json").exists()


def test_a_finished_run_without_its_summary_is_evaluated_without_a_second_eval_record(smoke_run, tmp_path):
    """Killed after its last checkpoint, before summary.json: the rerun evaluates and writes the
    summary, and metrics.jsonl keeps its one evaluation of the last step."""
    workdir = tmp_path / "run"
    shutil.copytree(smoke_run[0], workdir)
    (workdir / "summary.json").unlink()
    metrics_before = (workdir / "metrics.jsonl").read_text()
    summary = tl.train_and_evaluate(smoke_run[1], workdir, progress=False)
    assert summary["final_test_accuracy"] == smoke_run[2]["final_test_accuracy"]
    assert (workdir / "metrics.jsonl").read_text() == metrics_before


def _one_train_step(loss_updates: dict):
    config = tiny(smoke_config())
    for key, value in loss_updates.items():
        config.loss[key] = value
    validate.check_config(config, 1)  # train.py accepts every option and regulariser of config.loss
    model = build_model(config.model, 10)
    tx = __import__("optax").sgd(0.0)
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(4, 28, 28, 1)), jnp.float32)
    y = jnp.asarray([0, 1, 2, 3])
    state = steps.init_state(model, tx, x, jax.random.PRNGKey(0))
    step = steps.make_train_step(model, tx, lambda s: 0.0, config.loss, "classification", jax.random.PRNGKey(1))
    return step(state, x, y)[1]


@pytest.mark.slow
def test_the_train_step_applies_the_loss_options_and_regularisers_of_the_config():
    plain = _one_train_step({})
    regularised = _one_train_step({"l1_rate_sparsity": 0.5})
    reg = float(regularised["reg_l1_rate_sparsity"])
    assert reg > 0 and "reg_l1_rate_sparsity" not in plain
    np.testing.assert_allclose(float(regularised["loss"]), float(plain["loss"]) + 0.5 * reg, rtol=1e-6)
    # an option of a loss changes that loss: mse_count towards a correct-class rate of 0.5, not 1.0
    full, half = _one_train_step({"name": "mse_count"}), _one_train_step({"name": "mse_count", "correct_rate": 0.5})
    assert float(full["loss_global"]) != float(half["loss_global"])


def test_a_tie_of_the_best_validation_figure_goes_to_the_later_evaluation(tmp_path, monkeypatch):
    """Three evaluations whose validation accuracies are NaN, 0.5, 0.5 (test 0.1, 0.2, 0.3): by
    snnjax.tool.best_evaluation the best is the third (a tie goes to the later evaluation, NaN never
    wins), in summary.json's best figures and in best_checkpoint.step alike."""
    validation_figures, test_figures, calls = [float("nan"), 0.5, 0.5], [0.1, 0.2, 0.3], []
    real_evaluate = steppers.evaluate

    def evaluate(eval_step, state, split, batch_size, mesh):
        result = real_evaluate(eval_step, state, split, batch_size, mesh)
        calls.append(split)
        figures = validation_figures if len(calls) % 2 == 0 else test_figures  # test first, then validation
        return dataclasses.replace(result, metrics={**result.metrics, "accuracy": figures[(len(calls) - 1) // 2]})

    monkeypatch.setattr(steppers, "evaluate", evaluate)
    config = tiny(smoke_config())
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test, config.data.val_fraction = 128, 8, 0.25  # 96 train: 3 steps/epoch
    config.train.eval_batch_size = 8
    config.train.num_epochs = 3.0
    config.train.checkpoint_every_steps = 0
    config.train.max_checkpoints = 1
    config.train.loop = "host"
    summary = tl.train_and_evaluate(config, tmp_path, progress=False)
    assert len(calls) == 6
    assert summary["best_validation_accuracy"] == 0.5
    assert summary["test_accuracy_at_best_validation"] == 0.3  # the later of the two 0.5s
    assert summary["best_test_accuracy"] == 0.3
    assert summary["best_checkpoint"]["step"] == 9 and summary["best_checkpoint"]["metric"] == "validation_accuracy"


def _random_config(num_epochs: float) -> ml_collections.ConfigDict:
    """2 steps per epoch on 64 random 8x8 images, evaluated every epoch, host loop."""
    config = tiny(smoke_config())
    config.data.name = "random"
    config.data.shape = (8, 8, 1)
    config.data.num_train, config.data.num_test = 64, 8
    config.train.eval_batch_size = 8
    config.train.num_epochs = num_epochs
    config.train.loop = "host"
    return config


@pytest.mark.parametrize("figures, best_step", [([0.5, 0.6], 4), ([0.6, 0.5], 2)])
def test_the_last_steps_evaluation_counts_when_it_is_also_a_checkpoint_step(tmp_path, monkeypatch, figures,
                                                                             best_step):
    """Issue 31 item 2: every evaluation falls on a checkpoint step (checkpoint_every_steps=2, 2 steps
    per epoch); each checkpoint is saved after its evaluation, so both compete for best."""
    real_evaluate, calls = steppers.evaluate, []

    def evaluate(eval_step, state, split, batch_size, mesh):
        result = real_evaluate(eval_step, state, split, batch_size, mesh)
        calls.append(split)
        return dataclasses.replace(result, metrics={**result.metrics, "accuracy": figures[len(calls) - 1]})

    monkeypatch.setattr(steppers, "evaluate", evaluate)
    config = _random_config(2.0)
    config.train.checkpoint_every_steps = 2
    config.train.max_checkpoints = 1
    summary = tl.train_and_evaluate(config, tmp_path, progress=False)
    assert summary["best_test_accuracy"] == max(figures)
    assert summary["best_checkpoint"]["step"] == best_step
    assert Path(summary["best_checkpoint"]["path"]).is_dir()


def test_a_run_resumed_after_its_last_checkpoint_keeps_its_throughput(tmp_path):
    """Issue 31 item 10: the last step is a checkpoint step; a run stopped after that checkpoint
    (e.g. during the final evaluation's summary) is resumed at its end and reports the throughput
    measured when it trained, not null."""
    config = _random_config(2.0)
    config.train.checkpoint_every_steps = 4
    first = tl.train_and_evaluate(config, tmp_path, progress=False)
    (tmp_path / "summary.json").unlink()
    again = tl.train_and_evaluate(config, tmp_path, progress=False)
    assert first["samples_per_s"] is not None and again["samples_per_s"] == first["samples_per_s"]
    with checkpointing.Checkpointer(tmp_path / "checkpoints", read_only=True) as ckpt:
        _, meta = ckpt.restore()
    assert meta["step"] == 4 and meta["train_steps_timed"] > 0
