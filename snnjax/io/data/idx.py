"""Reader for the IDX format of MNIST and Fashion-MNIST, in plain NumPy.

An IDX file is a 4-byte magic number ``00 00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32
dimension sizes, then the data in C order, big-endian. MNIST images are ``0x00000803`` (uint8,
3 dims: N, 28, 28) and labels ``0x00000801`` (uint8, 1 dim: N). Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

# Split -> (images file, labels file), without the optional ".gz".
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXError(ValueError):
    """An IDX file is malformed or does not hold what was expected."""


REPLACE_HINT = ("Replace it with an intact copy of the original file (MNIST / Fashion-MNIST IDX files, "
                "gzip-compressed or not), or point --config.data.data_dir at a folder that has one")


def parse_idx(data: bytes, source: str = "<bytes>",
              expected_magic: int | None = None) -> np.ndarray:
    """Decodes the bytes of an (uncompressed) IDX file.

    Args:
        data: the file's bytes.
        source: a name for error messages.
        expected_magic: if given, the magic number the file must have (e.g. ``IMAGES_MAGIC``).

    Returns:
        The array, with the shape from the header and a native-endian dtype.

    Raises:
        IDXError: bad magic number, unknown dtype code, or a data size that disagrees with the
            header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise IDXError(f"{source}: not an IDX file (magic number {data[:4].hex() or 'missing'})")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{source}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x}")
    code, ndim = data[2], data[3]
    if code not in _DTYPES:
        raise IDXError(f"{source}: unknown IDX dtype code 0x{code:02x}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXError(f"{source}: truncated header ({len(data)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = _DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_size != expected:
        raise IDXError(
            f"{source}: header says shape {shape} ({expected} data bytes) but the file holds "
            f"{len(data) - header_size} data bytes"
        )
    array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Reads an IDX file, gzip-compressed or not (detected from its first bytes).

    Args:
        path: the file.
        expected_magic: if given, the magic number the file must have.

    Raises:
        IDXError: see `parse_idx`; also a truncated or damaged gzip file. The message names the
            file and says how to replace it.
    """
    raw = Path(path).read_bytes()
    try:
        if raw[:2] == _GZIP_MAGIC:
            try:
                raw = gzip.decompress(raw)
            except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # EOFError names no file
                raise IDXError(f"{path}: truncated or damaged gzip file ({error})") from error
        return parse_idx(raw, source=str(path), expected_magic=expected_magic)
    except IDXError as error:
        raise IDXError(f"{error}. {REPLACE_HINT}") from error


def find_idx_file(directory: Path, stem: str) -> Path | None:
    """``directory/stem.gz`` or ``directory/stem``, whichever exists (gz first)."""
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def has_mnist_files(directory: Path) -> bool:
    """Whether ``directory`` holds all four MNIST-style IDX files."""
    stems = [stem for pair in MNIST_FILES.values() for stem in pair]
    return directory.is_dir() and all(find_idx_file(directory, s) is not None for s in stems)


def read_image_label_pair(
    images_path: Path, labels_path: Path, image_shape: tuple[int, int] = (28, 28),
    num_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Reads and validates one MNIST-style split.

    Returns:
        ``(images, labels)``: uint8 ``[N, H, W]`` and uint8 ``[N]``.

    Raises:
        IDXError: wrong magic numbers, image size, dtype, label range, or differing counts.
    """
    images = read_idx(images_path, expected_magic=IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=LABELS_MAGIC)
    if images.shape[1:] != tuple(image_shape):
        raise IDXError(f"{images_path}: images of shape {images.shape[1:]}, expected {image_shape}. {REPLACE_HINT}")
    if len(images) != len(labels):
        raise IDXError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels. {REPLACE_HINT}"
        )
    if labels.size and labels.max() >= num_classes:
        raise IDXError(f"{labels_path}: label {labels.max()} >= num_classes={num_classes}. {REPLACE_HINT}")
    return images, labels


def read_mnist_dir(directory: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads ``train`` and ``test`` from the four IDX files in ``directory``.

    Returns:
        ``{"train": (images, labels), "test": (images, labels)}``, uint8 ``[N, 28, 28]`` / ``[N]``.
    """
    splits = {}
    for split, (images_stem, labels_stem) in MNIST_FILES.items():
        images_path = find_idx_file(directory, images_stem)
        labels_path = find_idx_file(directory, labels_stem)
        if images_path is None or labels_path is None:
            raise FileNotFoundError(
                f"{directory}: missing {images_stem}(.gz) or {labels_stem}(.gz)")
        splits[split] = read_image_label_pair(images_path, labels_path)
    return splits
