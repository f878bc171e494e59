"""Rebuilds snnjax/assets/mnist_small.npz, the MNIST subset bundled with snnjax.

The asset holds the FIRST 5,000 training and the FIRST 1,000 test images of MNIST, in the official
order, as uint8 (``x_train [5000, 28, 28]``, ``y_train [5000]``, ``x_test [1000, 28, 28]``,
``y_test [1000]``), compressed with ``np.savez_compressed``.

Run from the repository root::

    python scripts/make_mnist_small.py --source ../shared/data/mnist

``--source`` is a folder with the four MNIST IDX files (``train-images-idx3-ubyte.gz``, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing snnjax

from snnjax.data.idx import read_mnist_dir  # noqa: E402
from snnjax.data.vision import MNIST_SMALL_PATH  # noqa: E402

NUM_TRAIN, NUM_TEST = 5_000, 1_000
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "mnist"


def make_mnist_small(source: Path, out: Path, num_train: int = NUM_TRAIN,
                     num_test: int = NUM_TEST) -> dict[str, np.ndarray]:
    """Writes the first ``num_train``/``num_test`` MNIST examples of ``source`` to ``out``."""
    splits = read_mnist_dir(source)
    arrays = {
        "x_train": splits["train"][0][:num_train],
        "y_train": splits["train"][1][:num_train],
        "x_test": splits["test"][0][:num_test],
        "y_test": splits["test"][1][:num_test],
    }
    arrays = {key: np.ascontiguousarray(value, np.uint8) for key, value in arrays.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="folder with the MNIST IDX files (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=MNIST_SMALL_PATH,
                        help="where to write the .npz (default: %(default)s)")
    args = parser.parse_args()
    arrays = make_mnist_small(args.source, args.out)
    shapes = ", ".join(f"{key} {value.shape}" for key, value in arrays.items())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {shapes}")


if __name__ == "__main__":
    main()
