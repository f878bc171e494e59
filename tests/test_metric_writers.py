"""Tests for snnjax.metric_writers, with an independent TFRecord/Event reader."""

import glob
import json
import math
import os
import struct

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import metric_writers as mw

# ----------------------------------------------------------------------------- CRC-32C


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"123456789", 0xE3069283),  # the standard check value
        (b"", 0x00000000),
        (bytes(32), 0x8A9136AA),  # RFC 3720, B.4
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
)
def test_crc32c_test_vectors(data, expected):
    assert mw.crc32c(data) == expected


def _bitwise_crc32c(data: bytes) -> int:
    """A second, table-free CRC-32C, so the reader below does not trust the writer's."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _bitwise_crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32


def test_bitwise_reference_crc_agrees_with_vector():
    assert _bitwise_crc32c(b"123456789") == 0xE3069283
    assert mw.masked_crc32c(b"some event bytes") == _masked(b"some event bytes")


# ----------------------------------------------------------------------------- a tiny reader


def read_tfrecords(path):
    """Yields the payloads of a TFRecord file, checking both CRCs of every record."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0
    while pos < len(buf):
        header = buf[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", buf[pos + 8 : pos + 12])
        assert length_crc == _masked(header), "length CRC"
        data = buf[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack("<I", buf[pos + 12 + length : pos + 16 + length])
        assert data_crc == _masked(data), "data CRC"
        yield data
        pos += 16 + length
    assert pos == len(buf)


def _read_varint(buf, pos):
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def parse_proto(buf):
    """Generic protobuf wire-format parser: a list of (field, wire_type, raw value)."""
    fields, pos = [], 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.append((field, wire, value))
    return fields


def decode_event(data):
    event = {"scalars": {}}
    for field, wire, value in parse_proto(data):
        if (field, wire) == (1, 1):
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif (field, wire) == (2, 0):
            event["step"] = value - 2**64 if value >= 2**63 else value
        elif (field, wire) == (3, 2):
            event["file_version"] = value.decode()
        elif (field, wire) == (5, 2):
            for vfield, vwire, v in parse_proto(value):
                assert (vfield, vwire) == (1, 2)
                parsed = {f: val for f, _, val in parse_proto(v)}
                event["scalars"][parsed[1].decode()] = struct.unpack("<f", parsed[2])[0]
        else:
            raise AssertionError(f"unexpected field {field}")
    return event


def _event_file(logdir):
    (path,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    return path


# ----------------------------------------------------------------------------- TensorBoard writer


def test_encode_event_bytes_by_hand():
    got = mw.encode_event(0.0, 1, scalars={"a": 1.0})
    value = b"\x0a\x01a" + b"\x15\x00\x00\x80\x3f"  # tag "a", simple_value 1.0f
    summary = b"\x0a\x08" + value
    assert got == b"\x09" + bytes(8) + b"\x10\x01" + b"\x2a\x0a" + summary
    assert mw.encode_event(0.5, 300, file_version="v") == (
        b"\x09" + struct.pack("<d", 0.5) + b"\x10\xac\x02" + b"\x1a\x01v"
    )


def test_negative_step_is_ten_byte_varint():
    assert mw.encode_event(0.0, -1).endswith(b"\x10" + b"\xff" * 9 + b"\x01")


def test_tensorboard_writer_round_trip(tmp_path):
    with mw.TensorBoardWriter(tmp_path / "tb") as writer:
        writer.write(1, {"loss": np.float32(0.5), "acc": jnp.asarray(0.25)})
        writer.write(2**40, {"loss": 0.125, "bad": float("nan")})
        path = writer.path
        # flushed per write: readable before close
        assert len(list(read_tfrecords(path))) == 3
    assert path == _event_file(tmp_path / "tb")
    events = [decode_event(d) for d in read_tfrecords(path)]
    assert events[0]["file_version"] == "brain.Event:2"
    assert events[0]["scalars"] == {}
    assert [e["step"] for e in events[1:]] == [1, 2**40]
    assert events[1]["scalars"] == {"loss": 0.5, "acc": 0.25}
    assert events[2]["scalars"]["loss"] == 0.125
    assert math.isnan(events[2]["scalars"]["bad"])
    assert all(abs(e["wall_time"] - events[0]["wall_time"]) < 60 for e in events)


def test_event_parses_with_protobuf_runtime(tmp_path):
    """Cross-check the hand encoding with the protobuf library, using a schema built here."""
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="snnjax_test_event.proto", package="snnjaxtest", syntax="proto3")
    summary = fdp.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                      type_name=".snnjaxtest.Summary.Value")
    event = fdp.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                    type_name=".snnjaxtest.Summary")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    Event = message_factory.GetMessageClass(pool.FindMessageTypeByName("snnjaxtest.Event"))

    with mw.TensorBoardWriter(tmp_path) as writer:
        writer.write(-3, {"x/y": 2.0, "z": -1.5})
    first, second = (Event.FromString(d) for d in read_tfrecords(_event_file(tmp_path)))
    assert first.file_version == "brain.Event:2"
    assert second.step == -3
    assert [(v.tag, v.simple_value) for v in second.summary.value] == [("x/y", 2.0), ("z", -1.5)]


def test_tensorboard_event_accumulator_reads_it(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import event_accumulator

    with mw.TensorBoardWriter(tmp_path) as writer:
        for step in range(3):
            writer.write(step, {"loss": 1.0 / (step + 1)})
    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    got = [(s.step, s.value) for s in acc.Scalars("loss")]
    assert got == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]


def test_two_writers_in_one_dir_get_two_files(tmp_path):
    a, b = mw.TensorBoardWriter(tmp_path), mw.TensorBoardWriter(tmp_path)
    a.close()
    b.close()
    assert a.path != b.path
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2


# ----------------------------------------------------------------------------- JSON lines


def test_jsonl_converts_scalars_and_writes_nan_as_string(tmp_path):
    path = tmp_path / "sub" / "metrics.jsonl"
    with mw.JsonlWriter(path) as writer:
        writer.write(np.int64(3), {"loss": np.float32(0.5), "acc": jnp.asarray(0.75), "n": jnp.int32(7)})
        assert len(path.read_text().splitlines()) == 1  # flushed before close
        writer.write(4, {"loss": float("nan"), "up": np.inf, "down": -jnp.inf, "flag": np.bool_(True)})
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"step": 3, "loss": 0.5, "acc": 0.75, "n": 7}
    assert lines[1] == '{"step": 4, "loss": "nan", "up": "inf", "down": "-inf", "flag": true}'
    assert "null" not in path.read_text() and "NaN" not in path.read_text()
    assert math.isnan(float(json.loads(lines[1])["loss"]))


def test_jsonl_keeps_full_float_precision(tmp_path):
    with mw.JsonlWriter(tmp_path / "m.jsonl") as writer:
        writer.write(0, {"x": 0.1 + 0.2})
    assert json.loads((tmp_path / "m.jsonl").read_text())["x"] == 0.30000000000000004


def test_jsonl_appends(tmp_path):
    for step in range(2):
        with mw.JsonlWriter(tmp_path / "m.jsonl") as writer:
            writer.write(step, {"x": 1.0})
    assert [json.loads(l)["step"] for l in (tmp_path / "m.jsonl").read_text().splitlines()] == [0, 1]


@pytest.mark.parametrize("bad", [np.zeros(2), "text", 1 + 2j])
def test_non_scalar_metrics_raise(tmp_path, bad):
    with mw.JsonlWriter(tmp_path / "m.jsonl") as writer, pytest.raises(TypeError):
        writer.write(0, {"x": bad})
    with mw.TensorBoardWriter(tmp_path) as writer, pytest.raises(TypeError):
        writer.write(0, {"x": bad})


def test_reserved_step_key(tmp_path):
    with mw.JsonlWriter(tmp_path / "m.jsonl") as writer, pytest.raises(ValueError):
        writer.write(0, {"step": 1})


# ----------------------------------------------------------------------------- MultiWriter


class _Recorder:
    def __init__(self):
        self.calls = []

    def write(self, step, metrics):
        self.calls.append(("write", step, dict(metrics)))

    def flush(self):
        self.calls.append(("flush",))

    def close(self):
        self.calls.append(("close",))


def test_multi_writer_fans_out(tmp_path):
    a, b = _Recorder(), _Recorder()
    jsonl = mw.JsonlWriter(tmp_path / "m.jsonl")
    with mw.MultiWriter([a, jsonl, b]) as writer:
        writer.write(5, {"loss": 1.5})
        writer.flush()
    expected = [("write", 5, {"loss": 1.5}), ("flush",), ("close",)]
    assert a.calls == expected and b.calls == expected
    assert json.loads((tmp_path / "m.jsonl").read_text()) == {"step": 5, "loss": 1.5}
    jsonl.close()  # closing twice is harmless
