"""The documents' example programs, replayed call for call through libc (or Python's mmap).

Each ``*_program`` function is one document's program: the same calls in
the same order, the same output lines (English labels where the document
prints Chinese ones), ``perror`` as ``"<label>: <strerror>"`` on stderr.
Where a replay departs from the program it says so in a comment: a
``sleep`` that orders nothing is dropped, a ``sleep`` that the program
relies on is shortened and passed in.  :func:`run_program` runs a program
as a process of its own (checks pass it a program as the probe's first
argument), collects its output and how each of its processes ended; the
``*_probe`` functions wrap the programs whose checks need more.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from helpers import libc
from helpers.isolate import note
from helpers.probes import read_file, release
from helpers.probes.eof import page_round
from helpers.probes.fork import Mapped, reap
from helpers.probes.peer import Peer, PeerDied, PeerError
from helpers.probes.programs.process import c_int, perror, run_program, say, wait_child
from helpers.probes.programs.unp_shm import IOS_BASE_HEX, SharedObj, parent_read_and_addresses
from helpers.probes.regions import describe_at, region_at

PAGE = libc.PAGE_SIZE
RW = libc.PROT_READ | libc.PROT_WRITE


@contextlib.contextmanager
def _captured() -> Iterator[list[str]]:
    """Send fds 1 and 2 to a pipe for the block; yield a list that then holds the output."""
    read_fd, write_fd = os.pipe()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    release(write_fd)
    out: list[str] = []
    try:
        yield out
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            release(fd)
        os.set_blocking(read_fd, False)
        with contextlib.suppress(BlockingIOError):
            out.append(os.read(read_fd, 65536).decode("utf-8", "backslashreplace"))
        release(read_fd)


def _cstring(region: Mapped, at: int = 0) -> bytes:
    """Return the NUL-terminated string at ``at``, through the region's layer."""
    if region.handle is not None:
        end = region.handle.find(b"\0", at)
        return region.handle[at:end if end >= 0 else len(region.handle)]
    return libc.c_string(region.addr + at)


# --- memmap-ipc: related processes, unrelated processes, file copy ---------------------------

def related_ipc_program(path: str, order: str = "as written") -> int:
    """memmap-ipc's related-process program: map 4000 bytes of test.txt, fork, parent writes.

    ``order`` inserts what the program lacks, to show both outcomes of its
    race: ``"store first"`` makes the child wait for the parent's store,
    ``"load first"`` the parent wait for the child's load.  The parent's
    ``sleep(5)`` after its store is dropped: it delays only the parent.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    say("111")
    ptr = libc.mmap(0, 4000, RW, libc.MAP_SHARED, fd, 0)
    gate_r, gate_w = os.pipe()  # used only by the two forced orders
    pid = os.fork()
    # Each side keeps only the pipe end it uses, so a peer that dies ends the wait at once.
    waits = (pid > 0) == (order == "load first")
    release(gate_w if waits else gate_r)
    if pid > 0:
        say("222")
        if order == "load first":
            select.select([gate_r], [], [], 5.0)
        libc.write_bytes(ptr, b"test\0")
        if order == "store first":
            os.write(gate_w, b"!")
    elif pid == 0:
        if order == "store first":
            select.select([gate_r], [], [], 5.0)
        say("read from the mapping: ", libc.c_string(ptr))
        if order == "load first":
            os.write(gate_w, b"!")
    wait_child(pid)
    libc.munmap(ptr, 4000)
    release(fd)
    return 0


def related_example_probe(path: str, size: int, order: str, runs: int) -> dict[str, Any]:
    """Run :func:`related_ipc_program` ``runs`` times on a ``size``-byte test.txt (reset each run).

    Returns how often the child printed each string, and how the parent and
    the child ended, as counts.
    """
    printed: Counter[str] = Counter()
    parent: Counter[str] = Counter()
    child: Counter[str] = Counter()
    for _ in range(runs):
        os.truncate(path, 0)
        os.truncate(path, size)
        result = run_program(related_ipc_program, path, order, processes=2)
        lines = [line for line in result["output"].splitlines() if line.startswith("read from")]
        printed[lines[0].split(": ", 1)[1] if lines else "(nothing)"] += 1
        parent[result["main"]] += 1
        child.update(result["others"])
    head = read_file(path, 5)
    return {"printed": dict(printed), "printed_always": _always(printed),
            "parent": dict(parent), "child": dict(child), "file_head": head.hex(), "runs": runs}


def _always(counts: Counter[str]) -> str | None:
    """Return the one string every run printed, None when the runs differed."""
    return next(iter(counts)) if len(counts) == 1 else None


def _end_of(call: Callable[[], Any]) -> Any:
    """Return ``call()``, or how the peer refused (errno or exception name) or died (signal)."""
    try:
        return call()
    except PeerError as exc:
        return exc.name
    except PeerDied as exc:
        return exc.signal or f"exit {exc.code}"


def unrelated_example_probe(path: str, layer: str) -> dict[str, Any]:
    """memmap-ipc's writer and reader programs, each a fresh process, the reader after the writer.

    Writer: map 4096 bytes MAP_SHARED, copy "test" and its NUL, unmap, exit.
    Reader: map 4096 bytes, print ``"ptr:"``, the C string and a newline.  Returns
    each one's result (``"ok"``, an errno or exception name, a signal) and
    the file's size and first bytes afterwards.
    """

    def write(peer: Peer) -> str:
        peer.write(peer.map(path, length=4096, layer=layer), 0, b"test\0")
        return "ok"

    def read(peer: Peer) -> str:
        return "ptr:" + peer.cstring(peer.map(path, length=4096, layer=layer)).decode() + "\n"

    with Peer() as writer:
        wrote = _end_of(lambda: write(writer))
    with Peer() as reader:
        printed = _end_of(lambda: read(reader))
    content = read_file(path)
    return {"writer": wrote, "reader": printed, "file_size": len(content),
            "file_head": content[:8].hex()}


def memmap_copy_program(src: str, dst: str) -> dict[str, int]:
    """memmap-ipc's copy program; returns its pointers and size for inspection (exit code in it).

    The program's own steps: open, ``int size = lseek(SEEK_END)``, map the
    source, open the target with O_TRUNC, map it with the source's size,
    ftruncate, memcpy, close both, ``munmap(ptr1, 4096)``, ``munmap(ptr2, size)``.
    """
    fd1 = os.open(src, os.O_RDONLY)
    size = c_int(os.lseek(fd1, 0, os.SEEK_END))
    try:
        ptr1 = libc.mmap(0, size, libc.PROT_READ, libc.MAP_SHARED, fd1, 0)
    except OSError as exc:
        perror("mmap", exc)
        return {"code": 0, "size": size, "ptr1": 0}
    fd2 = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
    ptr2 = libc.mmap(0, size, RW, libc.MAP_SHARED, fd2, 0)
    libc.ftruncate(fd2, size)
    ctypes.memmove(ptr2, ptr1, size)
    release(fd1)
    release(fd2)
    libc.munmap(ptr1, 4096)
    libc.munmap(ptr2, size)
    return {"code": 0, "size": size, "ptr1": ptr1}


def memmap_copy_probe(src: str, dst: str, touch_page: int | None = None) -> dict[str, Any]:
    """Run :func:`memmap_copy_program`; return its output and which source pages stay mapped.

    With ``touch_page`` the probe then loads the first byte of that page of
    the source mapping (a page ``munmap(ptr1, 4096)`` released faults).
    """
    with _captured() as out:
        state = memmap_copy_program(src, dst)
    left = [region_at(state["ptr1"] + page * PAGE) is not None
            for page in range(page_round(max(state["size"], 1)) // PAGE)] if state["ptr1"] else []
    result = {"output": "".join(out), "size": state["size"], "source_pages_still_mapped": left,
              "source_released": not any(left), "target_exists": os.path.exists(dst)}
    if touch_page is not None:
        note(base=state["ptr1"], **result)
        libc.load(state["ptr1"] + touch_page * PAGE)
    return result


# --- webserver-mmap: parent and child, file copy, anonymous memory ---------------------------

def parent_child_program(path: str, layer: str) -> int:
    """webserver-mmap's related-process example: the child strcpy's, the parent waits and prints."""
    fd = os.open(path, os.O_RDWR)
    size = c_int(os.lseek(fd, 0, os.SEEK_END))
    try:
        region = Mapped(layer, size, fd=fd)
    except (OSError, ValueError) as exc:  # ValueError: Python's mmap refusing the length
        if isinstance(exc, OSError):
            perror("mmap", exc)
        else:
            os.write(2, f"ValueError: {exc}\n".encode())
        return 0
    pid = os.fork()
    if pid > 0:
        wait_child(pid)
        buf = _cstring(region)  # strcpy(buf, ptr) into char buf[64]
        say("read data : ", buf)
    elif pid == 0:
        region.write(0, b"nihao a, son!!!\0")
    region.unmap()
    return 0


def truncate_then_write_one(path: str, length: int) -> dict[str, Any]:
    """The copy program's ``truncate(path, len)`` then ``write(fd, "", 1)``: size and offset.

    Returns the size after each call, the descriptor's offset after the
    write (where the byte went) and the file's first byte after it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    os.truncate(path, length)
    after_truncate = os.fstat(fd).st_size
    os.write(fd, b"\0")
    result = {"size_after_truncate": after_truncate, "size_after_write": os.fstat(fd).st_size,
              "offset_after_write": os.lseek(fd, 0, os.SEEK_CUR),
              "first_byte": os.pread(fd, 1, 0).hex()}
    release(fd)
    return result


def anonymous_fork_program(layer: str, child_sleep: float) -> int:
    """webserver-mmap's anonymous example: parent strcpy's "hello, world", child sleeps, prints.

    The child's ``sleep(1)`` is what orders its read after the parent's
    store; the replay sleeps ``child_sleep`` seconds instead (0: no sleep).
    """
    length = 4096
    region = Mapped(layer, length, shared=True)
    pid = os.fork()
    if pid > 0:
        region.write(0, b"hello, world\0")
        wait_child(pid)
    elif pid == 0:
        if child_sleep:
            time.sleep(child_sleep)
        say(_cstring(region))
    try:
        region.unmap()
    except OSError as exc:
        perror("munmap", exc)
    return 0


def anonymous_fork_probe(layer: str, child_sleep: float, runs: int) -> dict[str, Any]:
    """Run :func:`anonymous_fork_program` ``runs`` times; return what the child printed, counted."""
    printed: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for _ in range(runs):
        result = run_program(anonymous_fork_program, layer, child_sleep, processes=2)
        printed[result["output"]] += 1
        statuses.update([result["main"], *result["others"]])
    # Clean: every process the probe reaped exited 0 and no "munmap:" perror line appeared.
    clean = set(statuses) == {"exit 0"} and not any("munmap" in text for text in printed)
    return {"printed": dict(printed), "printed_always": _always(printed),
            "statuses": dict(statuses), "clean": clean, "runs": runs}


# --- unp-shm: the shared object over fork, the page model ------------------------------------

def shared_obj_program(layer: str) -> int:
    """unp-shm's anonymous example: the child fills a SharedObj, the parent reads it after waitpid.

    The parent's ``sleep(1)`` before ``waitpid`` is dropped: waitpid orders the read.
    """
    region = Mapped(layer, ctypes.sizeof(SharedObj), shared=True)
    obj = SharedObj.from_address(region.addr)
    obj.len = 0
    obj.str = b""
    pid = os.fork()
    if pid == 0:
        hello = b"hello world"
        obj.len = len(hello)
        ctypes.memmove(region.addr + SharedObj.str.offset, hello, len(hello))
        say(f"child:{os.getpid()} wrote [str:", obj.str, f",len:{obj.len}]")
        say(f"child share_obj addr:{IOS_BASE_HEX}{region.addr:#x}")
        del obj
        region.unmap()
        return 0
    reap(pid)
    say(f"parent:{os.getpid()} read [str:", obj.str, f",len:{obj.len}]")
    say(f"parent share_obj addr:{IOS_BASE_HEX}{region.addr:#x}")
    del obj
    region.unmap()
    return 0


def shared_obj_probe(layer: str) -> dict[str, Any]:
    """Run :func:`shared_obj_program`; return its output, what the parent read, the addresses."""
    result = run_program(shared_obj_program, layer, processes=2)
    return {**result, **parent_read_and_addresses(result["output"])}


def unp_model_setup(path: str) -> int:
    """The page-model program up to its mmap: ``page_size`` 'B's and 10 'C's, map 15000 bytes."""
    page = PAGE
    say(f"pagesize={page}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o700)
    os.write(fd, b"B" * page + b"C" * 10)
    release(fd)
    fd = os.open(path, os.O_RDWR)
    return libc.mmap(0, 15000, RW, libc.MAP_SHARED, fd, 0)  # fd stays open: closed at the end


def unp_model_body(addr: int) -> None:
    """The page-model program's four reads (labels as it prints them) and four stores."""
    for label, index in (("value[0]=", 0), ("value[4095]=", PAGE - 1), ("value[4096]=", PAGE),
                         ("value[4106]=", PAGE + 10)):
        say(label, bytes([libc.load(addr + index)]))
    libc.store(addr, ord("X"))
    libc.store(addr + PAGE - 1, ord("X"))
    libc.store(addr + PAGE - 1 + 10, ord("Y"))
    libc.store(addr + PAGE + 20, ord("Z"))


def unp_model_extra_store(path: str, at: int) -> dict[str, Any]:
    """The page-model program with one of its commented-out stores enabled: ``ptr[at] = 'O'``.

    Runs in the probe itself so a fault's ``si_code`` is seen.  When the
    target lies outside the mapping and something else is mapped there,
    the byte is stored back unchanged rather than as 'O', so the store
    proves it lands without corrupting this process's neighbour.
    """
    with _captured():
        addr = unp_model_setup(path)
        unp_model_body(addr)
    target = addr + at
    inside = at < page_round(15000)
    note(base=addr, region_at_target=describe_at(target), inside_mapping=inside)
    libc.store(target, ord("O") if inside else libc.load(target))
    return {"region_at_target": describe_at(target)}
