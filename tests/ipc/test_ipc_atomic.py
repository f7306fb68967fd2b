"""The channel's shared words go through one atomics layer, and its ordering is written down."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from helpers.ipc import atomic

PACKAGE = Path(atomic.__file__).parent
#: the modules that make up the channel (the rest are its tests' tools: workload, stress...).
CHANNEL_MODULES = ("channel", "codec", "locks", "peers", "segment", "layout", "sleeping",
                   "liveness", "futex", "native", "atomic", "waiting", "opening", "arguments")


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(), filename=f"{module}.py")


@pytest.mark.parametrize("module", CHANNEL_MODULES)
def test_no_control_word_is_read_through_a_raw_cast(module: str) -> None:
    """A memoryview cast to words, or bytes turned into an int, would bypass the atomics."""
    offenders = []
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            word = (node.func.attr == "cast" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value != "B")  # a byte view of a caller's buffer is no word
            if word:
                offenders.append(f"line {node.lineno}: .cast({node.args[0].value!r})")
            if node.func.attr == "from_bytes":
                offenders.append(f"line {node.lineno}: int.from_bytes")
    assert offenders == [], f"{module}.py reads words around the atomics layer: {offenders}"


@pytest.mark.parametrize("module", CHANNEL_MODULES)
def test_only_the_atomics_layer_imports_the_atomics_package(module: str) -> None:
    imported = {alias.name for node in ast.walk(_tree(module))
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(_tree(module))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert ("atomicshm" in imported) == (module == "atomic")


def test_every_ordering_edge_the_code_cites_is_written_down() -> None:
    doc = atomic.__doc__ or ""
    edges = {int(number) for number in re.findall(r"^(\d+)\. ", doc, re.MULTILINE)}
    assert edges == set(range(1, len(edges) + 1)) and len(edges) >= 7
    cited = set()
    for module in CHANNEL_MODULES:
        text = (PACKAGE / f"{module}.py").read_text()
        for pair in re.findall(r"edges? (\d+)(?: and (\d+))?", text):
            cited |= {int(number) for number in pair if number}
    assert cited and cited <= edges, f"code cites edges {sorted(cited - edges)} not in the list"


def test_a_channel_without_atomics_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.ipc import Channel, ChannelError

    monkeypatch.setattr(atomic, "_MISSING", "the atomics package is missing (test)")
    with pytest.raises(ChannelError, match="without real atomics"):
        Channel.create("/never-made", 4096)


def test_cells_are_real_atomics_across_processes() -> None:
    """Two processes add to one counter 20,000 times each: no increment is lost."""
    import mmap

    from helpers.ipc import procs

    area = mmap.mmap(-1, 4096)
    control = atomic.Control(area)
    try:
        def bump() -> int:
            cell = control.head
            for _ in range(20_000):
                cell.fetch_add(1, atomic.SEQ_CST)
            return 0

        children = [procs.spawn(bump) for _ in range(2)]
        for child in children:
            assert child.join(timeout=30) == 0
        assert control.head.load(atomic.SEQ_CST) == 40_000
    finally:
        control.close()
        area.close()
