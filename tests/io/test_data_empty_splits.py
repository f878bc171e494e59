"""A split of 0 examples is refused when the dataset is loaded, in one line naming the split.

Before, a test split of 0 examples trained and then failed in evaluation with a TypeError, and a
training split of 0 examples was reported as "use --config.train.batch_size=0 or less".
"""

import dataclasses

import numpy as np
import pytest

from snnjax.tool import cli_errors
from snnjax import data as data_lib
from snnjax.data import ArraySplit, Dataset, EmptySplitError


def _arrays(n: int) -> ArraySplit:
    return ArraySplit(np.zeros((n, 4, 4, 1), np.float32), np.zeros((n,), np.int32))


def _loader(num_train: int, num_test: int):
    def load(cfg):
        return Dataset(name="tiny", train=_arrays(num_train), test=_arrays(num_test), validation=None,
                       num_classes=2, task="classification", input_shape=(4, 4, 1))

    return load


@pytest.mark.parametrize("num_train, num_test, split, hint", [
    (8, 0, "test", "--config.data.num_test=N"),
    (0, 8, "train", "--config.data.num_train=N"),
])
def test_an_empty_split_is_refused_at_load_time_in_one_line(num_train, num_test, split, hint):
    with data_lib.LOADERS.scoped():
        data_lib.register("tiny", _loader(num_train, num_test))
        with pytest.raises(EmptySplitError, match=rf"^the {split} split of dataset 'tiny' has 0 examples; .*{hint}") as error:
            data_lib.load({"name": "tiny"})
    assert "\n" not in str(error.value)
    # train.py prints a DataNotFoundError as one line, no traceback
    line = cli_errors.explain(error.value, "/tmp/w", (data_lib.DataNotFoundError,))
    assert line == f"error (EmptySplitError): {error.value}"


def test_a_validation_fraction_that_leaves_nothing_is_refused_in_one_line():
    with data_lib.LOADERS.scoped():
        data_lib.register("tiny", _loader(8, 8))
        with pytest.raises(EmptySplitError, match=r"val_fraction=0.01 of 8 training examples leaves no validation "
                                                  r"example; use --config.data.val_fraction=0.125 or more"):
            data_lib.load({"name": "tiny", "val_fraction": 0.01})
        loaded = data_lib.load({"name": "tiny", "val_fraction": 0.25})
    assert (loaded.train.num_examples, loaded.validation.num_examples) == (6, 2)


def test_a_dataset_with_examples_in_every_split_loads():
    loaded = data_lib.load({"name": "random", "num_train": 4, "num_test": 2, "shape": (3,)})
    assert (loaded.train.num_examples, loaded.test.num_examples) == (4, 2)
    assert dataclasses.is_dataclass(loaded)
