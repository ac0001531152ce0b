"""Modules imported on first use, so that commands which never touch them start fast
(`suite validate` registers datasets without importing NumPy)."""

from __future__ import annotations

import importlib
from typing import Any


class Lazy:
    """A stand-in for module `name`, imported on the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self._name)
        self.__dict__.update(module.__dict__)  # later reads bypass __getattr__
        return getattr(module, attr)


numpy = Lazy("numpy")
