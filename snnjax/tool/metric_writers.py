"""Metric writers: JSON lines, TensorBoard (through tensorboardX), and a fan-out.

Every writer has ``write(step, metrics)`` for scalars, ``write_histograms(step, arrays)`` (e.g.
per-neuron firing rates, per-channel leaks), ``write_images(step, images)`` (e.g. spike rasters),
``flush()`` and ``close()``, and is a context manager. A writer that cannot show histograms or
images (JSON lines) ignores them.

``metrics`` maps names to scalars: Python numbers, NumPy scalars, or 0-d NumPy/JAX arrays.

Example::

    with MultiWriter([JsonlWriter(workdir / "metrics.jsonl"), TensorBoardWriter(workdir / "tb")]) as w:
        w.write(step, {"train/loss": loss, "train/acc": acc})
        w.write_histograms(step, {"firing_rate/fc0": rates_per_neuron})
        w.write_images(step, {"raster/fc0": spikes.T})  # [neurons, T] of 0/1: one row per neuron
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np
from jax.typing import ArrayLike

from snnjax.tool import run_files


class MetricWriter(Protocol):
    """What the training loop needs from a writer."""

    def write(self, step: int, metrics: Mapping[str, ArrayLike]) -> None: ...

    def write_histograms(self, step: int, arrays: Mapping[str, ArrayLike]) -> None: ...

    def write_images(self, step: int, images: Mapping[str, ArrayLike]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class _Writer:
    """Context manager (``with Writer(...) as w`` closes ``w`` on exit); histograms and images are
    ignored unless a subclass can show them."""

    def write_histograms(self, step: int, arrays: Mapping[str, ArrayLike]) -> None:
        del step, arrays

    def write_images(self, step: int, images: Mapping[str, ArrayLike]) -> None:
        del step, images

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def to_scalar(value: Any) -> float | int | bool:
    """Converts a Python/NumPy/JAX scalar to a Python ``float``; integer and bool dtypes give
    ``int`` and ``bool`` (exact, and what JSON readers expect for counts).

    Raises:
      TypeError: the value is not a single number.
    """
    if isinstance(value, (bool, int, float)):
        return value
    arr = np.asarray(value)
    kind = arr.dtype.kind
    # kind "V": ml_dtypes such as bfloat16, which float() converts.
    if arr.ndim != 0 or kind not in "biufV":
        raise TypeError(f"metric values must be real scalars, got {type(value).__name__} {arr.shape} {arr.dtype}")
    if kind == "b":
        return bool(arr)
    if kind in "iu":
        return int(arr)
    return float(arr)


def _check_step(step: Any) -> int:
    step = to_scalar(step)
    if isinstance(step, float) and not step.is_integer():
        raise TypeError(f"step must be an integer, got {step}")
    return int(step)


def histogram_values(name: str, values: ArrayLike) -> np.ndarray:
    """``values`` of any shape as a flat float64 array, checked: non-empty and finite.

    Raises:
      ValueError: no values, or a NaN/infinity (a histogram has no bin for them).
    """
    flat = np.asarray(values, np.float64).reshape(-1)
    if flat.size == 0:
        raise ValueError(f"histogram {name!r} has no values")
    if not np.all(np.isfinite(flat)):
        bad = int(np.sum(~np.isfinite(flat)))
        raise ValueError(f"histogram {name!r} has {bad} NaN/infinite values of {flat.size}")
    return flat


def image_uint8(name: str, image: ArrayLike) -> np.ndarray:
    """An image as uint8 ``[H, W, C]``.

    Args:
      name: for the error message.
      image: ``[H, W]`` (grey) or ``[H, W, C]`` with ``C`` 1 (grey), 3 (RGB) or 4 (RGBA); uint8 in
        ``[0, 255]``, or floats or bools in ``[0, 1]`` (clipped there, then scaled by 255 and rounded,
        so a spike raster of 0/1 is black and white).

    Raises:
      ValueError: another shape, or a NaN in a float image.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or 0 in arr.shape:
        raise ValueError(f"image {name!r} must be [H, W] or [H, W, C] with C in (1, 3, 4), "
                         f"got shape {np.shape(image)}")
    if arr.dtype == np.uint8:
        return arr
    arr = np.asarray(arr, np.float64)
    if np.any(np.isnan(arr)):
        raise ValueError(f"image {name!r} has NaN values")
    return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)


# --------------------------------------------------------------------------- JSON lines


def _json_value(x: float | int | bool) -> float | int | bool | str:
    # Strict JSON has no NaN/Infinity; write them as the strings float() reads back.
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # "nan", "inf", "-inf"
    return x


class JsonlWriter(_Writer):
    """Appends one strict-JSON object per ``write`` to ``path``: ``{"step": 3, "loss": 0.25, ...}``.

    Floats are written with ``repr`` precision. NaN and infinities are not valid JSON, so they are
    written as the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (``float(s)`` reads them back); never
    as ``null``. Each line is flushed as soon as it is written, so a crash loses no line.
    Histograms and images are ignored.

    Args:
      path: the file; parent directories are created. An existing file is appended to; a symbolic
        or hard link there is refused (:class:`snnjax.tool.run_files.RunDirError`), never written through.
    """

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._file = run_files.append_owned(path)

    def write(self, step: int, metrics: Mapping[str, ArrayLike]) -> None:
        if "step" in metrics:
            raise ValueError("'step' is reserved for the step number")
        record = {"step": _check_step(step)}
        record.update({str(k): _json_value(to_scalar(v)) for k, v in metrics.items()})
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------- TensorBoard


class TensorBoardWriter(_Writer):
    """Writes scalars, histograms and images to an event file in ``logdir`` for TensorBoard.

    A thin wrapper of ``tensorboardX.SummaryWriter`` (which needs neither TensorFlow nor PyTorch).
    Scalars are float32 ``simple_value`` summaries (NaN and infinities included); histograms use
    TensorFlow's default buckets; images are PNGs (which need Pillow: ``pip install pillow``).
    tensorboardX writes from a background thread: events reach the file within ``flush_secs``
    and all of them by ``close()`` (``metrics.jsonl``, written by `JsonlWriter`, is the record
    that is flushed line by line).

    Args:
      logdir: directory for the event file; created if missing. Each writer opens its own file,
        ``events.out.tfevents.<time>.<host>.<pid>.<n>`` (tensorboardX alone would name two writers
        opened in the same second alike, and the second would overwrite the first).
      flush_secs: at most this many seconds between an event and its arrival in the file.
    """

    _count = 0

    def __init__(self, logdir: str | os.PathLike, flush_secs: float = 10.0):
        from tensorboardX import SummaryWriter

        TensorBoardWriter._count += 1
        self.logdir = os.fspath(logdir)
        self._writer = SummaryWriter(logdir=self.logdir, flush_secs=flush_secs,
                                     filename_suffix=f".{os.getpid()}.{self._count}")

    def write(self, step: int, metrics: Mapping[str, ArrayLike]) -> None:
        scalars = {str(k): float(to_scalar(v)) for k, v in metrics.items()}
        step = _check_step(step)
        for tag, value in scalars.items():
            self._writer.add_scalar(tag, value, global_step=step)

    def write_histograms(self, step: int, arrays: Mapping[str, ArrayLike]) -> None:
        values = {str(k): histogram_values(str(k), v) for k, v in arrays.items()}
        step = _check_step(step)
        for tag, flat in values.items():
            self._writer.add_histogram(tag, flat, global_step=step)

    def write_images(self, step: int, images: Mapping[str, ArrayLike]) -> None:
        pixels = {str(k): image_uint8(str(k), v) for k, v in images.items()}
        step = _check_step(step)
        if pixels:
            try:
                import PIL  # noqa: F401  (tensorboardX encodes PNGs with it)
            except ImportError as error:
                raise ImportError("TensorBoard images need Pillow: `pip install pillow`") from error
        for tag, image in pixels.items():
            self._writer.add_image(tag, image, global_step=step, dataformats="HWC")

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


# --------------------------------------------------------------------------- fan-out and no-op


class MultiWriter(_Writer):
    """Sends every call to each of ``writers``, in order."""

    def __init__(self, writers: Iterable[MetricWriter]):
        self.writers = tuple(writers)

    def write(self, step: int, metrics: Mapping[str, ArrayLike]) -> None:
        for writer in self.writers:
            writer.write(step, metrics)

    def write_histograms(self, step: int, arrays: Mapping[str, ArrayLike]) -> None:
        for writer in self.writers:
            writer.write_histograms(step, arrays)

    def write_images(self, step: int, images: Mapping[str, ArrayLike]) -> None:
        for writer in self.writers:
            writer.write_images(step, images)

    def flush(self) -> None:
        for writer in self.writers:
            writer.flush()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class NullWriter(_Writer):
    """Ignores everything (for processes other than the one that writes, in multi-host runs)."""

    def write(self, step: int, metrics: Mapping[str, ArrayLike]) -> None:
        del step, metrics

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
