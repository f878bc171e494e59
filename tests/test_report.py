"""The run report: its pure helpers by hand, and the whole report on two tiny real runs."""

import json

import numpy as np
import pytest

from configs import smoke, smoke_ce_lif
from snnjax import report, train_lib


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


def _png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, path
    return path


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
    train_lib.train_and_evaluate(config, workdir, progress=False)
    return workdir


def test_report_on_a_conv_run(conv_run):
    paths = report.make_report(conv_run)
    names = {p.name for p in paths}
    assert {"curves.png", "firing_rates.png", "leaks.png", "raster.png", "index.html"} <= names
    assert "te_similarity.png" not in names  # not a CE-LIF model
    for p in paths:
        if p.suffix == ".png":
            _png(p)
    page = (conv_run / "report" / "index.html").read_text()
    for name in names - {"index.html"}:
        assert f'src="{name}"' in page
    trains = report.spike_trains(report.load_run(conv_run))
    assert set(trains) == {"conv0/neuron", "conv1/neuron", "fc0_neuron"}
    assert trains["fc0_neuron"].shape == (4, 100)


def test_report_on_a_ce_lif_run(tmp_path):
    config = smoke_ce_lif.get_config()
    with config.unlocked():
        config.train.num_steps = 20
        config.data.num_train = 640
        config.data.num_test = 128
    train_lib.train_and_evaluate(config, tmp_path, progress=False)
    names = {p.name for p in report.make_report(tmp_path)}
    assert "te_similarity.png" in names
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "final_test_mse" in summary
