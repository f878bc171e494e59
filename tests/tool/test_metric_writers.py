"""Tests for snnjax.tool.metric_writers; TensorBoard's own reader reads back what the writer wrote."""

import glob
import io
import json
import math
import time

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.tool import metric_writers as mw

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(logdir):
    """TensorBoard's EventAccumulator over ``logdir``, keeping every event."""
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0,
                                    event_accumulator.IMAGES: 0})
    acc.Reload()
    return acc


# ----------------------------------------------------------------------------- TensorBoard


def test_tensorboard_reads_back_scalars(tmp_path):
    with mw.TensorBoardWriter(tmp_path / "tb") as writer:
        writer.write(1, {"loss": np.float32(0.5), "acc": jnp.asarray(0.25), "n": jnp.int32(7)})
        writer.write(2**40, {"loss": 0.1, "bad": float("nan"), "up": np.inf})
    acc = _read(tmp_path / "tb")
    assert sorted(acc.Tags()["scalars"]) == ["acc", "bad", "loss", "n", "up"]
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(1, 0.5), (2**40, np.float32(0.1))]
    assert [(e.step, e.value) for e in acc.Scalars("acc")] == [(1, 0.25)]
    assert [(e.step, e.value) for e in acc.Scalars("n")] == [(1, 7.0)]
    assert math.isnan(acc.Scalars("bad")[0].value) and acc.Scalars("up")[0].value == math.inf
    assert len(glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))) == 1


def test_events_reach_the_file_before_close(tmp_path):
    writer = mw.TensorBoardWriter(tmp_path, flush_secs=0.2)
    writer.write(1, {"loss": 0.5})
    deadline = time.monotonic() + 60  # generous: the machine may be busy
    while "loss" not in _read(tmp_path).Tags()["scalars"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [(e.step, e.value) for e in _read(tmp_path).Scalars("loss")] == [(1, 0.5)]
    writer.close()


def test_tensorboard_reads_back_a_histogram(tmp_path):
    rates = np.random.default_rng(0).uniform(0.0, 0.4, size=(8, 25))  # e.g. per-neuron firing rates
    with mw.TensorBoardWriter(tmp_path) as writer:
        writer.write_histograms(3, {"firing_rate/fc0": jnp.asarray(rates, jnp.float32)})
        writer.write_histograms(4, {"firing_rate/fc0": rates[:2]})
    events = _read(tmp_path).Histograms("firing_rate/fc0")
    assert [e.step for e in events] == [3, 4]
    values = np.asarray(jnp.asarray(rates, jnp.float32), np.float64).reshape(-1)
    h = events[0].histogram_value
    assert h.num == values.size == sum(h.bucket)
    np.testing.assert_allclose([h.min, h.max, h.sum, h.sum_squares],
                               [values.min(), values.max(), values.sum(), values @ values])
    # each bucket holds the values below its right edge and at or above the previous one
    edges = np.asarray(h.bucket_limit)
    below = np.array([np.sum(values < edge) for edge in edges[:-1]] + [values.size])
    np.testing.assert_array_equal(np.cumsum(h.bucket), below)
    assert events[1].histogram_value.num == 50


def test_tensorboard_reads_back_images_pixel_for_pixel(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    raster = (np.random.default_rng(2).uniform(size=(6, 9)) < 0.3)  # [neurons, T] spikes
    with mw.TensorBoardWriter(tmp_path) as writer:
        writer.write_images(2, {"rgb": rgb, "raster/fc0": jnp.asarray(raster, jnp.float32)})
    acc = _read(tmp_path)
    (got_rgb,) = acc.Images("rgb")
    assert (got_rgb.step, got_rgb.height, got_rgb.width) == (2, 5, 7)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(got_rgb.encoded_image_string))), rgb)
    (got_raster,) = acc.Images("raster/fc0")
    pixels = np.asarray(Image.open(io.BytesIO(got_raster.encoded_image_string)))
    assert pixels.shape[:2] == (6, 9)  # tensorboardX stores grey as RGB
    for channel in range(pixels.shape[2]):
        np.testing.assert_array_equal(pixels[:, :, channel], np.where(raster, 255, 0))


def test_float_images_are_clipped_to_0_1_and_rounded():
    np.testing.assert_array_equal(mw.image_uint8("x", np.array([[-0.5, 0.0, 0.5, 1.0, 1.7]])),
                                  np.array([[0, 0, 128, 255, 255]], np.uint8)[:, :, None])
    np.testing.assert_array_equal(mw.image_uint8("x", np.array([[True, False]])), [[[255], [0]]])


@pytest.mark.parametrize("bad", [np.zeros(4), np.zeros((2, 3, 2)), np.zeros((0, 3)), np.full((2, 2), np.nan)])
def test_bad_images_raise_naming_the_image(bad):
    with pytest.raises(ValueError, match="image 'spikes'"):
        mw.image_uint8("spikes", bad)


@pytest.mark.parametrize("bad", [np.zeros(0), np.array([0.1, np.nan]), np.array([np.inf])])
def test_bad_histograms_raise_naming_the_histogram(tmp_path, bad):
    with mw.TensorBoardWriter(tmp_path) as writer, pytest.raises(ValueError, match="histogram 'rates'"):
        writer.write_histograms(0, {"rates": bad})


def test_two_writers_in_one_dir_in_the_same_second_get_two_files(tmp_path):
    a, b = mw.TensorBoardWriter(tmp_path), mw.TensorBoardWriter(tmp_path)
    a.write(0, {"x": 1.0})
    b.write(1, {"x": 2.0})
    a.close()
    b.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2
    assert sorted((e.step, e.value) for e in _read(tmp_path).Scalars("x")) == [(0, 1.0), (1, 2.0)]


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
    assert "x" not in _read(tmp_path).Tags()["scalars"]


def test_jsonl_ignores_histograms_and_images(tmp_path):
    with mw.JsonlWriter(tmp_path / "m.jsonl") as writer:
        writer.write_histograms(0, {"rates": np.ones(3)})
        writer.write_images(0, {"raster": np.ones((2, 2))})
        writer.write(1, {"x": 1.0})
    assert (tmp_path / "m.jsonl").read_text() == '{"step": 1, "x": 1.0}\n'


def test_reserved_step_key(tmp_path):
    with mw.JsonlWriter(tmp_path / "m.jsonl") as writer, pytest.raises(ValueError):
        writer.write(0, {"step": 1})


# ----------------------------------------------------------------------------- MultiWriter


class _Recorder:
    def __init__(self):
        self.calls = []

    def write(self, step, metrics):
        self.calls.append(("write", step, dict(metrics)))

    def write_histograms(self, step, arrays):
        self.calls.append(("write_histograms", step, dict(arrays)))

    def write_images(self, step, images):
        self.calls.append(("write_images", step, dict(images)))

    def flush(self):
        self.calls.append(("flush",))

    def close(self):
        self.calls.append(("close",))


def test_multi_writer_fans_out(tmp_path):
    a, b = _Recorder(), _Recorder()
    jsonl = mw.JsonlWriter(tmp_path / "m.jsonl")
    tb = mw.TensorBoardWriter(tmp_path / "tb")
    rates, raster = np.array([0.5, 0.25]), np.eye(3)
    with mw.MultiWriter([a, jsonl, tb, b]) as writer:
        writer.write(5, {"loss": 1.5})
        writer.write_histograms(5, {"rates": rates})
        writer.write_images(6, {"raster": raster})
        writer.flush()
    expected = [("write", 5, {"loss": 1.5}), ("write_histograms", 5, {"rates": rates}),
                ("write_images", 6, {"raster": raster}), ("flush",), ("close",)]
    assert a.calls == expected and b.calls == expected
    assert json.loads((tmp_path / "m.jsonl").read_text()) == {"step": 5, "loss": 1.5}
    acc = _read(tmp_path / "tb")
    assert [e.value for e in acc.Scalars("loss")] == [1.5]
    assert acc.Histograms("rates")[0].histogram_value.num == 2
    assert acc.Images("raster")[0].step == 6
    jsonl.close()  # closing twice is harmless
    tb.close()


def test_null_writer_takes_every_call():
    with mw.NullWriter() as writer:
        writer.write(0, {"x": 1.0})
        writer.write_histograms(0, {"x": np.ones(2)})
        writer.write_images(0, {"x": np.ones((2, 2))})
        writer.flush()
