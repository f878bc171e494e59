"""Scalar metric writers: JSON lines, TensorBoard event files, and a fan-out.

Every writer has ``write(step, metrics)``, ``flush()`` and ``close()`` and is a context manager.
``metrics`` maps names to scalars: Python numbers, NumPy scalars, or 0-d NumPy/JAX arrays.

``TensorBoardWriter`` needs neither tensorflow nor tensorboard: it writes the TFRecord framing and
the ``Event`` protocol buffer by hand.

Example::

    with MultiWriter([JsonlWriter(workdir / "metrics.jsonl"), TensorBoardWriter(workdir / "tb")]) as w:
        w.write(step, {"train/loss": loss, "train/acc": acc})
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import numpy as np


class MetricWriter(Protocol):
    """What the training loop needs from a writer."""

    def write(self, step: int, metrics: Mapping[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class _Closing:
    """Context-manager mixin: ``with Writer(...) as w`` closes ``w`` on exit."""

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


# --------------------------------------------------------------------------- JSON lines


def _json_value(x: float | int | bool) -> float | int | bool | str:
    # Strict JSON has no NaN/Infinity; write them as the strings float() reads back.
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # "nan", "inf", "-inf"
    return x


class JsonlWriter(_Closing):
    """Appends one strict-JSON object per ``write`` to ``path``: ``{"step": 3, "loss": 0.25, ...}``.

    Floats are written with ``repr`` precision. NaN and infinities are not valid JSON, so they are
    written as the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (``float(s)`` reads them back); never
    as ``null``. Each line is flushed as soon as it is written, so a crash loses no line.

    Args:
      path: the file; parent directories are created. An existing file is appended to.
    """

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
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


# --------------------------------------------------------------------------- CRC-32C and TFRecord


def _crc32c_table() -> tuple[int, ...]:
    poly = 0x82F63B78  # Castagnoli polynomial 0x1EDC6F41, bit-reflected
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as used by TFRecord. ``crc32c(b"123456789") == 0xE3069283``."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits, add ``0xA282EAD8`` (mod 2**32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(data: bytes) -> bytes:
    """One TFRecord: ``uint64 length | uint32 masked_crc(length) | data | uint32 masked_crc(data)``,
    little-endian."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


# --------------------------------------------------------------------------- protobuf encoding

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # int64 negatives are ten-byte two's complement
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _key(field, _BYTES) + _varint(len(payload)) + payload


def encode_event(
    wall_time: float, step: int, *, file_version: str | None = None, scalars: Mapping[str, float] | None = None
) -> bytes:
    """Serialises a ``tensorflow.Event`` holding a file version or a summary of scalars.

    Fields used (``tensorflow/core/util/event.proto``, ``summary.proto``)::

        Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
        Summary { repeated Value value = 1; }
        Value   { string tag = 1; float simple_value = 2; }
    """
    out = _key(1, _FIXED64) + struct.pack("<d", wall_time) + _key(2, _VARINT) + _varint(step)
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if scalars:
        summary = b"".join(
            _bytes_field(1, _bytes_field(1, tag.encode()) + _key(2, _FIXED32) + struct.pack("<f", value))
            for tag, value in scalars.items()
        )
        out += _bytes_field(5, summary)
    return out


class TensorBoardWriter(_Closing):
    """Writes scalars to ``logdir/events.out.tfevents.<time>.<host>.<pid>.<n>`` for TensorBoard.

    The first record is the ``file_version: "brain.Event:2"`` event; each ``write`` then adds one
    event whose summary holds every metric as a float32 ``simple_value`` (NaN and infinities
    included). Each record is flushed when written.

    Args:
      logdir: directory for the event file; created if missing.
    """

    _count = 0

    def __init__(self, logdir: str | os.PathLike):
        logdir = os.fspath(logdir)
        os.makedirs(logdir, exist_ok=True)
        TensorBoardWriter._count += 1
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{self._count}"
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "wb")
        self._append(encode_event(time.time(), 0, file_version="brain.Event:2"))

    def _append(self, event: bytes) -> None:
        self._file.write(tfrecord_frame(event))
        self._file.flush()

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        scalars = {str(k): float(to_scalar(v)) for k, v in metrics.items()}
        if scalars:
            self._append(encode_event(time.time(), _check_step(step), scalars=scalars))

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------- fan-out


class MultiWriter(_Closing):
    """Sends every call to each of ``writers``, in order."""

    def __init__(self, writers: Iterable[MetricWriter]):
        self.writers = tuple(writers)

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        for writer in self.writers:
            writer.write(step, metrics)

    def flush(self) -> None:
        for writer in self.writers:
            writer.flush()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
