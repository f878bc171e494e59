"""The `Dataset` record and the splits it holds.

A split is anything with ``num_examples`` and ``get(indices, epoch=0) -> (x, y)``, returning
batch-major NumPy arrays. ``get`` is a pure function of its arguments: the same indices (and epoch)
always give the same arrays, whatever the order or batch they come in, so the training loop can
shuffle by permuting indices and a resumed run sees the same batches.

Splits compose: `ArraySplit` and `GeneratedSplit` hold or make examples, `IndexedSplit` is a view
through an index map (a validation split carved from the training set), and `AugmentedSplit` applies
a random augmentation seeded by ``(seed, epoch, index)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import numpy as np

from snnjax.io.data.search import DataNotFoundError

TASKS = ("classification", "regression", "sequence_classification")


class EmptySplitError(DataNotFoundError, ValueError):
    """A split with no example (an empty file, a generated set of size 0, a validation fraction
    that leaves nothing), refused when the dataset is loaded: a training split of 0 examples would
    be reported as a batch-size problem, a test split of 0 would train and then fail in evaluation.

    A :class:`DataNotFoundError`, so ``train.py`` prints it as one line; also a ``ValueError``, as
    a bad ``val_fraction`` was before.
    """


# What to change for a split of each name that came out empty.
_EMPTY_SPLIT_HINTS = {
    "train": "give a dataset with training examples (its files under --config.data.data_dir, or "
             "--config.data.num_train=N for a generated set)",
    "test": "give a dataset with test examples (its files under --config.data.data_dir, or "
            "--config.data.num_test=N for a generated set)",
    "validation": "raise --config.data.val_fraction, or set it to 0 for no validation split",
}


def check_not_empty(dataset_name: str, splits: dict[str, "Split | None"]) -> None:
    """Refuses a split of 0 examples, naming it and what to change (one line).

    Args:
        dataset_name: the dataset's registry name, for the message.
        splits: ``{"train": split, "test": split, "validation": split or None}``; None is skipped.

    Raises:
        EmptySplitError: a split has no example.
    """
    for split_name, split in splits.items():
        if split is not None and split.num_examples < 1:
            raise EmptySplitError(
                f"the {split_name} split of dataset {dataset_name!r} has 0 examples; "
                f"{_EMPTY_SPLIT_HINTS.get(split_name, 'give it at least one example')}"
            )


class Split(Protocol):
    """One split of a dataset: random access to examples by index."""

    @property
    def num_examples(self) -> int: ...

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(x, y)`` for ``indices`` (1-D ints in ``[0, num_examples)``), batch-major."""
        ...


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A loaded dataset: splits plus what a model needs to know about them.

    Attributes:
        name: the registry name it was loaded under.
        train: the training split (without the validation examples, when there are any).
        test: the test split, never touched by ``val_fraction``.
        validation: the validation split, or None.
        num_classes: number of classes; 1 for regression.
        task: "classification" (y: int32 [B]), "regression" (y: float32 [B]) or
            "sequence_classification" (y: int32 [B, T]).
        input_shape: the shape of one example's x (batch-major arrays are ``[B, *input_shape]``).
    """

    name: str
    train: Split
    test: Split
    validation: Split | None
    num_classes: int
    task: str
    input_shape: tuple

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")


def check_indices(indices: np.ndarray, num_examples: int) -> np.ndarray:
    """Returns ``indices`` as a 1-D int64 array, or raises if any is outside ``[0, num_examples)``.

    Negative indices are refused rather than wrapped around, so an off-by-one in a sampler fails
    loudly instead of silently repeating examples.
    """
    indices = np.asarray(indices)
    if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D integer array, got {indices.dtype}{indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= num_examples):
        raise IndexError(
            f"indices must lie in [0, {num_examples}), got [{indices.min()}, {indices.max()}]"
        )
    return indices.astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class ArraySplit:
    """A split held in memory.

    ``get`` returns ``x[indices]`` as float32 multiplied by ``x_scale`` (uint8 images are kept
    compact and scaled by 1/255 on the way out) and ``y[indices]`` unchanged.

    Attributes:
        x: inputs, ``[N, ...]``.
        y: targets, ``[N]`` or ``[N, T]``.
        x_scale: factor applied to x after the cast to float32.
    """

    x: np.ndarray
    y: np.ndarray
    x_scale: float = 1.0

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y differ in length: {len(self.x)} vs {len(self.y)}")

    @property
    def num_examples(self) -> int:
        return len(self.x)

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        del epoch  # fixed data
        indices = check_indices(indices, self.num_examples)
        x = self.x[indices].astype(np.float32)
        if self.x_scale != 1.0:
            x *= np.float32(self.x_scale)
        return x, self.y[indices]


@dataclasses.dataclass(frozen=True, eq=False)
class GeneratedSplit:
    """A split whose examples are computed on demand by ``make(indices) -> (x, y)``.

    ``make`` must be a pure function of the indices (each example seeded by its own index), so that
    ``get`` does not depend on batch composition or order.
    """

    size: int
    make: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

    @property
    def num_examples(self) -> int:
        return self.size

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        del epoch  # example i is the same every epoch
        return self.make(check_indices(indices, self.size))


@dataclasses.dataclass(frozen=True, eq=False)
class IndexedSplit:
    """A view of ``base`` through an index map: example ``i`` is ``base``'s ``index_map[i]``."""

    base: Split
    index_map: np.ndarray

    @property
    def num_examples(self) -> int:
        return len(self.index_map)

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        indices = check_indices(indices, self.num_examples)
        return self.base.get(self.index_map[indices], epoch)


@dataclasses.dataclass(frozen=True, eq=False)
class AugmentedSplit:
    """``base`` with a random augmentation of x applied in ``get``.

    ``augment(x, rngs)`` receives one ``np.random.Generator`` per example, seeded by
    ``(seed, epoch, index)``: the same example in the same epoch is always augmented the same way,
    and differently in the next epoch.
    """

    base: Split
    augment: Callable[[np.ndarray, list[np.random.Generator]], np.ndarray]
    seed: int

    @property
    def num_examples(self) -> int:
        return self.base.num_examples

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        indices = check_indices(indices, self.num_examples)
        x, y = self.base.get(indices, epoch)
        rngs = [np.random.default_rng((self.seed, epoch, int(i))) for i in indices]
        return self.augment(x, rngs), y


def split_off_validation(train: Split, fraction: float) -> tuple[Split, Split | None]:
    """Carves the last ``fraction`` of ``train`` off as a validation split.

    Deterministic (no shuffling): validation is the last ``round(fraction * N)`` examples, train the
    ones before them. Returns ``(train, None)`` unchanged when ``fraction == 0``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {fraction}")
    n = train.num_examples
    num_val = int(round(fraction * n))
    if num_val == 0:
        if fraction > 0:
            raise EmptySplitError(
                f"val_fraction={fraction} of {n} training examples leaves no validation example; use "
                f"--config.data.val_fraction={1 / n if n else 0:.3g} or more, or 0 for no validation split")
        return train, None
    if num_val == n:
        raise EmptySplitError(f"val_fraction={fraction} of {n} training examples leaves no training example; use a "
                              "smaller --config.data.val_fraction")
    return (
        IndexedSplit(train, np.arange(n - num_val)),
        IndexedSplit(train, np.arange(n - num_val, n)),
    )
