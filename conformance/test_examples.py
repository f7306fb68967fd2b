"""The documents' programs and example fragments, replayed: what they print, where they fail.

Two kinds of check.  The programs as written (the second half) replay each
complete program of the documents from :mod:`helpers.probes.programs`, call
for call, in every starting state a reader meets, names confined.  The
example checks (the first half) take a program apart to show one claim:
they force an order the program leaves to chance, or run it through Python's
``mmap`` as well (:mod:`helpers.probes.examples`).

Every check records what happened first (:mod:`helpers.observe`), then
asserts what the man pages make of those calls: mmap(2) (EINVAL for length
0, EACCES for a write mapping of a read-only descriptor; SIGBUS on pages
wholly past end of file; the tail of the last page is not written to the
file), munmap(2) (releases exactly the pages asked for), fork(2) and
wait(2) (shared mappings are shared; waiting orders the parent after the
child), open(2) (ENOENT without O_CREAT), write(2) (writes at the
descriptor's offset), shm_open(3) (names, O_EXCL).  What the documents say
the programs print is the prediction, in the catalogue.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fixtures.resources import SizedFile
from helpers.isolate.outcome import Outcome
from helpers.libc import PAGE_SIZE
from helpers.observe import access, field, result
from helpers.probes.eof import page_round, touch_with_layout
from helpers.probes.examples import (
    IOS_BASE_HEX,
    anonymous_fork_probe,
    memmap_copy_probe,
    parent_child_program,
    related_example_probe,
    run_program,
    shared_obj_probe,
    truncate_then_write_one,
    unp_model_extra_store,
    unrelated_example_probe,
)
from helpers.probes.programs import go_mmap, memmap_ipc, stage, unp_shm, webserver_mmap

LAYERS = ["libc", pytest.param("pymmap", marks=pytest.mark.layer("pymmap"))]
#: Timeout of probes that start another interpreter or fork many times: a loaded
#: machine can take longer than the runner's default 5 s without anything being wrong.
SLOW = 15.0
PATTERN = bytes(range(256))


def _new_path(sized_file: SizedFile) -> str:
    """Return a fresh path of this check's own that does not exist yet (removed at teardown)."""
    path = sized_file(0)
    os.unlink(path)
    return path


def _read(path: str) -> bytes | None:
    """Return the file's bytes, read here (another process than the program's), None if absent."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


# --- memmap-ipc -------------------------------------------------------------------------------

@pytest.mark.claim("memmap-ipc.related-example-delivers")
@pytest.mark.parametrize(("order", "runs", "case"), [
    ("store first", 1, "store-first"), ("load first", 1, "load-first"),
    ("as written", 10, "free-runs")])
def test_related_example_prints_only_what_was_stored_first(probe, prediction, sized_file,
                                                           order, runs, case):
    size = PAGE_SIZE
    outcome = probe(related_example_probe, sized_file(size), size, order, runs, timeout=SLOW)
    printed = prediction.observe(case, field(outcome, "printed_always"),
                                 instance=f"test.txt of {size} bytes, {order}, {runs} runs")
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["parent"] == {"exit 0": runs}, seen
    # Racing the store, the child reads all of it, none of it, or (torn) a prefix.
    assert all("test".startswith(text) for text in seen["printed"]), seen
    expected = {"store first": "test", "load first": ""}.get(order)
    assert expected is None or printed.value == expected, seen


@pytest.mark.claim("memmap-ipc.program-writer-reader")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("size", [0, 2, 4096])
def test_unrelated_writer_then_reader(probe, prediction, sized_file, layer, size):
    outcome = probe(unrelated_example_probe, sized_file(size), layer, timeout=SLOW)
    case = "pymmap-short-reader-output" if layer == "pymmap" and size < 4096 else \
        {0: "empty-reader-output", 2: "short-reader-output", 4096: "data-reader-output"}[size]
    reader = prediction.observe(case, field(outcome, "reader"), layer=layer,
                                instance=f"the two programs' calls, test.txt of {size} bytes")
    assert outcome.ok, outcome
    seen = outcome.value
    assert seen["file_size"] == size, seen  # stores never grow the file
    if layer == "pymmap" and size < 4096:  # Python's mmap refuses a length past end of file
        assert seen["writer"] == reader.value == "ValueError", seen
    elif size == 0:
        assert seen["writer"] == reader.value == "SIGBUS", seen
    else:
        assert seen["writer"] == "ok" and reader.value in ("ptr:test\n", "ptr:te\n"), seen
        assert seen["file_head"] == (b"test\0" + bytes(8))[:min(size, 8)].hex(), seen


@pytest.mark.claim("memmap-ipc.copy-munmap-wrong-length")
# The one-page source is shorter than a page, as the text files the program copies are:
# munmap is then given another length than mmap was, and must still release it all.
@pytest.mark.parametrize(("size", "case"), [(1000, "one-page"), (3 * PAGE_SIZE, "three-pages")])
def test_munmap_of_4096_releases_one_page(probe, prediction, sized_file, size, case):
    source = sized_file(size, fill=PATTERN)
    pages = page_round(size) // PAGE_SIZE
    outcome = probe(memmap_copy_probe, source, _new_path(sized_file))
    released = prediction.observe(case, field(outcome, "source_released"),
                                  instance=f"source of {size} bytes")
    first = probe(memmap_copy_probe, source, _new_path(sized_file), 0)
    assert outcome.ok, outcome
    left = outcome.value["source_pages_still_mapped"]
    # munmap(2): exactly the pages of [ptr1, ptr1 + 4096) go; the rest stays mapped.
    assert left == [i >= page_round(4096) // PAGE_SIZE for i in range(pages)], outcome
    assert released.value is (size <= page_round(4096)), outcome
    assert (first.signal, first.si_code) == ("SIGSEGV", "SEGV_MAPERR"), first
    if pages > 1:
        second = probe(memmap_copy_probe, source, _new_path(sized_file), 1)
        assert second.ok, second


# --- webserver-mmap -------------------------------------------------------------------------

@pytest.mark.claim("webserver-mmap.program-related-processes")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("size", [0, 5, 64])
def test_parent_prints_what_the_child_copied(probe, prediction, sized_file, layer, size):
    path = sized_file(size, fill=b".")
    outcome = probe(run_program, parent_child_program, path, layer, processes=2)
    where = f"the program's calls in this process, test.txt of {size} bytes"
    if size == 0:
        case = "empty-output"
    elif layer == "pymmap" and size < 16:
        case = "pymmap-short-output"
    else:
        case = "data-output" if size >= 16 else "short-output"
    printed = prediction.observe(case, field(outcome, "output"), layer=layer, instance=where)
    assert outcome.ok and outcome.value["main"] == "exit 0", outcome
    output, content, line = printed.value, _read(path), "read data : nihao a, son!!!"
    if size == 0:  # mmap(2): EINVAL for length 0; Python's mmap: ValueError for an empty file
        assert output in ("mmap: Invalid argument\n",
                          "ValueError: cannot mmap an empty file\n"), output
    elif layer == "pymmap" and size < 16:  # Python's mmap checks the slice against the length
        assert output.startswith("IndexError") and content == b"." * size, outcome
    else:
        assert output == line + "\n", output
        assert content == b"nihao a, son!!!\0"[:size] + b"." * (size - 16), content


@pytest.mark.claim("webserver-mmap.copy-one-byte-write-extends")
@pytest.mark.parametrize("length", [0, 1, 4096])
def test_one_byte_write_after_truncate_lands_at_offset_zero(probe, prediction, sized_file,
                                                            length):
    outcome = probe(truncate_then_write_one, _new_path(sized_file), length)
    prediction.observe(f"size-after-step2-len-{length}", field(outcome, "size_after_write"),
                       instance=f"truncate to {length}, then write(fd, \"\", 1)")
    assert outcome.ok, outcome
    # write(2) writes at the descriptor's offset (0 after open), so it grows only an empty file.
    assert outcome.value == {"size_after_truncate": length, "size_after_write": max(length, 1),
                             "offset_after_write": 1, "first_byte": "00"}, outcome


@pytest.mark.claim("webserver-mmap.program-anonymous")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize(("child_sleep", "runs"), [(0.1, 1), (0.0, 10)], ids=["sleep", "no-sleep"])
def test_anonymous_example_child_prints_hello(probe, prediction, layer, child_sleep, runs):
    outcome = probe(anonymous_fork_probe, layer, child_sleep, runs, timeout=SLOW)
    if child_sleep:  # without its sleep the program is not the document's: evidence only
        prediction.observe("output", field(outcome, "printed_always"), layer=layer,
                           instance=f"its calls here, the child sleeping {child_sleep} s "
                           "(the document: 1 s)")
    assert outcome.ok, outcome
    seen = outcome.value
    # munmap(2) succeeded in both processes (no "munmap:" line) and both exited normally.
    assert seen["clean"] is True, seen
    # Racing the store, the child prints all of it, none of it, or (torn) a prefix.
    assert all("hello, world\n".startswith(text[:-1]) for text in seen["printed"]), seen


# --- unp-shm ------------------------------------------------------------------------------------

@pytest.mark.claim("unp-shm.program-anonymous-function")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_object_example_parent_reads_child_data(probe, prediction, layer):
    outcome = probe(shared_obj_probe, layer)
    where = "its calls in an isolated process"
    read = prediction.observe("parent-read", field(outcome, "parent_read"), layer=layer,
                              instance=where)
    shared = prediction.observe("same-address", field(outcome, "same_address"), layer=layer,
                                instance=where)
    assert outcome.ok and outcome.value["main"] == "exit 0", outcome
    # fork(2): the shared mapping is inherited at the same address; waitpid orders the read.
    assert (read.value, shared.value) == ("[str:hello world,len:11]", True), outcome
    # cout << ios_base::hex streams the flag's value (libstdc++: 8) before the pointer.
    assert all(a.startswith(f"{IOS_BASE_HEX}0x") for a in outcome.value["addresses"]), outcome


@pytest.mark.claim("unp-shm.example-bus-error")
def test_page_model_store_on_third_page_is_sigbus(probe, prediction, sized_file):
    outcome = probe(unp_model_extra_store, sized_file(0), 2 * PAGE_SIZE + 1)
    prediction.observe("third-page", result(outcome), instance="ptr[2 * page_size + 1] = 'O'")
    assert (outcome.signal, outcome.si_code) == ("SIGBUS", "BUS_ADRERR"), outcome
    assert outcome.fault_offset in (2 * PAGE_SIZE + 1, None), outcome


@pytest.mark.claim("unp-shm.example-first-byte-past-mapping")
@pytest.mark.parametrize("layout", ["natural", "neighbour", "free", "guard"])
def test_page_model_store_past_the_mapping(probe, prediction, sized_file, layout):
    if layout == "natural":  # the program itself, its commented-out line enabled
        outcome = probe(unp_model_extra_store, sized_file(0), 4 * PAGE_SIZE)
    else:
        outcome = probe(touch_with_layout, sized_file(PAGE_SIZE + 10), 15000,
                        page_round(15000), layout)
    prediction.observe(layout, access(outcome, f"the {layout} layout"),
                       instance=f"ptr[4 * page_size], {layout} layout")
    there = outcome.notes.get("region_at_target")
    if there is None:
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_MAPERR"), outcome
    elif not there["perms"].startswith("rw"):
        assert (outcome.signal, outcome.si_code) == ("SIGSEGV", "SEGV_ACCERR"), outcome
    else:
        assert outcome.ok, outcome


# --- the programs as written ----------------------------------------------------------------------
#
# Each program runs in a private working directory, from each starting state a reader meets;
# its names are its own (shm names in a private /dev/shm, or prefixed: the probe's record says
# which).  The default run replaces the documents' sleeps with the hand-off each stands for;
# MMAPCHECK_PROGRAM_SLEEPS=as-written adds runs with the sleeps themselves.

TIMINGS = stage.timings()
#: Starting text of the programs' input files when the document assumes "some data".
SOME_DATA = "data for the child"


@pytest.fixture
def workdir(sized_file: SizedFile) -> str:
    """Return a private, empty working directory for a program (removed with the check's files)."""
    path = os.path.join(os.path.dirname(sized_file(0)), "cwd")
    os.mkdir(path, 0o700)
    return path


@pytest.fixture
def program_shm_tag(shm_name: Callable[..., str]) -> Iterator[str]:
    """Return the run's unique tag for a program's shm names; remove whatever carries it after."""
    tag = shm_name("program").lstrip("/") + "-"
    yield tag
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(stage.SHM_DIR):
            if name.startswith(tag):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(stage.SHM_DIR, name))


def _replay(probe: Callable[..., Outcome], steps: list[tuple[str, Callable[..., int]]],
            workdir: str, state: dict[str, str | None], timing: str = stage.REPLACED,
            **kwargs: Any) -> Outcome:
    """Run :func:`stage.replay` in an isolated child, with time for the documents' sleeps."""
    timeout = 45.0 if timing == stage.AS_WRITTEN else SLOW
    return probe(stage.replay, steps, workdir, state, timing, timeout=timeout, **kwargs)


def _case_for(timing: str, default: str, as_written: str) -> str:
    """Return the case a run of ``timing`` observes: its own for the documents' sleeps."""
    return as_written if timing == stage.AS_WRITTEN else default


RELATED_STATES = {"missing": {}, "empty": {"test.txt": ""}, "short": {"test.txt": "ab"},
                  "data": {"test.txt": SOME_DATA}}


@pytest.mark.claim("memmap-ipc.program-related-processes")
@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("state", list(RELATED_STATES))
def test_memmap_related_program(probe, prediction, workdir, state, timing):
    outcome = _replay(probe, [("p", memmap_ipc.related)], workdir, RELATED_STATES[state], timing)
    where = f"test.txt {state}, sleeps {timing}"
    if state in ("missing", "empty"):
        parent = prediction.observe(f"{state}-parent-end", field(outcome, "last", "p", "main"),
                                    instance=where)
        child = field(outcome, "last", "p", "others", 0)
        if state == "missing":
            prediction.observe("missing-child-end", child, instance=where)
        # mmap(2): each process's first access is to a page wholly past end of file (size 0).
        assert (parent.value, child.value) == ("SIGBUS", "SIGBUS"), outcome
        return
    case = _case_for(timing, f"{state}-output", "output-sleeps-as-written")
    output = prediction.observe(case, field(outcome, "last", "p", "output"), instance=where)
    file = field(outcome, "files", "test.txt")
    if state == "data":
        prediction.observe("data-exit", field(outcome, "last", "p", "main"), instance=where)
    else:
        prediction.observe("short-file", file, instance=where)
    assert outcome.ok and outcome.value["last"]["p"]["main"] == "exit 0", outcome
    child_line = next(line for line in output.value.splitlines() if line.startswith("从"))
    if timing == stage.REPLACED:  # the child read after the store: the whole string
        assert output.value == f"111\n222\n{memmap_ipc.CHILD_LABEL}test\n", output
    # Only the bytes within the file's size reach it; a store never grows a file.
    start = RELATED_STATES[state]["test.txt"]
    if timing == stage.AS_WRITTEN:  # nothing orders the read: each byte old, new or torn
        read = child_line.split(": ", 1)[1]
        before, after = start.ljust(8, "\0"), ("test\0" + start[5:]).ljust(8, "\0")
        assert all(ch in (before[i], after[i]) for i, ch in enumerate(read)), output
    assert file.value == ("test\0" + start[5:])[:len(start)], file


PAIR_STATES = {"missing": {}, "empty": {"test.txt": ""}, "short": {"test.txt": "ab"},
               "data": {"test.txt": "hello world"}}


@pytest.mark.claim("memmap-ipc.program-writer-reader")
@pytest.mark.parametrize("state", list(PAIR_STATES))
def test_memmap_writer_then_reader(probe, prediction, workdir, state):
    outcome = _replay(probe, [("writer", memmap_ipc.writer), ("reader", memmap_ipc.reader)],
                      workdir, PAIR_STATES[state])
    writer = field(outcome, "last", "writer", "main")
    reader = field(outcome, "last", "reader", "output")
    if state != "short":
        prediction.observe(f"{state}-writer-end", writer, instance=f"test.txt {state}")
    prediction.observe(f"{state}-reader-output", reader, instance=f"test.txt {state}")
    assert outcome.ok, outcome
    ends = (writer.value, outcome.value["last"]["reader"]["main"])
    if state == "missing":  # open(2) without O_CREAT: ENOENT; both return -1
        assert ends == ("exit 255", "exit 255"), outcome
        assert reader.value == "open: No such file or directory\n", reader
        assert outcome.value["files"] == {}, outcome  # neither program created test.txt
    elif state == "empty":  # mmap(2): a page wholly past end of file raises SIGBUS
        assert ends == ("SIGBUS", "SIGBUS"), outcome
    else:
        assert ends == ("exit 0", "exit 0"), outcome
        # The page cache holds the whole page: past end of file the tail may still show.
        assert reader.value in ("ptr:test\n", "ptr:" + PAIR_STATES[state]["test.txt"] + "\n"), \
            reader


def _letters(size: int) -> str:
    """Return ``size`` bytes of text, a to z over and over: a source file's content."""
    return "".join(chr(ord("a") + i % 26) for i in range(size))


#: state -> (starting text of the source, case of the program's entry); None: no source file.
COPY_STATES = {"missing": (None, "missing-identical"), "empty": ("", "empty-identical"),
               "one-byte": ("x", "small-identical"), "small": ("x" * 100, "small-identical"),
               "page-less-one": (_letters(PAGE_SIZE - 1), "small-identical"),
               "page": (_letters(PAGE_SIZE), "small-identical"),
               "data": (_letters(3 * PAGE_SIZE + 7), "data-identical")}


@pytest.mark.claim("memmap-ipc.program-copy")
@pytest.mark.parametrize("state", list(COPY_STATES))
def test_memmap_copy_program(probe, prediction, workdir, state):
    source, case = COPY_STATES[state]
    outcome = _replay(probe, [("p", memmap_ipc.copy)], workdir, {"test.txt": source},
                      same=("test.txt", "test2.txt"))
    where = f"test.txt {state}"
    copied = prediction.observe(case, field(outcome, "identical"), instance=where)
    assert outcome.ok and outcome.value["last"]["p"]["main"] == "exit 0", outcome
    printed = outcome.value["last"]["p"]["output"]
    if state == "missing":  # open(2): ENOENT
        assert printed == "open: No such file or directory\n" and not outcome.value["files"]
    elif state == "empty":  # mmap(2): EINVAL for length 0, before test2.txt is opened
        assert printed == "mmap: Invalid argument\n", printed
        assert list(outcome.value["files"]) == ["test.txt"], outcome
    else:
        assert printed == "" and copied.value is True, outcome


WEB_RELATED_STATES = {"missing": {}, "empty": {"test.txt": ""}, "short": {"test.txt": "12345"},
                      "data": {"test.txt": "any data the reader wrote in it."}}


@pytest.mark.claim("webserver-mmap.program-related-processes")
@pytest.mark.parametrize("state", list(WEB_RELATED_STATES))
def test_webserver_related_program(probe, prediction, workdir, state):
    outcome = _replay(probe, [("p", webserver_mmap.related)], workdir, WEB_RELATED_STATES[state])
    output = prediction.observe(f"{state}-output", field(outcome, "last", "p", "output"),
                                instance=f"test.txt {state}")
    assert outcome.ok and outcome.value["last"]["p"]["main"] == "exit 0", outcome
    if state == "missing":  # mmap(2) with fd -1 (the unchecked open) and no MAP_ANONYMOUS
        assert output.value == "mmap: Bad file descriptor\n", output
    elif state == "empty":  # mmap(2): EINVAL for length 0
        assert output.value == "mmap: Invalid argument\n", output
    else:
        assert output.value == "read data : nihao a, son!!!\n", output
        start = WEB_RELATED_STATES[state]["test.txt"]
        assert outcome.value["files"]["test.txt"] == ("nihao a, son!!!\0" + start[16:])[
            :len(start)], outcome


#: state -> starting files (None: absent); cpy.txt absent unless named.
WEB_COPY_STATES = {
    "missing": {"english.txt": None}, "empty": {"english.txt": ""},
    "one-byte": {"english.txt": "x"}, "data": {"english.txt": _letters(64)},
    "page": {"english.txt": _letters(PAGE_SIZE)},
    "pages": {"english.txt": _letters(5 * PAGE_SIZE + 3)},
    "longer-target": {"english.txt": _letters(PAGE_SIZE), "cpy.txt": "old " * PAGE_SIZE},
}


@pytest.mark.claim("webserver-mmap.program-copy")
@pytest.mark.parametrize("state", list(WEB_COPY_STATES))
def test_webserver_copy_program(probe, prediction, workdir, state):
    outcome = _replay(probe, [("p", webserver_mmap.copy)], workdir, WEB_COPY_STATES[state],
                      same=("english.txt", "cpy.txt"))
    case = state if state in ("missing", "empty", "longer-target") else "data"
    copied = prediction.observe(f"{case}-identical", field(outcome, "identical"),
                                instance=state)
    assert outcome.ok and outcome.value["last"]["p"]["main"] == "exit 0", outcome
    files, printed = outcome.value["files"], outcome.value["last"]["p"]["output"]
    if state == "missing":  # open(2): ENOENT before cpy.txt is made
        assert printed == "open: No such file or directory\n" and files == {}, outcome
    elif state == "empty":  # truncate to 0, write(2) one NUL at offset 0, mmap(2) length 0
        assert printed == "ptr: Invalid argument\n" and files["cpy.txt"] == "\0", outcome
    else:
        assert printed == "" and copied.value is True, outcome


@pytest.mark.claim("webserver-mmap.program-anonymous")
@pytest.mark.parametrize("timing", TIMINGS)
def test_webserver_anonymous_program(probe, prediction, workdir, timing):
    outcome = _replay(probe, [("p", webserver_mmap.anonymous)], workdir, {}, timing)
    where = f"sleeps {timing}"
    output = prediction.observe(_case_for(timing, "output", "output-sleeps-as-written"),
                                field(outcome, "last", "p", "output"), instance=where)
    prediction.observe("exit", field(outcome, "last", "p", "main"), instance=where)
    assert outcome.ok and outcome.value["last"]["p"]["main"] == "exit 0", outcome
    if timing == stage.REPLACED:  # shared anonymous memory: the child sees the store
        assert output.value == "hello, world\n", output
    else:
        assert "hello, world\n".startswith(output.value[:-1]), output


PAGE_MODEL_STATES = {"missing": {}, "longer": {"test.txt": "A" * (3 * PAGE_SIZE)}}


@pytest.mark.claim("unp-shm.program-page-model")
@pytest.mark.parametrize("state", list(PAGE_MODEL_STATES))
def test_unp_page_model_program(probe, prediction, workdir, state):
    outcome = probe(unp_shm.page_model_probe, workdir, PAGE_MODEL_STATES[state], timeout=SLOW)
    where = f"test.txt {state}"
    end = field(outcome, "last", "p", "main")
    output = field(outcome, "last", "p", "output")
    stores, z_in = field(outcome, "stored"), field(outcome, "z_in_file")
    for case, seen in (("exit", end), ("stores", stores), ("z-not-in-file", z_in),
                       ("output", output)):
        prediction.observe(case, seen, instance=where)
    # O_TRUNC: whatever was there, the file is page_size + 10 bytes; the tail of the last page
    # reads as NUL and is never written back (mmap(2) NOTES).
    assert end.value == "exit 0" and outcome.value["size"] == PAGE_SIZE + 10, outcome
    assert (stores.value, z_in.value) == ("X X Y", False), outcome
    assert output.value == (f"pagesize={PAGE_SIZE}\nvalue[0]=B\nvalue[4095]=B\n"
                            "value[4096]=C\nvalue[4106]=\0\n"), output
    # open(2): the mode applies only to a file O_CREAT creates (less the umask).
    created = 0o700 if state == "missing" else 0o666  # the program's mode, or the state's
    assert outcome.value["modes"]["test.txt"] == oct(created & ~_umask()), outcome


def _umask() -> int:
    """Return this process's umask (the replay's children inherit it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.claim("unp-shm.program-usage-steps")
@pytest.mark.needs("posix_shm")
@pytest.mark.parametrize("private_shm", [True, False], ids=["private-shm", "prefixed"])
@pytest.mark.parametrize(("state", "touch"), [("fresh", True), ("fresh", False),
                                              ("exists", True)],
                         ids=["fresh", "fresh-step4-left-out", "exists"])
def test_unp_usage_steps(probe, prediction, workdir, program_shm_tag, state, touch, private_shm):
    outcome = probe(unp_shm.steps_probe, workdir, state, stage.REPLACED, program_shm_tag, touch,
                    private_shm, timeout=SLOW)
    where = f"object {state}, step 4 {'stores through ptr' if touch else 'left out'}, " \
            f"shm names: {outcome.value['confinement'] if outcome.ok else '?'}"
    if state == "exists":
        opened = prediction.observe("exists-shm-open", field(outcome, "steps", "shm_open"),
                                    instance=where)
        assert opened.value == "-1 EEXIST", outcome  # shm_open(3): O_CREAT|O_EXCL on a name taken
        # Every later call gets -1 (EBADF); the store of step 4 kills the program before step 5,
        # so the object that was there stays.
        assert outcome.value["last"]["p"]["main"] == "SIGSEGV", outcome
        assert outcome.value["shm_objects_left"] == 1, outcome
        return
    seen = {case: prediction.observe(case, field(outcome, "steps", call), instance=where)
            for case, call in (("shm-open", "shm_open"), ("ftruncate", "ftruncate"),
                               ("mmap", "mmap"))}
    end = prediction.observe("use-ptr", field(outcome, "last", "p", "main"), instance=where)
    # No access mode is O_RDONLY: ftruncate(2) EINVAL (not open for writing), mmap(2) EACCES
    # (PROT_WRITE with MAP_SHARED on a read-only descriptor).
    assert {k: v.value for k, v in seen.items()} == {
        "shm-open": "a descriptor", "ftruncate": "-1 EINVAL", "mmap": "MAP_FAILED EACCES"}, outcome
    if touch:  # a store through MAP_FAILED, (void *) -1: no page there
        assert end.value == "SIGSEGV", outcome
        return
    assert end.value == "exit 0", outcome
    for case, call in (("munmap", "munmap"), ("shm-unlink", "shm_unlink")):
        prediction.observe(case, field(outcome, "steps", call), instance=where)
    still_open = prediction.observe("descriptor-closed", field(
        outcome, "steps", "descriptor still open"), instance=where)
    left = prediction.observe("objects-left", field(outcome, "shm_objects_left"), instance=where)
    # munmap(2): EINVAL for an address not page-aligned; shm_unlink(3) removes only the name.
    assert outcome.value["steps"]["munmap"] == "-1 EINVAL", outcome
    assert (outcome.value["steps"]["shm_unlink"], still_open.value, left.value) == \
        ("0", "True", 0), outcome


@pytest.mark.claim("unp-shm.program-producer-consumer")
@pytest.mark.needs("posix_shm")
@pytest.mark.parametrize("private_shm", [True, False], ids=["private-shm", "prefixed"])
@pytest.mark.parametrize("timing", TIMINGS)
def test_unp_producer_consumer(probe, prediction, workdir, program_shm_tag, timing, private_shm):
    outcome = _replay(probe, [("p", unp_shm.producer_consumer)], workdir, {}, timing,
                      shm_tag=program_shm_tag, private_shm=private_shm)
    where = f"sleeps {timing}, shm names: " + \
        (outcome.value["confinement"] if outcome.ok else "?")
    output = prediction.observe("output", field(outcome, "last", "p", "output"), instance=where)
    end = prediction.observe("consumer-exit", field(outcome, "last", "p", "main"),
                             instance=where)
    left = prediction.observe("objects-left", field(outcome, "shm_objects_left"), instance=where)
    assert left.value == 0, outcome
    if output.value.startswith("shmObj size:"):  # a C library that takes the name
        assert output.value == "shmObj size:100,client write data:hello world !\n", output
        assert end.value == "exit 0", outcome
    else:  # shm_open(3): a slash after the leading ones is EINVAL (glibc, musl)
        assert output.value == ("test_share_memory_producer shm_open failed\n"
                                "test_share_memory_consumer shm_open fail\n"), output
        assert end.value == "exit 255", outcome


@pytest.mark.claim("unp-shm.program-anonymous-function")
@pytest.mark.parametrize("timing", TIMINGS)
def test_unp_anonymous_function(probe, prediction, workdir, timing):
    timeout = 45.0 if timing == stage.AS_WRITTEN else SLOW
    outcome = probe(unp_shm.shared_obj_probe, workdir, timing, timeout=timeout)
    where = f"sleeps {timing}"
    read = prediction.observe("parent-read", field(outcome, "parent_read"), instance=where)
    shared = prediction.observe("same-address", field(outcome, "same_address"), instance=where)
    # fork(2): a shared mapping is inherited at the same address; waitpid orders the read.
    assert (read.value, shared.value) == ("[str:hello world,len:11]", True), outcome
    assert all(a.startswith(f"{unp_shm.IOS_BASE_HEX}0x") for a in outcome.value["addresses"])


GO_STATES = {"missing": {}, "present": {"tmp.txt": "an older tmp.txt, longer than 22 bytes"}}


@pytest.mark.claim("go-mmap.program-demo", "go-mmap.demo-output")
@pytest.mark.parametrize("state", list(GO_STATES))
def test_go_demo_program(probe, prediction, workdir, state):
    outcome = _replay(probe, [("p", go_mmap.demo)], workdir, GO_STATES[state])
    where = f"tmp.txt {state}"
    cat = prediction.observe("cat-tmp-txt", field(outcome, "files", "tmp.txt"),
                             claim="go-mmap.program-demo", instance=where)
    # The sentence before the demo says what it writes into tmp.txt: its own proposition.
    prediction.observe("tmp-txt-holds", cat, claim="go-mmap.demo-output", instance=where)
    end = prediction.observe("exit", field(outcome, "last", "p", "main"),
                             claim="go-mmap.program-demo", instance=where)
    # The stores are within the 22-byte file; MAP_SHARED stores are in the page cache at exit.
    assert (end.value, cat.value) == ("exit 0", "h e l l o   m m a p ! "), outcome
