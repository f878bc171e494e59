"""Image classification sets: MNIST, Fashion-MNIST, the bundled MNIST subset, CIFAR-10.

All yield x float32 in [0, 1], NHWC ``[B, H, W, C]``, and y int32 ``[B]``. Images are kept as
uint8 in memory and scaled in `ArraySplit.get`.

MNIST and Fashion-MNIST are read from the original IDX files in the folders of
`snnjax.data.search.candidate_dirs`, then from tensorflow-datasets if it is installed (never
downloading). CIFAR-10 comes from tensorflow-datasets only. ``mnist_small`` (the first 5,000
training and 1,000 test images of MNIST) ships inside the package and needs nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnjax.io.data import search, tfds_source
from snnjax.io.data.dataset import ArraySplit, Dataset
from snnjax.io.data.idx import has_mnist_files, read_mnist_dir

MNIST_SMALL_PATH = Path(__file__).resolve().parents[2] / "assets" / "mnist_small.npz"
IDX_FILES = ("train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
             "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz")


def tfds_hint(name: str) -> str:
    """How to get ``name`` through tensorflow-datasets."""
    build = (f"on a machine with internet access, run `tfds build {name} --data_dir=FOLDER "
             "--file_format=array_record` and pass --config.data.data_dir=FOLDER")
    if tfds_source.is_available():
        return f"or, {build}"
    return ("or `pip install tensorflow-datasets` (plus tensorflow to read tfds's default tfrecord "
            f"format) and, {build}")


def image_dataset(name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                  num_classes: int) -> Dataset:
    """Wraps uint8 ``[N, H, W]`` or ``[N, H, W, C]`` images and integer labels as a `Dataset`."""

    def split(images, labels):
        if images.ndim == 3:
            images = images[..., None]
        return ArraySplit(images.astype(np.uint8), labels.astype(np.int32), x_scale=1.0 / 255.0)

    train, test = split(*splits["train"]), split(*splits["test"])
    return Dataset(
        name=name,
        train=train,
        test=test,
        validation=None,
        num_classes=num_classes,
        task="classification",
        input_shape=tuple(train.x.shape[1:]),
    )


def read_image_splits(name: str, data_dir: str | None, file_hints: list[str],
                      search_idx: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Finds and reads the train and test splits of an image dataset.

    Tries the IDX folders (if ``search_idx``), then tensorflow-datasets.

    Raises:
        DataNotFoundError: nothing found; the message lists every place searched.
    """
    searched = []
    if search_idx:
        searched += search.unset_roots(data_dir)
        for directory in search.candidate_dirs(name, data_dir):
            if has_mnist_files(directory):
                return read_mnist_dir(directory)
            searched.append(search.describe_dir(directory, "IDX files"))
    try:
        return {split: tfds_source.read_image_split(name, split, data_dir)
                for split in ("train", "test")}
    except tfds_source.TFDSReadError as error:
        searched.append(f"{tfds_source.describe_place(data_dir)}: {error}")
    hints = file_hints + [tfds_hint(name)]
    raise search.not_found_error(name, searched, hints)


def load_mnist(cfg) -> Dataset:
    """MNIST, 60,000 / 10,000 images ``[28, 28, 1]``, 10 classes."""
    hints = search.data_dir_hints(f"the MNIST IDX files ({IDX_FILES})")
    hints.append("or use --config.data.name=mnist_small (5,000 MNIST images bundled with snnjax)")
    return image_dataset("mnist", read_image_splits("mnist", cfg.data_dir, hints), 10)


def load_fashion_mnist(cfg) -> Dataset:
    """Fashion-MNIST, 60,000 / 10,000 images ``[28, 28, 1]``, 10 classes."""
    hints = search.data_dir_hints(f"the Fashion-MNIST IDX files ({IDX_FILES})")
    hints.append("or `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; installs "
                 "/usr/share/datasets/fashion-mnist)")
    splits = read_image_splits("fashion_mnist", cfg.data_dir, hints)
    return image_dataset("fashion_mnist", splits, 10)


def load_cifar10(cfg) -> Dataset:
    """CIFAR-10 from tensorflow-datasets, 50,000 / 10,000 images ``[32, 32, 3]``, 10 classes."""
    hints = ["CIFAR-10 is read through tensorflow-datasets only; pass its data_dir as "
             "--config.data.data_dir"]
    splits = read_image_splits("cifar10", cfg.data_dir, hints, search_idx=False)
    return image_dataset("cifar10", splits, 10)


def load_mnist_small(cfg) -> Dataset:
    """The bundled MNIST subset: the first 5,000 training and 1,000 test images of MNIST."""
    del cfg  # nothing to configure
    with np.load(MNIST_SMALL_PATH) as f:
        splits = {"train": (f["x_train"], f["y_train"]), "test": (f["x_test"], f["y_test"])}
    return image_dataset("mnist_small", splits, 10)
