"""Self-tests of the pure pieces around the model: maps parsing, steps, flag words, results."""

from __future__ import annotations

import pytest

from helpers.model import maps, steps
from helpers.model.flags import FlagError, c_spelling, words
from helpers.model.replay import snippet
from helpers.model.results import UNSPECIFIED, Result

LINES = [
    "100000000000-100000002000 rw-s 00001000 00:01 1652                       /dev/zero (deleted)",
    "100000002000-100000003000 ---p 00000000 00:00 0 ",
    "100000005000-100000006000 r--p 00003000 fd:00 77 /tmp/x",
]


def test_maps_lines_become_pages_with_their_own_offsets():
    table = maps.pages(LINES, 0x100000000000, 4096, 8)
    assert table == {0: ("rw-s", 0x1000, "0:1:1652"), 1: ("rw-s", 0x2000, "0:1:1652"),
                     2: ("---p", 0, None), 5: ("r--p", 0x3000, "253:0:77")}


def test_lines_in_keeps_only_lines_meeting_the_range():
    text = "\n".join(["0fff0000-100000000000 r--p 00000000 00:00 0", *LINES,
                      "7f0000000000-7f0000001000 r--p 00000000 00:00 0"])
    assert maps.lines_in(text, 0x100000000000, 0x100000003000) == LINES[:2]


def test_malformed_maps_line_is_named():
    with pytest.raises(ValueError, match="not a /proc"):
        maps.parse_line("garbage")


@pytest.mark.parametrize("step", [
    steps.Mmap(addr=0x1000, length=4096, prot="READ|WRITE", flags="SHARED|FIXED", handle=0),
    steps.Mmap(addr=None, length=1, prot="NONE", flags="PRIVATE|ANONYMOUS", offset=1, proc=1),
    steps.Pwrite(handle=2, offset=5, length=3, value=255),
    steps.Munmap(addr=0, length=1 << 62),
    steps.Exit(),
])
def test_a_step_prints_as_the_python_that_builds_it(step):
    assert eval(repr(step), vars(steps)) == step


def test_snippet_is_a_program_naming_what_it_uses():
    program = snippet([steps.ShmOpen(name="a", flags="RDWR|CREAT"), steps.Load(addr=1)])
    compile(program, "<replay>", "exec")
    assert "from helpers.model.steps import Load, ShmOpen" in program


def test_steps_describe_themselves_in_c():
    mapping = steps.Mmap(addr=0, length=4096, prot="READ|WRITE", flags="SHARED|FIXED", handle=1)
    assert mapping.describe() == ("mmap(arena+0x0, 4096, PROT_READ|PROT_WRITE, "
                                  "MAP_SHARED|MAP_FIXED, fd(h1), 0)")
    assert steps.Load(addr=16, proc=1).describe() == "[child] *(char *)(arena+0x10)"


def test_flag_words():
    assert words("READ|WRITE", "prot") == {"READ", "WRITE"}
    assert words("NONE", "prot") == frozenset()
    assert c_spelling("ASYNC|0x8", "ms") == "MS_ASYNC|0x8"
    with pytest.raises(FlagError, match="READ"):
        words("RAED", "prot")


def test_unspecified_value_matches_any_value_but_not_another_outcome():
    assert Result.returned(UNSPECIFIED).agrees(Result.returned(7))
    assert not Result.returned(UNSPECIFIED).agrees(Result.raised("EINVAL"))
    fault = Result.signalled("SIGBUS", "BUS_ADRERR", 4096)
    assert fault.agrees(Result.signalled("SIGBUS", None, None))  # ptrace refused: not compared
    assert not fault.agrees(Result.signalled("SIGBUS", "BUS_ADRERR", 0))
