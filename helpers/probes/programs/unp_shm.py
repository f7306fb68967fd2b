"""unp-shm's programs (C++): the 15000-byte page model, the shm usage steps, producer/consumer.

Call for call, with the programs' names: ``./test.txt`` in the private
working directory, ``"/oneShmObj"`` and ``"./test.shm.file"`` through
:meth:`Stage.shm` (a private /dev/shm, or the run's prefix).
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Callable, Mapping
from typing import Any

from helpers import libc
from helpers.probes.programs.process import say, unchecked, wait_child
from helpers.probes.programs.stage import Event, Stage, replay

RW = libc.PROT_READ | libc.PROT_WRITE
PAGE = libc.PAGE_SIZE
#: libstdc++'s ``std::ios_base::hex`` (``_S_hex = 1L << 3``): ``cout << ios_base::hex``
#: streams this number, not the manipulator.
IOS_BASE_HEX = 8


def page_model(stage: Stage) -> int:
    """The 15000-byte program: page_size 'B's and 10 'C's, map 15000 bytes, four reads, four stores.

    Nothing is checked.  The file is closed after writing, reopened, mapped,
    and the second descriptor is closed at the very end, after ``munmap``,
    as written.  The two commented-out stores stay out.
    """
    page_size = os.sysconf("SC_PAGESIZE")
    say(f"pagesize={page_size}")
    s = b"B" * page_size + b"C" * 10
    fd = unchecked(os.open, "./test.txt", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o700)
    unchecked(os.write, fd, s)
    unchecked(os.close, fd)
    fd = unchecked(os.open, "./test.txt", os.O_RDWR)
    addr, _ = libc.mmap_raw(0, 15000, RW, libc.MAP_SHARED, fd, 0)
    ptr = addr
    for label, index in (("value[0]=", 0), ("value[4095]=", page_size - 1),
                         ("value[4096]=", page_size), ("value[4106]=", page_size + 10)):
        say(label, bytes([libc.load(ptr + index)]))  # cout << char: the byte itself, NUL too
    libc.store(ptr, ord("X"))
    libc.store(ptr + page_size - 1, ord("X"))
    libc.store(ptr + page_size - 1 + 10, ord("Y"))
    libc.store(ptr + page_size + 20, ord("Z"))
    libc.munmap_raw(addr, 15000)
    unchecked(os.close, fd)
    return 0


SHM_MODE_STEP1 = stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP
#: The usage steps give no value for ``length``; the demo that follows uses 100.
STEPS_LENGTH = 100


def _step(number: int, what: str, result: object) -> None:
    """Print one line per step: what it called and what that returned (the steps print nothing)."""
    say(f"step {number}: {what} -> {result}")


def _c(call: Callable[..., Any], *args: Any) -> tuple[int, str | None]:
    """Return what the C call returned (-1 on failure) and errno's name, as C code sees them."""
    try:
        return call(*args) or 0, None
    except OSError as exc:
        return -1, libc.errno_name(exc)


def _shown(result: tuple[int, str | None], success: str = "0") -> str:
    """Return ``"-1 ENAME"`` for a failed call, else ``success`` (a descriptor's number varies)."""
    err = result[1]
    return f"-1 {err}" if err else success


def usage_steps(stage: Stage, touch: bool = True) -> int:
    """共享内存区对象的使用步骤 1-5 as written: O_CREAT|O_TRUNC|O_EXCL, no access mode.

    Each step's call is made with the previous one's result, unchecked,
    and its result printed (the steps themselves print nothing).  Step 4
    has no code; ``touch`` replays it as a reader would write it (a store
    and a load through ``ptr``), else it is left out.
    """
    name = stage.shm("/oneShmObj")
    opened = _c(libc.shm_open, name, os.O_CREAT | os.O_TRUNC | os.O_EXCL, SHM_MODE_STEP1)
    fd = opened[0]
    _step(1, "shm_open", _shown(opened, "a descriptor"))
    _step(2, "ftruncate", _shown(_c(libc.ftruncate, fd, STEPS_LENGTH)))
    ptr, err = libc.mmap_raw(0, STEPS_LENGTH, RW, libc.MAP_SHARED, fd, 0)
    _step(3, "mmap", f"MAP_FAILED {err}" if err else "an address")
    if touch:
        libc.store(ptr, ord("x"))  # step 4: use ptr
        _step(4, "store and load through ptr", chr(libc.load(ptr)))
    _step(5, "munmap", _shown(libc.munmap_raw(ptr, STEPS_LENGTH)))
    _step(5, "shm_unlink", _shown(_c(libc.shm_unlink, name)))
    _step(5, "descriptor still open", fd >= 0 and unchecked(os.fstat, fd) != -1)
    return 0


def usage_steps_without_step4(stage: Stage) -> int:
    """The usage steps with step 4, which has no code, left out."""
    return usage_steps(stage, touch=False)


def steps_probe(workdir: str, state: str, timing: str, shm_tag: str, touch: bool = True,
                private_shm: bool = True) -> dict[str, Any]:
    """Replay the usage steps with the object absent (``"fresh"``) or already there (``"exists"``).

    Adds ``steps``: what each step's call returned, by the call's name, from
    the lines the replay printed (the steps that ran before any signal).
    """
    program = usage_steps if touch else usage_steps_without_step4
    result = replay([("p", program)], workdir, {}, timing, shm_tag,
                    shm_state=["/oneShmObj"] if state == "exists" else [],
                    private_shm=private_shm)
    steps = {}
    for line in result["last"]["p"]["output"].splitlines():
        if line.startswith("step ") and " -> " in line:
            what, _, value = line.split(": ", 1)[1].partition(" -> ")
            steps[what] = value
    return {**result, "steps": steps}


def page_model_probe(workdir: str, state: Mapping[str, str | None]) -> dict[str, Any]:
    """Replay the 15000-byte program; add the bytes its stores aimed at, as the file holds them.

    ``stored`` is the file's bytes at 0, page_size-1 and page_size+9 (the
    program's 'X', 'X', 'Y'); ``z_in_file`` whether its 'Z' got in.
    """
    result = replay([("p", page_model)], workdir, state)
    with open(os.path.join(workdir, "test.txt"), "rb") as handle:
        content = handle.read()
    at = [0, PAGE - 1, PAGE + 9]
    stored = " ".join(chr(content[i]) if i < len(content) else "-" for i in at)
    return {**result, "stored": stored, "z_in_file": b"Z" in content, "size": len(content)}


def shared_obj_probe(workdir: str, timing: str) -> dict[str, Any]:
    """Replay test_anonymous_mmap; add what the parent read and whether both printed one address."""
    result = replay([("p", anonymous_function)], workdir, {}, timing)
    return {**result, **parent_read_and_addresses(result["last"]["p"]["output"])}


def parent_read_and_addresses(output: str) -> dict[str, Any]:
    """Return what the parent's line says it read, and the addresses both processes printed."""
    lines = output.splitlines()
    read = [line.split(" read ", 1)[1] for line in lines
            if line.startswith("parent:") and " read " in line]
    addresses = {line.rsplit(":", 1)[1] for line in lines if "share_obj addr:" in line}
    return {"parent_read": read[0] if read else None, "same_address": len(addresses) == 1,
            "addresses": sorted(addresses)}


PRODUCER_DATA = b"hello world !"


def _producer(stage: Stage, shm_file: str, length: int, done: Event) -> None:
    """test_share_memory_producer: create, ftruncate, map, copy the string, msync, unmap."""
    fd, _ = _c(libc.shm_open, shm_file, os.O_RDWR | os.O_CREAT | os.O_TRUNC,
               stat.S_IRUSR | stat.S_IWUSR)
    if fd < 0:
        say("test_share_memory_producer shm_open failed")
        os._exit(255)  # exit(-1)
    if _c(libc.ftruncate, fd, length)[0] != 0:
        say("test_share_memory_producer ftruncate failed")
        _c(libc.shm_unlink, shm_file)
        os._exit(255)
    ptr, err = libc.mmap_raw(0, length, RW, libc.MAP_SHARED, fd, 0)
    if err:
        say("test_share_memory_producer mmap failed")
        _c(libc.shm_unlink, shm_file)
        os._exit(255)
    libc.write_bytes(ptr, PRODUCER_DATA)  # memcpy of data.length(): no NUL
    _c(libc.msync, ptr, len(PRODUCER_DATA), libc.MS_SYNC)
    libc.munmap_raw(ptr, length)
    done.post()


def _consumer(stage: Stage, shm_file: str, done: Event) -> None:
    """test_share_memory_consumer: sleep(10), open, fstat, map st_size read-only, print, unlink."""
    stage.sleep(10)
    stage.handoff(done)
    fd, _ = _c(libc.shm_open, shm_file, os.O_RDWR, stat.S_IRUSR | stat.S_IWUSR)
    if fd < 0:
        say("test_share_memory_consumer shm_open fail")
        os._exit(255)
    try:
        size = os.fstat(fd).st_size
    except OSError:
        say("test_share_memory_consumer fstat fail")
        _c(libc.shm_unlink, shm_file)
        os._exit(255)
    data, _ = libc.mmap_raw(0, size, libc.PROT_READ, libc.MAP_SHARED, fd, 0)  # unchecked
    say(f"shmObj size:{size},client write data:", libc.c_string(data))
    libc.munmap_raw(data, size)
    _c(libc.shm_unlink, shm_file)


def producer_consumer(stage: Stage) -> int:
    """test_share_memory: fork; the child produces into "./test.shm.file", the parent consumes.

    The consumer's ``sleep(10)`` is its only wait for the producer; the
    default run replaces it by waiting until the producer is done (or dead).
    """
    shm_file = stage.shm("./test.shm.file")
    length = 100
    done = Event()
    child_pid = os.fork()
    if child_pid == 0:
        _producer(stage, shm_file, length, done)
        os._exit(0)
    elif child_pid > 0:
        _consumer(stage, shm_file, done)
        wait_child(child_pid)
    else:
        return 255
    return 0


class SharedObj(ctypes.Structure):
    """The example's ``SharedObj``, which the document never shows: a length and a char array."""

    _fields_ = (("len", ctypes.c_int), ("str", ctypes.c_char * 64))


def anonymous_function(stage: Stage) -> int:
    """test_anonymous_mmap (a function, its struct not shown): the child fills, the parent reads.

    The parent's ``sleep(1)`` before ``waitpid`` stands for "the child has
    written"; waitpid orders the read anyway.  ``mmap`` is unchecked.
    """
    size = ctypes.sizeof(SharedObj)
    addr, _ = libc.mmap_raw(0, size, RW, libc.MAP_ANONYMOUS | libc.MAP_SHARED, -1, 0)
    shared_obj = SharedObj.from_address(addr)
    shared_obj.len = 0
    shared_obj.str = b""
    wrote = Event()
    child_pid = os.fork()
    if child_pid == 0:
        hello = b"hello world"
        shared_obj.len = len(hello)
        ctypes.memmove(addr + SharedObj.str.offset, hello, len(hello))
        say(f"child:{os.getpid()} wrote [str:", shared_obj.str, f",len:{shared_obj.len}]")
        say(f"child share_obj addr:{IOS_BASE_HEX}{addr:#x}")
        wrote.post()
        del shared_obj
        libc.munmap_raw(addr, size)
        os._exit(0)
    stage.sleep(1)
    stage.handoff(wrote)
    wait_child(child_pid)
    say(f"parent:{os.getpid()} read [str:", shared_obj.str, f",len:{shared_obj.len}]")
    say(f"parent share_obj addr:{IOS_BASE_HEX}{addr:#x}")
    del shared_obj
    libc.munmap_raw(addr, size)
    return 0
