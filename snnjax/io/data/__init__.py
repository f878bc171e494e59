"""Datasets for snnjax: ``snnjax.data.load(config.data) -> Dataset``.

Every split yields batch-major NumPy arrays through ``split.get(indices, epoch=0) -> (x, y)``;
the model's encoder turns x into a time-major sequence. Datasets by name:

==================  ==============================  ===========================  =================
name                x per example                   y                            needs
==================  ==============================  ===========================  =================
mnist_small         [28, 28, 1] float32 in [0, 1]   int32, 10 classes            nothing (bundled)
mnist               [28, 28, 1]                     int32, 10 classes            IDX files or tfds
fashion_mnist       [28, 28, 1]                     int32, 10 classes            IDX files or tfds
cifar10             [32, 32, 3]                     int32, 10 classes            tfds
adding              [T, 2]                          float32 (regression)         nothing
copy_memory         [T + 20, 10] one-hot            int32 [T + 20], 10 classes   nothing
random              cfg.shape, uniform [0, 1)       int32, cfg.num_classes       nothing
nmnist              [time_bins, 34, 34, 2] counts   int32, 10 classes            tonic + files
dvs_gesture         [time_bins, 128, 128, 2]        int32, 11 classes            tonic + files
cifar10_dvs         [time_bins, 128, 128, 2]        int32, 10 classes            tonic + files
==================  ==============================  ===========================  =================

Seq-MNIST and PS-MNIST are not datasets here: they are MNIST / Fashion-MNIST images that the
model's encoder turns into pixel sequences.
"""

from snnjax.io.data.config import default_data_config
from snnjax.io.data.dataset import (
    ArraySplit,
    AugmentedSplit,
    Dataset,
    EmptySplitError,
    GeneratedSplit,
    IndexedSplit,
    Split,
)
from snnjax.io.data.registry import LOADERS, load, names, register
from snnjax.io.data.search import ENV_VAR, DataNotFoundError
from snnjax.io.data.sequence_tasks import adding_baseline_mse, copy_memory_baseline_loss

__all__ = [
    "ArraySplit",
    "AugmentedSplit",
    "DataNotFoundError",
    "Dataset",
    "ENV_VAR",
    "EmptySplitError",
    "GeneratedSplit",
    "IndexedSplit",
    "LOADERS",
    "Split",
    "adding_baseline_mse",
    "copy_memory_baseline_loss",
    "default_data_config",
    "load",
    "names",
    "register",
]
