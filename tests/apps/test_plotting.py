"""snnjax.apps.plotting: headless pyplot, and one clear line when matplotlib is missing, before any work."""

from __future__ import annotations

import importlib.util

import pytest

from snnjax.apps import plotting


@pytest.fixture
def no_matplotlib(monkeypatch):
    """``importlib.util.find_spec`` as on a machine without matplotlib."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "matplotlib" else find_spec(name, *a, **k))


def test_pyplot_is_headless():
    assert plotting.pyplot().get_backend().lower() == "agg"


def test_missing_matplotlib_says_what_to_install(no_matplotlib):
    with pytest.raises(ImportError, match=r"pip install 'snnjax\[report\]'"):
        plotting.pyplot()


def test_reproduce_stops_before_training_without_matplotlib(no_matplotlib, monkeypatch, tmp_path, capsys):
    from snnjax.reproduce import __main__ as reproduce

    launched = []
    monkeypatch.setattr(reproduce, "run_experiment", lambda *a, **k: launched.append(a) or 0)
    rc = reproduce.main(["smoke", "--runs_dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    assert rc == 2 and not launched and not (tmp_path / "out").exists()
    assert "snnjax[report]" in capsys.readouterr().err


def test_report_command_says_what_to_install(no_matplotlib, tmp_path, capsys):
    from snnjax import report

    assert report.main([str(tmp_path)]) == 2
    assert "snnjax[report]" in capsys.readouterr().err


def test_save_figure_writes_a_png_and_a_vector_svg_beside_it_the_same_each_time(tmp_path):
    def draw(name):
        with plotting.styled() as plt:
            fig, ax = plt.subplots(figsize=(3, 2))
            ax.plot([0, 1, 2], [1, 0, 1])
            ax.set(xlabel="step", ylabel="loss")
            return plotting.save_figure(fig, tmp_path / name / "curve.png")

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    png, svg = draw("a")
    assert (png, svg) == (tmp_path / "a" / "curve.png", tmp_path / "a" / "curve.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text and "<path" in text and "<image" not in text
    png_b, svg_b = draw("b")
    assert png_b.read_bytes() == png.read_bytes() and svg_b.read_text() == text  # no date inside


def test_styled_holds_the_style_inside_the_block_only():
    plt = plotting.pyplot()
    with plotting.styled():
        assert plt.rcParams["axes.spines.top"] is False and plt.rcParams["axes.grid"] is True
        assert plt.rcParams["axes.prop_cycle"].by_key()["color"][0] == plotting.COLOURS[0]
    assert plt.rcParams["axes.spines.top"] is True  # matplotlib's default again after the block
