"""Random tensors of a chosen shape: for benchmarks, and for checking configs of datasets that
cannot be downloaded here (e.g. ``shape=(32, 32, 3)`` for CIFAR-10, ``(10, 34, 34, 2)`` for N-MNIST
frames).

Example ``i`` is made from a generator seeded by ``(seed, stream, i)`` (stream 0 train, 1 test):
x float32 ``[*shape]`` uniform in [0, 1), y an int32 label uniform in ``[0, num_classes)``.
"""

from __future__ import annotations

import functools

import numpy as np

from snnjax.io.data.dataset import Dataset, GeneratedSplit
from snnjax.io.data.sequence_tasks import TEST_STREAM, TRAIN_STREAM, example_rng


def random_examples(indices: np.ndarray, shape: tuple[int, ...], num_classes: int, seed: int,
                    stream: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of random examples: x float32 ``[B, *shape]``, y int32 ``[B]``."""
    x = np.zeros((len(indices), *shape), np.float32)
    y = np.zeros(len(indices), np.int32)
    for row, index in enumerate(indices):
        rng = example_rng(seed, stream, int(index))
        x[row] = rng.random(shape, np.float32)
        y[row] = rng.integers(num_classes)
    return x, y


def load_random(cfg) -> Dataset:
    """Random classification data of shape ``cfg.shape`` with ``cfg.num_classes`` classes."""
    shape = tuple(int(d) for d in cfg.shape)
    if cfg.num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {cfg.num_classes}")

    def split(stream, size):
        return GeneratedSplit(size, functools.partial(
            random_examples, shape=shape, num_classes=cfg.num_classes, seed=cfg.seed,
            stream=stream))

    return Dataset(
        name="random",
        train=split(TRAIN_STREAM, cfg.num_train),
        test=split(TEST_STREAM, cfg.num_test),
        validation=None,
        num_classes=int(cfg.num_classes),
        task="classification",
        input_shape=shape,
    )
