"""Looking for a tfds dataset that is not prepared logs nothing: the not-found error says it once."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow_datasets")

from snnjax import data  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_missing_tfds_dataset_logs_no_folder_warnings(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        with pytest.raises(data.DataNotFoundError, match=f"tensorflow_datasets in {tmp_path}"):
            data.load({"name": "cifar10", "data_dir": str(tmp_path)})
    assert [r.getMessage() for r in caplog.records if "Variant folder" in r.getMessage()] == []


def test_summary_of_a_config_whose_data_is_absent_prints_only_the_table(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TFDS_DATA_DIR": str(tmp_path / "tfds"), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-m", "snnjax.summary", "configs/llc_lif_cifar10.py"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "(data files not found here; shapes of cifar10 assumed)" in done.stdout.splitlines()[0]
