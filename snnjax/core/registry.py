"""Registries by name, so configs stay data and users add their own entries.

``NEURON_KINDS`` (:mod:`snnjax.layers.spiking`) and ``ENCODERS`` (:mod:`snnjax.core.encoders`) are
``Registry`` objects, like the dataset registry of :mod:`snnjax.data`::

    snnjax.layers.register_neuron("my_lif", NeuronKind(...))
    snnjax.core.encoders.register("my_code", my_encoder)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping ``name -> entry`` that grows only through :meth:`register`.

    Its ``repr`` is the sorted tuple of names, so error messages that print it list the choices.
    """

    def __init__(self, what: str, entries: Mapping[str, T] | None = None):
        self._what = what
        self._entries: dict[str, T] = dict(entries or {})

    def register(self, name: str, entry: T, *, overwrite: bool = False) -> T:
        """Adds ``entry`` under ``name``; an existing name is an error unless ``overwrite``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self._what} name must be a non-empty string, got {name!r}")
        if name in self._entries and not overwrite:
            raise ValueError(f"{self._what} {name!r} is already registered; pass overwrite=True to replace it")
        self._entries[name] = entry
        return entry

    def lookup(self, name: str) -> T:
        """The entry for ``name``; an unknown name is a ``ValueError`` that lists the known ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self._what} {name!r}; choose one of {self.names()}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return repr(tuple(self.names()))
