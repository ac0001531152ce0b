"""Saved `.keras` models of the suite: loaded with `safe_mode=True` once every custom layer
class the suite defines is registered."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any


def register_custom_objects() -> None:
    """Import every block module, so each custom Keras class the suite defines is registered."""
    import suite.blocks

    for mod in pkgutil.iter_modules(suite.blocks.__path__):
        importlib.import_module(f"suite.blocks.{mod.name}")


def load_model(path: str | Path, *, compile: bool = True) -> Any:
    """Load a `.keras` file the suite saved, with `safe_mode=True` and its custom classes."""
    import keras

    register_custom_objects()
    return keras.saving.load_model(path, safe_mode=True, compile=compile)
