"""Generated long-memory tasks of the CE-LIF paper: the adding problem and copy memory.

Example ``i`` of a split is made from its own generator, seeded by ``(seed, stream, i)`` with
stream 0 for train and 1 for test, so ``get(indices)`` is reproducible and independent of batch
order, and train and test never share an example stream.

Adding problem (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016), length ``T``:
    ``x[:, t, 0]`` ~ U(0, 1); ``x[:, :, 1]`` is 0 except for exactly two 1s at distinct random
    positions; ``y`` = the sum of the two marked values. Predicting the mean ``y = 1`` gives
    MSE = Var(U + U') = 2/12 = 1/6 ≈ 0.167, the paper's baseline.

Copy memory, as the CE-LIF text describes it, ``T + 20`` steps:
    symbols: 10 digits uniform in 1..8, then ``T`` blanks (0), then 10 markers (9), one-hot over 10
    symbols; targets 0 everywhere except the last 10 steps, which hold the 10 digits in order.
    Outputting 0 with certainty before the recall phase and a uniform guess over 1..8 during it
    gives the baseline cross-entropy ``10 log(8) / (T + 20)`` per step.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from snnjax.io.data.dataset import Dataset, GeneratedSplit

TRAIN_STREAM, TEST_STREAM = 0, 1
NUM_DIGITS = 10  # copy memory: digits to remember
NUM_SYMBOLS = 10  # copy memory: 0 blank, 1..8 digits, 9 marker
MARKER = 9


def example_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The generator of example ``index`` of ``stream``."""
    return np.random.default_rng((seed, stream, index))


def adding_example(rng: np.random.Generator, seq_len: int) -> tuple[np.ndarray, np.float32]:
    """One adding-problem example: ``x`` float32 ``[T, 2]`` and its target (the marked sum)."""
    values = rng.uniform(0.0, 1.0, seq_len)
    marks = rng.choice(seq_len, size=2, replace=False)
    indicator = np.zeros(seq_len)
    indicator[marks] = 1.0
    x = np.stack([values, indicator], axis=-1).astype(np.float32)
    return x, np.float32(x[marks, 0].sum())


def adding_examples(indices: np.ndarray, seq_len: int, seed: int, stream: int):
    """A batch of adding-problem examples: x float32 ``[B, T, 2]``, y float32 ``[B]``."""
    pairs = [adding_example(example_rng(seed, stream, int(i)), seq_len) for i in indices]
    x = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, seq_len, 2), np.float32)
    return x, np.asarray([p[1] for p in pairs], np.float32)


def copy_memory_symbols(rng: np.random.Generator, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """One copy-memory example as symbols: inputs and targets, int32 ``[T + 20]`` each."""
    digits = rng.integers(1, 9, size=NUM_DIGITS)
    inputs = np.concatenate([digits, np.zeros(seq_len, np.int64), np.full(NUM_DIGITS, MARKER)])
    targets = np.concatenate([np.zeros(seq_len + NUM_DIGITS, np.int64), digits])
    return inputs.astype(np.int32), targets.astype(np.int32)


def copy_memory_examples(indices: np.ndarray, seq_len: int, seed: int, stream: int):
    """A batch of copy-memory examples: x one-hot float32 ``[B, T+20, 10]``, y int32 ``[B, T+20]``.
    """
    length = seq_len + 2 * NUM_DIGITS
    pairs = [copy_memory_symbols(example_rng(seed, stream, int(i)), seq_len) for i in indices]
    inputs = np.stack([p[0] for p in pairs]) if pairs else np.zeros((0, length), np.int32)
    targets = np.stack([p[1] for p in pairs]) if pairs else np.zeros((0, length), np.int32)
    x = np.eye(NUM_SYMBOLS, dtype=np.float32)[inputs]
    return x, targets


def adding_baseline_mse() -> float:
    """The adding problem's trivial baseline MSE, 0.167 as the CE-LIF paper rounds it.

    Always predicting ``y = 1`` (both marked values at their mean 0.5) has MSE equal to the
    variance of the sum of two independent U(0, 1) values, 2 × 1/12 = 1/6 ≈ 0.1667.
    """
    return 0.167


def copy_memory_baseline_loss(seq_len: int) -> float:
    """The copy-memory baseline cross-entropy per step, ``10 log(8) / (T + 20)``.

    The strategy: predict blank (0) with certainty for the first ``T + 10`` steps (zero loss) and a
    uniform guess over the digits 1..8 for the last 10 steps (loss ``log 8`` each), averaged over
    all ``T + 20`` steps.
    """
    return NUM_DIGITS * math.log(8) / (seq_len + 2 * NUM_DIGITS)


def _generated(name, make, cfg, num_classes, task, input_shape) -> Dataset:
    def split(stream, size):
        return GeneratedSplit(size, functools.partial(
            make, seq_len=cfg.seq_len, seed=cfg.seed, stream=stream))

    return Dataset(
        name=name,
        train=split(TRAIN_STREAM, cfg.num_train),
        test=split(TEST_STREAM, cfg.num_test),
        validation=None,
        num_classes=num_classes,
        task=task,
        input_shape=input_shape,
    )


def load_adding(cfg) -> Dataset:
    """The adding problem: ``cfg.seq_len`` steps, ``cfg.num_train``/``cfg.num_test`` examples."""
    return _generated("adding", adding_examples, cfg, 1, "regression", (cfg.seq_len, 2))


def load_copy_memory(cfg) -> Dataset:
    """Copy memory with ``cfg.seq_len`` blank steps (sequences of ``seq_len + 20``)."""
    return _generated("copy_memory", copy_memory_examples, cfg, NUM_SYMBOLS,
                      "sequence_classification", (cfg.seq_len + 2 * NUM_DIGITS, NUM_SYMBOLS))
