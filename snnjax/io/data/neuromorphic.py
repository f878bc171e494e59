"""Event datasets through `tonic <https://tonic.readthedocs.io>`_: the event cameras' N-MNIST,
DVS-Gesture, CIFAR10-DVS as frames, and the audio set SHD as binned spike counts (end of the file).

Each recording is binned into ``time_bins`` frames of event counts per pixel and polarity with
``tonic.transforms.ToFrame(sensor_size, n_time_bins=time_bins)``, and returned batch-major and
channels-last: x float32 ``[B, time_bins, H, W, 2]``, y int32 ``[B]``. (The model's "sequence"
encoder transposes x to the library's time-major ``[T, B, H, W, 2]``.) Frames are made on demand in
`EventSplit.get`, so nothing but file names is held in memory.

tonic must be installed (``pip install tonic``; it does not need torch) and the data extracted in
tonic's layout under one of the folders of `snnjax.data.search.candidate_dirs`, e.g.
``DATA_DIR/NMNIST/Train/<digit>/*.bin``. Nothing is ever downloaded: where tonic would download, a
`DataNotFoundError` is raised instead.

CIFAR10-DVS has no official split; as is usual (e.g. SpikingJelly's ``split_to_train_test_set``),
the first 90 % of each class's recordings, in file-name order, are the training set and the rest
the test set.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from snnjax.io.data import search
from snnjax.io.data.dataset import Dataset, IndexedSplit, check_indices


@dataclasses.dataclass(frozen=True)
class EventSet:
    """What snnjax needs to know about one tonic dataset.

    Attributes:
        tonic_class: the class name in ``tonic.datasets`` (also its folder under ``save_to``).
        folders: the folder of each split inside the class folder ("" for unsplit sets).
        file_suffix: the suffix of the event files.
        sensor_size: ``(W, H, P)``, as tonic gives it.
        num_classes: number of classes.
    """

    tonic_class: str
    folders: dict[str, str]
    file_suffix: str
    sensor_size: tuple[int, int, int]
    num_classes: int


EVENT_SETS = {
    "nmnist": EventSet("NMNIST", {"train": "Train", "test": "Test"}, ".bin", (34, 34, 2), 10),
    "dvs_gesture": EventSet("DVSGesture", {"train": "ibmGestureTrain", "test": "ibmGestureTest"},
                            ".npy", (128, 128, 2), 11),
    "cifar10_dvs": EventSet("CIFAR10DVS", {"all": ""}, ".aedat4", (128, 128, 2), 10),
}
CIFAR10_DVS_TRAIN_FRACTION = 0.9


def events_to_frames(events: np.ndarray, sensor_size: tuple[int, int, int],
                     time_bins: int) -> np.ndarray:
    """Bins a structured event array (fields x, y, t, p) into frames of event counts.

    Args:
        events: structured array ``[num_events]`` with fields ``x``, ``y``, ``t``, ``p``.
        sensor_size: ``(W, H, P)``.
        time_bins: number of frames, equal slices of the recording's time span.

    Returns:
        float32 ``[time_bins, H, W, P]``. As in tonic, bin ``k`` counts the events with
        ``t0 + k w <= t < t0 + (k + 1) w``, ``w = (t_end - t0) // time_bins``, so the events at the
        very end of the recording (at least the last one) fall outside every bin.
    """
    import tonic  # optional dependency, imported only when used

    to_frame = tonic.transforms.ToFrame(sensor_size=sensor_size, n_time_bins=time_bins)
    frames = to_frame(events)  # [T, P, H, W], int16 counts
    return np.transpose(frames, (0, 2, 3, 1)).astype(np.float32)


def _has_events(folder: Path, suffix: str) -> bool:
    return folder.is_dir() and next(folder.rglob(f"*{suffix}"), None) is not None


def _offline(tonic_cls: type, suffix: str) -> type:
    """A subclass of a tonic dataset that never downloads.

    tonic checks for the downloaded archive (and a minimum file count) and downloads when it is
    missing; this subclass is satisfied by extracted event files alone and raises instead of
    downloading. It keeps the class name, which tonic uses as the folder name.

    ``_check_exists`` is private to tonic, so ``pyproject.toml`` pins tonic to the releases whose
    ``__init__`` the tests in ``tests/io/test_data_neuromorphic.py`` checked (it asks
    ``self._check_exists()``, calls ``self.download()`` on False, then lists
    ``location_on_system/folder_name``).
    """

    def check_exists(self) -> bool:
        return _has_events(Path(self.location_on_system, self.folder_name), suffix)

    def download(self) -> None:
        raise search.DataNotFoundError(f"no {suffix} files under {self.location_on_system}")

    return type(tonic_cls.__name__, (tonic_cls,), {"_check_exists": check_exists,
                                                   "download": download})


@dataclasses.dataclass(frozen=True, eq=False)
class EventSplit:
    """A split of a tonic dataset, turned into frames on demand.

    Attributes:
        events: the tonic dataset (``events, target = events[i]``).
        sensor_size: ``(W, H, P)``.
        time_bins: frames per recording.
    """

    events: Any
    sensor_size: tuple[int, int, int]
    time_bins: int

    @property
    def num_examples(self) -> int:
        return len(self.events)

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        del epoch  # fixed data
        indices = check_indices(indices, self.num_examples)
        width, height, polarities = self.sensor_size
        x = np.zeros((len(indices), self.time_bins, height, width, polarities), np.float32)
        y = np.zeros(len(indices), np.int32)
        for row, index in enumerate(indices):
            events, label = self.events[int(index)]
            y[row] = label
            x[row] = events_to_frames(events, self.sensor_size, self.time_bins)
        return x, y


def find_save_to(name: str, spec: EventSet, data_dir: str | None) -> Path:
    """The first candidate folder holding ``<tonic_class>/`` with event files.

    Raises:
        DataNotFoundError: tonic is missing or no folder holds the files.
    """
    searched, hints = [], []
    if importlib.util.find_spec("tonic") is None:
        searched.append("tonic: not installed")
        hints.append("`pip install tonic` (it does not need torch)")
    else:
        searched += search.unset_roots(data_dir)
        for root in search.candidate_dirs(name, data_dir):
            if _has_events(root / spec.tonic_class, spec.file_suffix):
                return root
            folder = root / spec.tonic_class
            searched.append(search.describe_dir(folder, f"{spec.file_suffix} files"))
    first_folder = next(iter(spec.folders.values()))
    layout = "/".join(part for part in (spec.tonic_class, first_folder, "...") if part)
    hints += search.data_dir_hints(f"the extracted {spec.tonic_class} files (FOLDER/{layout})")
    hints.append(f"tonic can download them: `tonic.datasets.{spec.tonic_class}(save_to=FOLDER)` "
                 "on a machine with internet access")
    raise search.not_found_error(name, searched, hints)


def per_class_split(targets: np.ndarray, paths: list[str],
                    fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the first ``fraction`` of recordings (by path) for training, the rest for test.

    Args:
        targets: ``[N]`` class of each recording.
        paths: ``N`` file paths, which order the recordings within a class.
        fraction: share of each class that goes to training.

    Returns:
        ``(train_indices, test_indices)``, int64, into ``targets``.
    """
    order = sorted(range(len(paths)), key=lambda i: (targets[i], paths[i]))
    train, test = [], []
    for label in np.unique(targets):
        members = [i for i in order if targets[i] == label]
        cut = int(round(fraction * len(members)))
        train += members[:cut]
        test += members[cut:]
    return np.asarray(train, np.int64), np.asarray(test, np.int64)


def load_event_set(name: str, cfg) -> Dataset:
    """Loads event dataset ``name`` (a key of `EVENT_SETS`) as frames of ``cfg.time_bins`` steps."""
    spec = EVENT_SETS[name]
    save_to = find_save_to(name, spec, cfg.data_dir)
    import tonic  # optional dependency, present: find_save_to checked

    cls = _offline(getattr(tonic.datasets, spec.tonic_class), spec.file_suffix)

    def split(events):
        return EventSplit(events, spec.sensor_size, int(cfg.time_bins))

    if "all" in spec.folders:
        events = cls(save_to=str(save_to))
        train_idx, test_idx = per_class_split(np.asarray(events.targets), list(events.data),
                                           CIFAR10_DVS_TRAIN_FRACTION)
        everything = split(events)
        train, test = IndexedSplit(everything, train_idx), IndexedSplit(everything, test_idx)
    else:
        train = split(cls(save_to=str(save_to), train=True))
        test = split(cls(save_to=str(save_to), train=False))
    width, height, polarities = spec.sensor_size
    return Dataset(
        name=name,
        train=train,
        test=test,
        validation=None,
        num_classes=spec.num_classes,
        task="classification",
        input_shape=(int(cfg.time_bins), height, width, polarities),
    )


def load_nmnist(cfg) -> Dataset:
    """N-MNIST frames ``[time_bins, 34, 34, 2]``, 10 classes."""
    return load_event_set("nmnist", cfg)


def load_dvs_gesture(cfg) -> Dataset:
    """DVS-Gesture frames ``[time_bins, 128, 128, 2]``, 11 classes."""
    return load_event_set("dvs_gesture", cfg)


def load_cifar10_dvs(cfg) -> Dataset:
    """CIFAR10-DVS frames ``[time_bins, 128, 128, 2]``, 10 classes (90/10 split per class)."""
    return load_event_set("cifar10_dvs", cfg)


# --------------------------------------------------------------------------- SHD (audio)
#
# The Spiking Heidelberg Digits (Cramer et al. 2020, "The Heidelberg spiking data sets for the
# systematic evaluation of spiking neural networks"): spoken digits 0-9 in English and German
# (20 classes) as spikes of 700 cochlea channels, read by ``tonic.datasets.SHD`` from
# ``<DATA_DIR>/SHD/shd_train.h5`` and ``shd_test.h5`` (tonic needs h5py for them).

SHD_CHANNELS = 700
SHD_CLASSES = 20
SHD_FILES = {"train": "shd_train.h5", "test": "shd_test.h5"}
# Frames cover a fixed window from t = 0 (our choice; recordings last about a second), so a bin is
# the same duration in every recording: window / time_bins.
SHD_WINDOW_S = 1.0


def spikes_to_bins(events: np.ndarray, time_bins: int, window_s: float = SHD_WINDOW_S,
                   channels: int = SHD_CHANNELS) -> np.ndarray:
    """Counts an SHD recording's spikes per channel in ``time_bins`` equal bins of ``[0, window_s)``.

    Args:
        events: tonic's structured array with fields ``t`` (microseconds) and ``x`` (channel).
        time_bins: number of bins T; bin ``k`` is ``[k w, (k + 1) w)`` with ``w = window_s / T``.
        window_s: the window in seconds; later spikes are dropped.
        channels: number of input channels.

    Returns:
        float32 ``[time_bins, channels]``.
    """
    t = np.asarray(events["t"], np.float64) / 1e6
    ch = np.asarray(events["x"], np.int64)
    keep = (t >= 0) & (t < window_s) & (ch >= 0) & (ch < channels)
    bins = np.minimum((t[keep] / window_s * time_bins).astype(np.int64), time_bins - 1)
    frames = np.zeros((time_bins, channels), np.float32)
    np.add.at(frames, (bins, ch[keep]), 1.0)
    return frames


@dataclasses.dataclass(frozen=True, eq=False)
class SpikeBinSplit:
    """A split of tonic's SHD, binned on demand: x float32 ``[B, time_bins, 700]``, y int32 ``[B]``."""

    events: Any
    time_bins: int

    @property
    def num_examples(self) -> int:
        return len(self.events)

    def get(self, indices: np.ndarray, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        del epoch  # fixed data
        indices = check_indices(indices, self.num_examples)
        x = np.zeros((len(indices), self.time_bins, SHD_CHANNELS), np.float32)
        y = np.zeros(len(indices), np.int32)
        for row, index in enumerate(indices):
            events, label = self.events[int(index)]
            x[row] = spikes_to_bins(events, self.time_bins)
            y[row] = int(label)
        return x, y


def _offline_shd(tonic_cls: type) -> type:
    """tonic's SHD that reads the extracted ``.h5`` file of its split and never downloads."""

    def check_exists(self) -> bool:
        return Path(self.location_on_system, self.data_filename).is_file()

    def download(self) -> None:
        raise search.DataNotFoundError(f"no {self.data_filename} under {self.location_on_system}")

    return type(tonic_cls.__name__, (tonic_cls,), {"_check_exists": check_exists, "download": download})


def find_shd(data_dir: str | None) -> Path:
    """The first candidate folder holding ``SHD/shd_train.h5`` and ``SHD/shd_test.h5``.

    Raises:
        DataNotFoundError: tonic or h5py is missing, or no folder holds both files.
    """
    searched, hints = [], []
    missing = [m for m in ("tonic", "h5py") if importlib.util.find_spec(m) is None]
    if missing:
        searched += [f"{m}: not installed" for m in missing]
        hints.append(f"`pip install {' '.join(missing)}` (tonic reads SHD's .h5 files with h5py; no torch needed)")
    else:
        searched += search.unset_roots(data_dir)
        for root in search.candidate_dirs("shd", data_dir):
            folder = root / "SHD"
            if all((folder / f).is_file() for f in SHD_FILES.values()):
                return root
            searched.append(search.describe_dir(folder, " and ".join(SHD_FILES.values())))
    hints += search.data_dir_hints("the extracted SHD files (FOLDER/SHD/shd_train.h5, FOLDER/SHD/shd_test.h5)")
    hints.append("tonic can download them: `tonic.datasets.SHD(save_to=FOLDER)` on a machine with internet "
                 "access (or unzip shd_train.h5.zip and shd_test.h5.zip from zenkelab.org into FOLDER/SHD)")
    raise search.not_found_error("shd", searched, hints)


def load_shd(cfg) -> Dataset:
    """SHD as spike counts ``[time_bins, 700]`` per recording (bins of ``SHD_WINDOW_S / time_bins``), 20 classes."""
    save_to = find_shd(cfg.data_dir)
    import tonic  # optional dependency, present: find_shd checked

    cls = _offline_shd(tonic.datasets.SHD)
    bins = int(cfg.time_bins)
    return Dataset(
        name="shd",
        train=SpikeBinSplit(cls(save_to=str(save_to), train=True), bins),
        test=SpikeBinSplit(cls(save_to=str(save_to), train=False), bins),
        validation=None,
        num_classes=SHD_CLASSES,
        task="classification",
        input_shape=(bins, SHD_CHANNELS),
    )
