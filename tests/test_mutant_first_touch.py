"""Self-test of the machinery the first-touch mutants share (sources/first_touch.h).

Those mutants hide a mapping behind PROT_NONE and act in a SIGSEGV handler
at its first touch.  Done wrong, that breaks far more than the behaviour
they change: a check expecting SIGSEGV or SIGBUS would see the access
succeed or die of the wrong signal, and a mapping would stay split or
hidden in /proc/self/maps.  An interpreter runs here under
``mapped-pages-read-in`` and reports what a probe would see.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.mutants import build, load, run

MUTANT = "mapped-pages-read-in"
#: Maps a two-page file of the given directory through Python's mmap module and through
#: ctypes; reports the maps lines, the read calls of the first touch, and how three forked
#: children end: a store into a read-only mapping, a load past end of file, a load inside it.
SCRIPT = """
import ctypes, json, mmap, os, signal, sys
from helpers import libc
from helpers.probes.fork import address_of
from helpers.probes.pages import IoCounters, io_delta, vma_of

page = libc.PAGE_SIZE
path = os.path.join(sys.argv[1], "mapped")
with open(path, "wb") as file:
    file.write(b"m" * 2 * page)
fd = os.open(path, os.O_RDWR)


def ends(action):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            action()
            code = 0
        finally:
            os._exit(code)
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return f"exit {os.WEXITSTATUS(status)}"


def store_read_only():
    mapped = mmap.mmap(fd, page, access=mmap.ACCESS_READ)
    with open("/proc/self/maps") as maps:  # a read-only buffer exports no address
        start = next(int(line.split("-")[0], 16) for line in maps
                     if line.split()[1] == "---s" and line.rstrip().endswith(path))
    ctypes.c_char.from_address(start).value = b"x"  # the first touch, and a store


def load_past_end():
    mapped = mmap.mmap(fd, 2 * page)  # the module refuses a mapping longer than the file
    os.ftruncate(fd, page)
    ctypes.c_char.from_address(address_of(mapped) + page).value


def load_inside():
    mapped = mmap.mmap(fd, 2 * page)
    assert mapped[page] == ord("m")


module = mmap.mmap(fd, 2 * page)
by_ctypes = libc.mmap(0, 2 * page, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
hidden = vma_of(address_of(module))
counters = IoCounters()
before = counters.snapshot()
first = module[page]
after = counters.snapshot()
counters.close()
shown = vma_of(address_of(module))
print(json.dumps({"hidden": hidden["perms"], "shown": shown["perms"],
                  "shown_kb": shown["Size"], "first": first,
                  "ctypes": vma_of(by_ctypes)["perms"], "io": io_delta(before, after),
                  "store_read_only": ends(store_read_only), "load_inside": ends(load_inside),
                  "load_past_end": ends(load_past_end)}))
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Return the preloadable library of the mutant under test."""
    try:
        found = build.build([load().get(MUTANT)], tmp_path_factory.mktemp("first-touch"))[MUTANT]
    except build.CannotBuild as exc:
        pytest.skip(str(exc))
    assert run.loaded(found) == MUTANT
    return found


def test_first_touch_reads_once_and_leaves_signals_and_maps_as_they_were(library, tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=run.ROOT,
                          capture_output=True, text=True, timeout=60,
                          env=run.environment(library))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    if seen["hidden"] != "---s":
        pytest.skip(f"{tmp_path} is not on a device (the mutant leaves memory files alone)")
    # The first touch made one read call of one page, and showed the file's byte.
    assert seen["first"] == ord("m"), seen
    assert seen["io"]["syscr"] == 1 and seen["io"]["rchar"] == 4096, seen
    # Afterwards the mapping is one region again, with the protection asked for.
    assert seen["shown"] == "rw-s" and seen["shown_kb"] == 8, seen
    # A mapping made through ctypes is never followed.
    assert seen["ctypes"] == "rw-s", seen
    # Faults that are not first touches reach the process as before.
    assert seen["store_read_only"] == "SIGSEGV", seen
    assert seen["load_past_end"] == "SIGBUS", seen
    assert seen["load_inside"] == "exit 0", seen
