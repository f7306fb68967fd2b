"""Lay out figures of unknown shape as key/value lists, tables and code blocks.

Benchmark, stress and model results are JSON whose layout belongs to the
code that measures; the renderers must show any of it, readably and without
failing.  This module decides the layout once, as plain blocks, and the
Markdown and HTML renderers only draw them: top-level scalars become a
key/value list, a list of flat objects a table, an object of flat objects a
table keyed by name, multi-line strings (replayable snippets) code blocks,
and anything deeper or stranger indented JSON.  Sizes are bounded so that a
huge result file still gives a readable page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 3
MAX_ROWS = 200
MAX_ITEMS = 50
MAX_BLOCKS = 60
MAX_CODE = 20_000


@dataclass(frozen=True)
class KeyValues:
    """A titled list of name/value pairs."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A titled table; ``note`` says what was left out when it was cut."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Code:
    """A titled block of preformatted text: a snippet, or JSON too deep for a table."""

    title: str
    text: str


Block = KeyValues | Table | Code


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float)) or (
        isinstance(value, str) and "\n" not in value
    )


def _is_flat_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_scalar(v) for v in value)


def _is_flat_mapping(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        _is_scalar(v) or _is_flat_list(v) for v in value.values()
    )


def text(value: Any) -> str:
    """Return a scalar (or a list of scalars) as short display text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        shown = ", ".join(text(v) for v in value[:MAX_ITEMS])
        return shown + (f", ... ({len(value) - MAX_ITEMS} more)" if len(value) > MAX_ITEMS else "")
    if isinstance(value, (dict, Mapping)):
        return json.dumps(value, sort_keys=True, default=str)[:200]
    return str(value)


def _json(value: Any) -> str:
    dumped = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return dumped if len(dumped) <= MAX_CODE else dumped[:MAX_CODE] + "\n... (cut short)"


def _table(title: str, rows: list[tuple[str, Mapping[str, Any]]], key: str | None) -> Table:
    columns: dict[str, None] = {}
    for _, row in rows:
        columns.update(dict.fromkeys(str(k) for k in row))
    names = ([key] if key else []) + list(columns)
    body = tuple(
        tuple(([name] if key else []) + [text(row.get(c)) if c in row else "" for c in columns])
        for name, row in rows[:MAX_ROWS]
    )
    note = f"{len(rows) - MAX_ROWS} more rows not shown" if len(rows) > MAX_ROWS else ""
    return Table(title, tuple(names), body, note)


def blocks(data: Mapping[str, Any], title: str = "", depth: int = 0) -> list[Block]:
    """Return the blocks that show ``data``; ``title`` names the path to it."""
    out: list[Block] = []
    scalars = tuple((str(k), text(v)) for k, v in data.items() if _is_scalar(v) or _is_flat_list(v))
    if scalars:
        out.append(KeyValues(title, scalars))
    for key, value in data.items():
        if _is_scalar(value) or _is_flat_list(value):
            continue
        name = f"{title} / {key}" if title else str(key)
        if isinstance(value, str):
            out.append(Code(name, value if len(value) <= MAX_CODE else value[:MAX_CODE]))
        elif isinstance(value, Mapping) and value and all(
            _is_flat_mapping(v) for v in value.values()
        ):
            out.append(_table(name, [(str(k), v) for k, v in value.items()], key="name"))
        elif isinstance(value, Mapping) and depth < MAX_DEPTH:
            out.extend(blocks(value, name, depth + 1))
        elif isinstance(value, list) and value and all(_is_flat_mapping(v) for v in value):
            out.append(_table(name, [("", v) for v in value], key=None))
        elif isinstance(value, list) and depth < MAX_DEPTH and all(
            isinstance(v, Mapping) for v in value
        ):
            for index, item in enumerate(value[:MAX_ITEMS]):
                out.extend(blocks(item, f"{name} [{index}]", depth + 1))
        else:
            out.append(Code(name, _json(value)))
    return out[:MAX_BLOCKS]
