"""Datasets by name, and `load`, the one entry point of ``snnjax.data``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import ml_collections

from snnjax.core.registry import Registry
from snnjax.io.data import augment as augment_lib
from snnjax.io.data import neuromorphic, random_tensors, sequence_tasks, vision
from snnjax.io.data.config import with_defaults
from snnjax.io.data.dataset import AugmentedSplit, Dataset, check_not_empty, split_off_validation

Loader = Callable[[ml_collections.ConfigDict], Dataset]

LOADERS: Registry[Loader] = Registry("dataset", {
    "mnist": vision.load_mnist,
    "fashion_mnist": vision.load_fashion_mnist,
    "mnist_small": vision.load_mnist_small,
    "cifar10": vision.load_cifar10,
    "adding": sequence_tasks.load_adding,
    "copy_memory": sequence_tasks.load_copy_memory,
    "random": random_tensors.load_random,
    "nmnist": neuromorphic.load_nmnist,
    "dvs_gesture": neuromorphic.load_dvs_gesture,
    "cifar10_dvs": neuromorphic.load_cifar10_dvs,
    "shd": neuromorphic.load_shd,
})


def register(name: str, loader: Loader | None = None, *, overwrite: bool = False) -> Loader:
    """Adds a dataset: ``loader(cfg) -> Dataset`` with ``validation=None`` (`load` adds it).

    Also a decorator, ``@snnjax.data.register("name")``; an existing name is refused unless ``overwrite``.
    """
    return LOADERS.register(name, loader, overwrite=overwrite)


def names() -> list[str]:
    """The registered dataset names, sorted."""
    return LOADERS.names()


def with_augmentation(dataset: Dataset, kind: str, seed: int) -> Dataset:
    """Applies augmentation ``kind`` ("none" or "affine") to the training split only."""
    if kind not in augment_lib.AUGMENTATIONS:
        raise ValueError(f"augment must be one of {augment_lib.AUGMENTATIONS}, got {kind!r}")
    if kind == "none":
        return dataset
    if len(dataset.input_shape) != 3:
        raise ValueError(f"augment={kind!r} needs [H, W, C] images; {dataset.name!r} examples "
                         f"have shape {dataset.input_shape}")
    return dataclasses.replace(
        dataset, train=AugmentedSplit(dataset.train, augment_lib.random_affine, seed))


def load(cfg: Mapping | ml_collections.ConfigDict) -> Dataset:
    """Loads the dataset described by ``config.data``.

    Args:
        cfg: the ``data`` section of a config; keys it lacks take the values of
            `default_data_config`.

    Returns:
        The `Dataset`, with a validation split carved from the end of the training set when
        ``cfg.val_fraction > 0``, and the training split augmented when ``cfg.augment != "none"``.

    Raises:
        ValueError: unknown name (the message lists the known ones) or bad option.
        DataNotFoundError: the dataset's files (or its optional reader package) are missing.
        EmptySplitError: a split has 0 examples (a ``DataNotFoundError``; one line naming it).
    """
    cfg = with_defaults(cfg)
    dataset = LOADERS.lookup(cfg.name)(cfg)
    check_not_empty(cfg.name, {"train": dataset.train, "test": dataset.test, "validation": dataset.validation})
    train, validation = split_off_validation(dataset.train, cfg.val_fraction)
    dataset = dataclasses.replace(dataset, train=train, validation=validation)
    return with_augmentation(dataset, cfg.augment, cfg.seed)
