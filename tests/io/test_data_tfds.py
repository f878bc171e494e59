"""The tensorflow-datasets path, on tfds's own mock data (no download, no prepared files).

Skipped when tensorflow-datasets is not installed. Needs no TensorFlow: ``tfds.data_source``
serves the mock examples.
"""

from __future__ import annotations

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from snnjax import data  # noqa: E402
from snnjax.data import search  # noqa: E402


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    monkeypatch.delenv(search.ENV_VAR, raising=False)


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_mock_data(tmp_path, name, shape):
    with tfds.testing.mock_data(num_examples=6):
        ds = data.load({"name": name, "data_dir": str(tmp_path), "val_fraction": 0.5})
        raw = tfds.data_source(name, split="test", data_dir=str(tmp_path))  # the same mock examples
        raw = [raw[i] for i in range(6)]
    assert ds.input_shape == shape and ds.num_classes == 10
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (3, 3, 6)
    x, y = ds.test.get(np.arange(6))
    assert x.shape == (6, *shape) and x.dtype == np.float32 and y.dtype == np.int32
    # the examples tfds serves, in order, scaled from uint8 to [0, 1]
    np.testing.assert_allclose(x, np.stack([r["image"] for r in raw]) / np.float32(255), rtol=1e-6)
    np.testing.assert_array_equal(y, [int(r["label"]) for r in raw])
    assert x.max() > 0.5  # not blank


def test_tfds_without_prepared_data_raises_clear_error(tmp_path):
    with pytest.raises(data.DataNotFoundError) as info:
        data.load({"name": "cifar10", "data_dir": str(tmp_path)})
    message = str(info.value)
    assert f"tensorflow_datasets in {tmp_path}" in message and "tfds build cifar10" in message
