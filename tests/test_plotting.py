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
