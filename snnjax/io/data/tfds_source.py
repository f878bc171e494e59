"""Reading an already prepared tensorflow-datasets dataset into NumPy, never downloading.

tensorflow-datasets is optional. Two ways in, tried in order:

1. ``tfds.data_source`` (random access, needs no TensorFlow; the dataset must have been prepared
   in the ``array_record`` format: ``tfds build NAME --file_format=array_record``),
2. ``tfds.load`` (needs TensorFlow; reads the default ``tfrecord`` format).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging

import numpy as np

_LOAD_BATCH = 4096


class TFDSReadError(RuntimeError):
    """tensorflow-datasets is missing or does not have the dataset prepared."""


def is_available() -> bool:
    """Whether ``tensorflow_datasets`` can be imported."""
    return importlib.util.find_spec("tensorflow_datasets") is not None


def describe_place(data_dir: str | None) -> str:
    """How the tfds search appears in a not-found message."""
    where = data_dir or "its default data_dir (~/tensorflow_datasets or $TFDS_DATA_DIR)"
    return f"tensorflow_datasets in {where}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


class _FolderWarnings(logging.Filter):
    """Drops tfds's warnings about the dataset folders it looks at ("Variant folder ... has no
    dataset_info.json", also for folders that do not exist): the ``TFDSReadError`` (and the
    not-found message built from it) says where the dataset was looked for, once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and "tensorflow_datasets" in (record.pathname or "")
                    and str(record.msg).startswith("Variant folder"))


@contextlib.contextmanager
def _quiet_folder_warnings():
    quiet = _FolderWarnings()
    logger = logging.getLogger("absl")
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _read_data_source(tfds, name: str, split: str, data_dir: str | None):
    source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    examples = [source[i] for i in range(len(source))]
    images = np.stack([np.asarray(ex["image"]) for ex in examples])
    labels = np.asarray([ex["label"] for ex in examples])
    return images, labels


def _read_load(tfds, name: str, split: str, data_dir: str | None):
    # Batches rather than batch_size=-1, which aborts the process on tfds's mock data.
    dataset = tfds.load(name, split=split, data_dir=data_dir, download=False,
                        batch_size=_LOAD_BATCH, as_supervised=True)
    batches = list(tfds.as_numpy(dataset))
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def read_image_split(name: str, split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Reads a prepared tfds image-classification split (``image``, ``label`` features).

    Args:
        name: the tfds name, e.g. "mnist", "fashion_mnist", "cifar10".
        split: "train" or "test".
        data_dir: tfds's data_dir, or None for its default.

    Returns:
        ``(images, labels)``: uint8 ``[N, H, W, C]`` and int32 ``[N]``.

    Raises:
        TFDSReadError: tfds is not installed, or neither way in could read the split; the message
            says why each failed.
    """
    if not is_available():
        raise TFDSReadError("tensorflow_datasets is not installed")
    import tensorflow_datasets as tfds  # optional dependency, imported only when used

    failures = []
    for reader in (_read_data_source, _read_load):
        try:
            with _quiet_folder_warnings():
                images, labels = reader(tfds, name, split, data_dir)
        # tfds reports a missing or unreadable dataset with assorted exception types
        # (AssertionError, NotImplementedError, ImportError without TensorFlow, ...).
        except Exception as error:  # noqa: BLE001
            failures.append(f"{reader.__name__.lstrip('_')}: {_first_line(error)}")
            continue
        return images.astype(np.uint8), labels.astype(np.int32)
    raise TFDSReadError("; ".join(failures))
