"""One registry primitive for every family of components (blocks, datasets, tasks, ...)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    """A name that is not registered; the message lists what exists."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[T]):
    """A name -> object table. `register(name)` returns the object unchanged."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator that registers its target under `name` (default: its __name__)."""

        def add(obj: T) -> T:
            key = name or getattr(obj, "__name__", None)
            if not key:
                raise ValueError(f"{self.family}: a name is needed to register {obj!r}")
            if key in self._items:
                raise ValueError(f"{self.family} {key!r} is already registered")
            self._items[key] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(self.unknown(name)) from None

    def unknown(self, name: str) -> str:
        """The message for a miss: what was asked, the nearest names, and what exists."""
        near = difflib.get_close_matches(name, list(self._items), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        return (
            f"unknown {self.family} {name!r}.{hint} "
            f"Expected one of: {', '.join(sorted(self._items))}"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __len__(self) -> int:
        return len(self._items)
