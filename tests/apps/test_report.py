"""The run report: its pure helpers by hand, and the whole report on two tiny real runs."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from configs import smoke, smoke_ce_lif
from snnjax import report
from snnjax.apps import report_page
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


@pytest.mark.slow
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


FIGURES = ("curves", "firing_rates", "leaks", "raster")


def _cells(ax):
    """``(time step, rank)`` of the centre of every cell of a raster panel."""
    centres = np.array([path.vertices[:4].mean(axis=0) for path in ax.collections[0].get_paths()]).reshape(-1, 2)
    return np.rint(centres[:, 0]).astype(int), np.rint(centres[:, 1]).astype(int)


def test_report_on_a_conv_run(conv_run, figures):
    paths = report.make_report(conv_run)
    names = {p.name for p in paths}
    assert names == {f"{f}.{ext}" for f in FIGURES for ext in ("png", "svg")} | {"index.html"}
    for p in paths:
        if p.suffix == ".png":
            _png_pixels(p, figures[p.name])
    rows = report.read_metrics(conv_run)
    summary = json.loads((conv_run / "summary.json").read_text())

    # curves: every logged loss and accuracy, labelled by split, accuracy in percent
    loss_ax, acc_ax = figures["curves.png"].axes
    for split, (x, y) in _lines(loss_ax).items():
        np.testing.assert_array_equal(x, report.series(rows, f"{split}/loss")[0])
        np.testing.assert_allclose(y, report.series(rows, f"{split}/loss")[1])
    assert {"train", "test"} <= set(_lines(loss_ax))
    x, y = _lines(acc_ax)["test"]
    np.testing.assert_allclose(y, 100 * report.series(rows, "test/accuracy")[1])
    assert loss_ax.get_ylabel() == "loss (mse_rate)" and acc_ax.get_ylabel() == "accuracy (%)"

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

    # raster: one panel per spiking layer; its cells are the spikes of that layer's spiking neurons,
    # ranked by spike count (most active on top: counts never rise going down the rows)
    trains = report.spike_trains(report.load_run(conv_run))
    raster = figures["raster.png"].axes
    assert len(raster) == len(trains)
    for ax, (name, s) in zip(raster, trains.items()):
        order = report.raster_order(s)
        t, rank = _cells(ax)
        assert sorted(zip(t, rank)) == sorted(zip(*report.raster_cells(s, order))), name
        counts = np.bincount(rank, minlength=len(order) + 1)[1:]
        assert np.all(counts > 0) and np.all(np.diff(counts) <= 0), name
        np.testing.assert_array_equal(counts, s[:, order].sum(axis=0))
        assert ax.get_title().startswith(f"{name}: rate {report_page.format_number(float(s.mean()), 3)} on this example")
        assert ax.yaxis_inverted() and "by spike count" in ax.get_ylabel()

    # every axis of every figure is labelled, in one style (no top or right frame)
    for name in (f"{f}.png" for f in FIGURES):
        axes = figures[name].axes
        for ax in axes:
            assert ax.get_ylabel(), name
            assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible(), name
        for ax in axes[-1:] if name == "raster.png" else axes:  # the raster's panels share the last one's
            assert ax.get_xlabel(), name
    assert raster[-1].get_xlabel() == "time step (T = 4)"


def test_raster_order_ranks_the_spiking_neurons_by_spike_count():
    spikes = np.array([[0, 1, 1, 0, 1],
                       [0, 0, 1, 0, 1],
                       [0, 1, 1, 0, 0]], np.float32)  # counts 0, 2, 3, 0, 2
    np.testing.assert_array_equal(report.raster_order(spikes), [2, 1, 4])  # silent ones left out, ties by index
    t, rank = report.raster_cells(spikes, report.raster_order(spikes))
    assert sorted(zip(t.tolist(), rank.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 3), (2, 1), (2, 2)]
    many = (np.random.default_rng(1).random((4, 500)) < 0.3).astype(np.float32)
    sample = report.raster_order(many, max_neurons=50)
    assert len(sample) == len(set(sample)) == 50 and np.all(many[:, sample].sum(axis=0) > 0)
    assert np.all(np.diff(many[:, sample].sum(axis=0)) <= 0)
    np.testing.assert_array_equal(sample, report.raster_order(many, max_neurons=50))  # seeded: the same sample


def test_numbers_are_rounded_to_4_significant_digits():
    f = report_page.format_number
    assert f(0.007086500406265259) == "0.007087"
    assert f(418386.4164) == "418,400" and f(112896.0) == "112,896"  # a whole-number float is a count: exact
    assert f(0.916) == "0.916" and f(0.5128205128205128) == "0.5128" and f(9.99995) == "10"
    assert f(2.1234567e-06) == "2.123e-06" and f(161748) == "161,748" and f(None) == "–"
    assert report_page.format_si(2.1191250416446686e-06, "J") == "2.119 µJ"
    assert report_page.format_si(7.229769678115845e-09, "J") == "7.23 nJ"
    assert report_page.format_percent(0.916) == "91.6 %"


def _text(page):
    """The page's visible text: tags dropped, entities decoded."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_page_rounds_numbers_and_holds_the_summary_and_config_as_tables(conv_run):
    import re

    report.make_report(conv_run)
    page = (conv_run / "report" / "index.html").read_text()
    summary = json.loads((conv_run / "summary.json").read_text())
    text = _text(page.split('<table id="config">')[0])  # the config is shown as set, not rounded
    decimals = re.findall(r"(?<![\w.])\d[\d,]*\.\d+(?:e[-+]\d+)?", text)
    assert decimals
    for number in decimals:
        digits = number.split("e")[0].replace(",", "").replace(".", "").lstrip("0")
        assert len(digits) <= 4, number
    assert repr(summary["final_test_loss"]) not in page

    for table_id in ("summary", "energy", "firing-rates", "config-changed", "config"):
        assert f'<table id="{table_id}">' in page, table_id
    energy = summary["energy"]
    assert f"<td class=num>{report_page.format_number(energy['sops'])}</td>" in page  # synaptic operations, total
    assert f"<td class=num>{report_page.format_si(energy['e_snn'], 'J')}</td>" in page
    assert f"<td>parameters</td><td class=num>{summary['num_params']:,}</td>" in page
    accuracy = report_page.format_percent(summary["final_test_accuracy"])
    assert f"<td>test accuracy, final</td><td class=num>{accuracy}</td>" in page
    for layer, rate in summary["firing_rates"].items():
        assert f"<td>{layer}</td><td class=num>{report_page.format_number(rate)}</td>" in page
    # the settings that differ from the defaults, with the default beside
    assert "<td>model.spec</td><td>4c3-p2-8c3-p2-100-10</td><td>128c3-p2-128c3-p2-2048-100-10</td>" in page
    assert "<td>model.neuron.kind</td><td>llc_lif</td><td>lif</td>" in page
    assert "<td>train.seed</td><td>0</td>" in page.split('<table id="config">')[1]  # every setting, folded


def test_each_figure_has_a_linked_svg_and_a_caption_in_sentences(conv_run):
    import re

    report.make_report(conv_run)
    out = conv_run / "report"
    page = (out / "index.html").read_text()
    captions = dict(re.findall(r'<img src="([\w.]+)\.png"[^>]*><figcaption>(.*?)</figcaption>', page))
    assert sorted(captions) == sorted(FIGURES)
    for name, caption in captions.items():
        svg = (out / f"{name}.svg").read_text()
        assert "<svg" in svg and "<path" in svg, name  # drawn as vector paths
        assert f'<a href="{name}.png">PNG</a> · <a href="{name}.svg">SVG</a>' in caption
        sentences = caption.split(" <a href")[0]
        assert sentences[0].isupper() and sentences.endswith(".") and len(sentences.split()) > 12, name
        assert name not in sentences.split()[0]  # not a file name

    # the raster says its rates are over one example, and gives the test-set rate beside each
    summary = json.loads((conv_run / "summary.json").read_text())
    raster = _text(captions["raster"])
    assert "over this one example" in raster and "average over the whole test set" in raster
    for layer, rate in summary["firing_rates"].items():
        assert f"{layer} " in raster and f"{report_page.format_number(rate)} over the test set" in raster
    assert "whole test set" in _text(captions["firing_rates"])


@pytest.mark.slow
def test_report_on_a_ce_lif_run(tmp_path, figures):
    config = smoke_ce_lif.get_config()
    with config.unlocked():
        config.train.num_steps = 20
        config.data.num_train = 640
        config.data.num_test = 128
    train_lib.train_and_evaluate(config, tmp_path, progress=False, devices=jax.devices()[:1])
    names = {p.name for p in report.make_report(tmp_path)}
    assert {"te_similarity.png", "te_similarity.svg"} <= names
    # the image is the cosine similarity of the checkpoint's learned TE, [T, T] with ones on the diagonal
    te = np.asarray(report.load_run(tmp_path).variables["params"]["te"], np.float64)
    shown = figures["te_similarity.png"].axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, report.cosine_similarity_matrix(te))
    np.testing.assert_allclose(np.diag(shown), 1.0, rtol=1e-6)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "final_test_mse" in summary
    _, mse_ax = figures["curves.png"].axes
    np.testing.assert_allclose(_lines(mse_ax)["test"][1][-1], summary["final_test_mse"], rtol=1e-6)
    assert mse_ax.get_ylabel() == "MSE"
    page = (tmp_path / "report" / "index.html").read_text()
    assert f"<td>test MSE, final</td><td class=num>{report_page.format_number(summary['final_test_mse'])}</td>" in page


def test_a_run_without_its_summary_shows_its_last_logged_firing_rates(conv_run, tmp_path):
    import shutil

    workdir = tmp_path / "unfinished"
    shutil.copytree(conv_run, workdir, ignore=shutil.ignore_patterns("report"))
    (workdir / "summary.json").unlink()  # as while it trains
    report.make_report(workdir)
    page = (workdir / "report" / "index.html").read_text()
    assert "No <code>summary.json</code> yet" in page and '<table id="summary">' not in page
    rows = report.read_metrics(workdir)
    layers = [k[len("firing_rate/"):] for k in report.keys_with_prefix(rows, "firing_rate/")]
    assert layers
    for layer in layers:
        last = report.series(rows, f"firing_rate/{layer}")[1][-1]
        assert f"<td>{layer}</td><td class=num>{report_page.format_number(float(last))}</td>" in page
