"""The base of every spec model: frozen, unknown keys refused with a did-you-mean."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    """Frozen spec record; an unknown key is an error that names the nearest valid key."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        allowed = set(cls.model_fields)
        allowed |= {f.alias for f in cls.model_fields.values() if f.alias}
        for key in data:
            if key not in allowed:
                near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                expected = ", ".join(sorted(allowed)) or "no keys"
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key {key}{hint} Expected one of: {expected}",
                    {"key": repr(key), "field": key, "hint": hint or ".", "expected": expected},
                )
        return data
