"""The run report: its pure helpers by hand, and the whole report on two tiny real runs."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from configs import smoke, smoke_ce_lif
from snnjax import report
from snnjax.tool import train_lib


def test_cosine_similarity_by_hand():
    te = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    sim = report.cosine_similarity_matrix(te)
    np.testing.assert_allclose(sim, [[1, 0, 1 / np.sqrt(2)], [0, 1, 1 / np.sqrt(2)], [1 / np.sqrt(2), 1 / np.sqrt(2), 1]], atol=1e-12)


def test_read_metrics_restores_non_finite_values(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "train/loss": "nan"}\n{"step": 2, "train/loss": 0.5}\n')
    rows = report.read_metrics(tmp_path)
    steps, values = report.series(rows, "train/loss")
    np.testing.assert_array_equal(steps, [1, 2])
    assert np.isnan(values[0]) and values[1] == 0.5


def test_missing_run_directory_is_a_clear_error(tmp_path, capsys):
    assert report.main([str(tmp_path / "nothing")]) == 2
    assert "metrics.jsonl not found" in capsys.readouterr().err


def _png_pixels(path, figure):
    """The PNG decoded: the figure's aspect ratio, and not blank."""
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    pixels = matplotlib.image.imread(path)
    width, height = figure.get_size_inches()
    assert abs(pixels.shape[1] / pixels.shape[0] - width / height) < 0.01, path
    assert np.mean(pixels[..., :3] < 0.5) > 0.001, f"{path} is blank"


@pytest.fixture
def figures(monkeypatch):
    """``{file name: matplotlib figure}`` of every plot the report saves, to read its data back."""
    import matplotlib.figure

    saved = {}
    savefig = matplotlib.figure.Figure.savefig

    def record(fig, fname, *args, **kwargs):
        saved[Path(fname).name] = fig
        return savefig(fig, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return saved


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    config = smoke.get_config()
    with config.unlocked():
        config.model.neuron.kind = "llc_lif"  # so there are leaks to plot
        config.model.spec = "4c3-p2-8c3-p2-100-10"  # small: this test is about the report
        config.train.num_epochs = 2 * 12 * 64 / 5000  # two short "epochs" of about 12 steps
        config.train.num_steps = 24
        config.train.batch_size = 64
    workdir = tmp_path_factory.mktemp("conv_run")
    train_lib.train_and_evaluate(config, workdir, progress=False, devices=jax.devices()[:1])  # about the report
    return workdir


def _model_spikes(run, index=0):
    """``{layer path: [T, neurons]}`` of test example ``index``, recorded at every SpikingNeuron's
    call by a Flax method interceptor (not through capture_intermediates, as spike_trains does)."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    from snnjax.layers import SpikingNeuron

    spikes = {}

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if isinstance(context.module, SpikingNeuron) and context.method_name == "__call__":
            s = np.asarray(out, np.float32)
            spikes["/".join(context.module.path)] = s[:, 0].reshape(s.shape[0], -1)
        return out

    x, _ = run.dataset.test.get(np.asarray([index]))
    with nn.intercept_methods(interceptor):
        run.model.apply(run.variables, jnp.asarray(x), train=False, rngs={"encoder": jax.random.PRNGKey(0)},
                        mutable=["spikes", "synops"])
    return spikes


def test_spike_trains_are_the_model_spikes(conv_run):
    run = report.load_run(conv_run)
    trains = report.spike_trains(run)
    expected = _model_spikes(run)
    assert set(trains) == set(expected) == {"conv0/neuron", "conv1/neuron", "fc0_neuron"}
    assert trains["fc0_neuron"].shape == (4, 100)
    assert trains["conv0/neuron"].shape == (4, 28 * 28 * 4)  # [T, H * W * C] of the first conv
    for name, s in expected.items():
        np.testing.assert_array_equal(trains[name], s, err_msg=name)
    assert 0 < trains["conv0/neuron"].sum() < trains["conv0/neuron"].size  # some spikes, not all
    # another test example has other spikes: the index is used
    assert not np.array_equal(report.spike_trains(run, index=1)["conv0/neuron"], trains["conv0/neuron"])


def _lines(ax):
    return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in ax.get_lines()}


def test_report_on_a_conv_run(conv_run, figures):
    paths = report.make_report(conv_run)
    names = {p.name for p in paths}
    assert names == {"curves.png", "firing_rates.png", "leaks.png", "raster.png", "index.html"}
    for p in paths:
        if p.suffix == ".png":
            _png_pixels(p, figures[p.name])
    page = (conv_run / "report" / "index.html").read_text()
    for name in names - {"index.html"}:
        assert f'src="{name}"' in page
    rows = report.read_metrics(conv_run)
    summary = json.loads((conv_run / "summary.json").read_text())

    # curves: every logged loss and accuracy, accuracy in percent
    loss_ax, acc_ax = figures["curves.png"].axes
    for key, (x, y) in _lines(loss_ax).items():
        np.testing.assert_array_equal(x, report.series(rows, key)[0])
        np.testing.assert_allclose(y, report.series(rows, key)[1])
    assert {"train/loss", "test/loss"} <= set(_lines(loss_ax))
    x, y = _lines(acc_ax)["test/accuracy"]
    np.testing.assert_allclose(y, 100 * report.series(rows, "test/accuracy")[1])

    # firing rates: one bar per layer with the summary's rate; one line per layer over training
    bar_ax, over_ax = figures["firing_rates.png"].axes
    rates = summary["firing_rates"]
    np.testing.assert_allclose([bar.get_width() for bar in bar_ax.patches], list(rates.values()))
    assert [t.get_text() for t in bar_ax.get_yticklabels()] == list(rates)
    for layer, (x, y) in _lines(over_ax).items():
        np.testing.assert_allclose(y, report.series(rows, f"firing_rate/{layer}")[1])

    # leaks: the logged k = sigmoid(a) of each LLC-LIF layer, all in (0, 1)
    (leak_ax,) = figures["leaks.png"].axes
    leak_keys = report.keys_with_prefix(rows, "leak/")
    assert sorted(_lines(leak_ax)) == [k[len("leak/"):] for k in leak_keys] and leak_keys
    for layer, (x, y) in _lines(leak_ax).items():
        np.testing.assert_allclose(y, report.series(rows, f"leak/{layer}")[1])
        assert np.all((0 < y) & (y < 1))

    # raster: one panel per spiking layer; its dots are that layer's spikes (most active neurons)
    trains = report.spike_trains(report.load_run(conv_run))
    raster = figures["raster.png"].axes
    assert len(raster) == len(trains)
    for ax, (name, s) in zip(raster, trains.items()):
        chosen = np.sort(np.argsort(-s.sum(axis=0), kind="stable")[:200])
        t, n = np.nonzero(s[:, chosen])
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.stack([t, n], axis=1))
        assert ax.get_title().startswith(f"{name}: {s.shape[1]} neurons")


def test_report_on_a_ce_lif_run(tmp_path, figures):
    config = smoke_ce_lif.get_config()
    with config.unlocked():
        config.train.num_steps = 20
        config.data.num_train = 640
        config.data.num_test = 128
    train_lib.train_and_evaluate(config, tmp_path, progress=False, devices=jax.devices()[:1])
    names = {p.name for p in report.make_report(tmp_path)}
    assert "te_similarity.png" in names
    # the image is the cosine similarity of the checkpoint's learned TE, [T, T] with ones on the diagonal
    te = np.asarray(report.load_run(tmp_path).variables["params"]["te"], np.float64)
    shown = figures["te_similarity.png"].axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, report.cosine_similarity_matrix(te))
    np.testing.assert_allclose(np.diag(shown), 1.0, rtol=1e-6)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "final_test_mse" in summary
    _, mse_ax = figures["curves.png"].axes
    np.testing.assert_allclose(_lines(mse_ax)["test/mse"][1][-1], summary["final_test_mse"], rtol=1e-6)
