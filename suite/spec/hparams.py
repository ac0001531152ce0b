"""Stable names of searched dimensions: the same hyperparameter gets the same name in every
candidate that has it, wherever its layer sits (`hp.gru.units`, `hp.learning_rate`).

The rule, applied to a dimension's spec path (its Optuna name) against the trial's concrete
spec document:

1. the section `model.` or `train.` is dropped (`tokenizer.` stays);
2. a layer, `layers[i].<block>` (in any list of blocks, nested ones too), is named by its
   block: `<block>` for the first of that block in its list, `<block>_<k>` for the k-th
   repeat after it (Keras's own naming: `conv1d`, `conv1d_1`); a path ending at a list item
   (the whole layer chosen) keeps its position, `layers.<i>`;
3. the optimizer's name and the word `optimizer` are dropped (`optimizer.adam.learning_rate`
   is `learning_rate` whatever the optimizer; the optimizer chosen is `optimizer`); a
   schedule keeps the word and drops its name (`schedule.cosine.alpha` is `schedule.alpha`);
4. two dimensions of one trial that would share a name keep their whole path instead
   (`model.dropout`, `train.dropout`); list indices elsewhere are written `.i`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suite.spec.space import PathError, parse_path

PREFIX = "hp."
DROPPED_SECTIONS = ("model", "train")


def _block(item: Any) -> str | None:
    """The block name of a layer in a concrete document ({block: {...}} or a bare name)."""
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping) and len(item) == 1:
        key, value = next(iter(item.items()))
        if isinstance(key, str) and (value is None or isinstance(value, Mapping)):
            return key
    return None


def stable_name(path: str, doc: Mapping[str, Any]) -> str:
    """The stable name (without `hp.`) of the dimension at `path` in the concrete `doc`."""
    parts = parse_path(path)
    out: list[str] = []
    node: Any = doc
    i = 0
    if parts and parts[0] in DROPPED_SECTIONS:
        node, i = doc.get(str(parts[0])), 1
    while i < len(parts):
        p = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if isinstance(nxt, int) and isinstance(node, Mapping) and isinstance(node.get(p), list):
            items = node[p]
            block = _block(items[nxt]) if -len(items) <= nxt < len(items) else None
            if block is None or i + 2 >= len(parts):  # not a block, or the whole layer chosen
                out += [str(p), str(nxt)]
                node, i = items[nxt] if block is not None else None, i + 2
                continue
            repeat = sum(_block(x) == block for x in items[:nxt])
            out.append(f"{block}_{repeat}" if repeat else block)
            node = items[nxt]
            node = node.get(block) if isinstance(node, Mapping) else None
            i += 3 if parts[i + 2] == block else 2
            continue
        if p in ("optimizer", "schedule") and isinstance(nxt, str):
            inner = node.get(p) if isinstance(node, Mapping) else None
            if isinstance(inner, Mapping) and list(inner) == [nxt]:
                if p == "schedule":
                    out.append(p)
                node, i = inner[nxt], i + 2
                continue
        out.append(str(p))
        node = _child(node, p)
        i += 1
    return ".".join(out) if out else ".".join(map(str, parts))


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, Mapping) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
        return node[key]
    return None


def full_name(path: str) -> str:
    """A dimension's whole path written with dots (`model.layers.2.gru.units`)."""
    try:
        return ".".join(map(str, parse_path(path)))
    except PathError:
        return path


def stable_params(params: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """{`hp.<stable name>`: value} for a trial's searched `params` (Optuna names) against
    its concrete spec document; names two dimensions would share fall back to whole paths."""
    names: dict[str, str] = {}
    for path in params:
        try:
            names[path] = stable_name(path, doc)
        except PathError:
            names[path] = full_name(path)
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        PREFIX + (name if counts[name] == 1 else full_name(path)): params[path]
        for path, name in names.items()
    }
