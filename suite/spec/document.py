"""Reading spec files safely, with the line of every key for error messages."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.spec.errors import Loc, Problem, SpecError
from suite.spec.limits import MAX_DEPTH, check_data, check_events, read_text


@dataclass(frozen=True)
class Document:
    """A parsed file: plain data and the node tree that knows where each key stands."""

    path: Path
    data: Any
    root: Any  # a ruamel node, or None when marks are unavailable
    nodes: int = 0  # the values it holds, aliases expanded

    def mark(self, loc: Loc) -> tuple[int, int, bool] | None:
        """(line, col, found_all) of the deepest part of `loc` found; loc parts absent from
        the document (union tags) are skipped."""
        node, best, last_found = self.root, None, False
        if node is None:
            return None
        for part in loc:
            last_found = False
            kind = type(node).__name__
            if kind == "MappingNode":
                for key, value in node.value:
                    if str(key.value) == str(part):
                        best, node, last_found = key.start_mark, value, True
                        break
            elif kind == "SequenceNode" and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                best, last_found = node.start_mark, True
        if best is None:
            return None
        return best.line + 1, best.column + 1, last_found


def _yaml(pure: bool = True) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="safe", pure=pure)
    y.allow_duplicate_keys = False
    return y


def read(path: Path) -> Document:
    """Parse a YAML or JSON file. No tag can construct objects: only plain data comes back.
    A file past the limits of `suite.spec.limits` is refused before it is built."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = read_text(path)
    except FileNotFoundError:
        raise SpecError([Problem((), "file not found", file=path)]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([Problem((), f"cannot read the file: {e}", file=path)]) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(
                [Problem((), f"JSON syntax error: {e.msg}", file=path, line=e.lineno, col=e.colno)]
            ) from None
        except RecursionError:
            raise MAX_DEPTH.refuse(path, "nested deeper than the JSON reader goes") from None
        nodes = check_data(path, data)
        try:
            root = _yaml().compose(io.StringIO(text.replace("\t", " ")))
        except YAMLError:
            root = None
        return Document(path, data, root, nodes)
    try:
        nodes = check_events(path, _yaml().parse(io.StringIO(text)))
        data = _yaml().load(io.StringIO(text))
        root = _yaml().compose(io.StringIO(text))
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = " ".join(str(s) for s in (e.context, e.problem) if s)
        if "constructor" in what or "tag" in what:
            what = f"tags are not allowed in specs ({what})"
        raise SpecError(
            [
                Problem(
                    (),
                    f"YAML error: {what}",
                    file=path,
                    line=mark.line + 1 if mark else None,
                    col=mark.column + 1 if mark else None,
                )
            ]
        ) from None
    except YAMLError as e:
        raise SpecError([Problem((), f"YAML error: {e}", file=path)]) from None
    return Document(path, data, root, nodes)
