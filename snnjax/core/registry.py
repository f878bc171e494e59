"""Registries by name, so configs stay data and users add their own entries.

Everything a config names is looked up in a :class:`Registry` (big_vision's ``pp/registry.py``):

==========================================  ===========================  ==============================
registry                                    config key                   adds an entry
==========================================  ===========================  ==============================
``snnjax.nn.layers.spiking.NEURON_KINDS``   ``model.neuron.kind``        ``snnjax.register_neuron``
``snnjax.core.encoders.ENCODERS``           ``model.encoder``            ``snnjax.register_encoder``
``snnjax.core.surrogate.SURROGATES``        ``model.neuron.surrogate``   ``snnjax.surrogate.register``
``snnjax.io.data.registry.LOADERS``         ``data.name``                ``snnjax.data.register``
``snnjax.nn.models.MODELS``                 ``model.arch``               ``MODELS.register``
``snnjax.core.losses.LOSSES``               ``loss.name``                ``LOSSES.register``
``snnjax.tool.optim.OPTIMIZERS``            ``optim.name``               ``OPTIMIZERS.register``
``snnjax.tool.optim.SCHEDULES``             ``optim.schedule``           ``SCHEDULES.register``
==========================================  ===========================  ==============================

An entry is added by a call or as a decorator, and a test adds its own only inside ``scoped``::

    surrogate.register("my_sigmoid", lambda alpha=20.0: surrogate.Sigmoid(alpha))

    @LOSSES.register("my_loss")
    def my_loss(out, labels, readout="mean", reduction="mean"): ...

    with LOSSES.scoped():          # entries registered inside are gone on exit, even on error
        LOSSES.register("test_loss", my_loss)
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping ``name -> entry`` that grows only through :meth:`register`.

    Its ``repr`` is the sorted tuple of names, so error messages that print it list the choices.
    """

    def __init__(self, what: str, entries: Mapping[str, T] | None = None):
        self._what = what
        self._entries: dict[str, T] = {}
        for name, entry in (entries or {}).items():
            self.register(name, entry)

    @overload
    def register(self, name: str, entry: None = None, *, overwrite: bool = False) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, entry: T, *, overwrite: bool = False) -> T: ...

    def register(self, name, entry=None, *, overwrite=False):
        """Adds ``entry`` under ``name`` and returns it; an existing name is an error unless ``overwrite``.

        Without ``entry`` it is a decorator, ``@REGISTRY.register("name")``, which registers the
        function it decorates and returns it unchanged.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self._what} name must be a non-empty string, got {name!r}")
        if entry is None:
            return lambda decorated: self.register(name, decorated, overwrite=overwrite)
        if name in self._entries and not overwrite:
            raise ValueError(f"{self._what} {name!r} is already registered; pass overwrite=True to replace it")
        self._entries[name] = entry
        return entry

    @contextlib.contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """A context in which registrations are temporary: on exit, even by an exception, the
        registry holds exactly the entries it held on entry (for tests)."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    def lookup(self, name: str) -> T:
        """The entry for ``name``; an unknown name is a ``ValueError`` that lists the known ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self._what} {name!r}; choose one of {self.names()}") from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return repr(tuple(self.names()))


def choice_problem(key: str, value: object, choices: Iterable[object]) -> str | None:
    """The one-line problem of a config value that is not one of ``choices`` (None: it is one).

    ``"model.arch='sequnce' is unknown (did you mean 'sequence'?); choose one of [...]"``: the one
    wording of every unknown-choice message of the config checks (``snnjax.tool.validate``,
    ``snnjax.core.losses.config_problems``).
    """
    choices = sorted(choices, key=str)
    if value in choices:
        return None
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{key}={value!r} is unknown{hint}; choose one of {choices}"
