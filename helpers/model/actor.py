"""The step executor: makes the real calls, in a process that keeps its state.

One actor process lives for one sequence.  It reserves its arena, then reads
one JSON line per step from its input, makes the call, looks at what the
call left behind (the arena's lines of ``/proc/self/maps``, a CRC-32 of each
page the model says is readable, the size and CRC-32 of every file and shm
object it has seen) and answers with one JSON line.  A step that kills it by
a signal ends it: the zygote (:mod:`helpers.model.zygote`), which traces it,
answers in its place with the signal and its ``si_code``.

The actor may fork one child that runs steps too.  The child reads its steps
from the actor over a pipe and is traced by the actor in the same way, so
its death by a signal becomes the step's outcome and the actor carries on.

Everything the actor touches stays inside its window: a step that would map
or unmap memory outside it is refused (a harness error, never a call), so a
wrong step can never clobber the interpreter's own memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import time
import zlib
from functools import cache
from typing import Any

from helpers import libc
from helpers.isolate import siginfo
from helpers.model import maps
from helpers.model.flags import PREFIXES, words

#: Addresses tried, in order, for the window: low enough that the kernel's own
#: choices (top down from below the stack) never come near, high enough to
#: miss the program and its heap.
CANDIDATES = (1 << 44, 1 << 40, 1 << 36)
#: A length larger than any user address space (even with 5-level page tables):
#: mmap(2) and munmap(2) refuse it before they look at a single page.
HUGE = 1 << 60
#: How long the actor waits for its child to answer one step.
CHILD_TIMEOUT_S = 5.0
#: How long an actor that cannot go on waits for the word to exit after saying why.
FATAL_LINGER_S = 30.0
PR_SET_PDEATHSIG = 1


class HarnessError(RuntimeError):
    """The actor refused or could not carry out a request (never a platform outcome)."""


@cache
def native(text: str, family: str) -> int:
    """Return the platform's value of flag words such as ``"READ|WRITE"``."""
    value = 0
    for word in words(text, family):
        if word.startswith("0x"):
            value |= int(word, 16)
        elif family == "open":
            value |= getattr(os, "O_" + word)
        else:
            value |= libc.constant(PREFIXES[family] + word)
    return value


def _superblock_device(fd: int) -> str | None:
    """Return ``major:minor`` of the superblock ``fd``'s file is on, as /proc/pid/maps shows it.

    fstat's ``st_dev`` differs from it where a filesystem gives each
    subvolume a device of its own (btrfs); mountinfo names the superblock's,
    found through the descriptor's ``mnt_id`` in /proc/self/fdinfo.
    """
    try:
        with open(f"/proc/self/fdinfo/{fd}") as info:
            mnt_id = next(line.split()[1] for line in info if line.startswith("mnt_id:"))
        with open("/proc/self/mountinfo") as mountinfo:
            return next(line.split()[2] for line in mountinfo if line.split()[0] == mnt_id)
    except (OSError, StopIteration, IndexError):
        return None


def identity(fd: int) -> str:
    """Return ``"major:minor:inode"`` of an open file, as maps lines name it."""
    st = os.fstat(fd)
    device = _superblock_device(fd) or f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    return f"{device}:{st.st_ino}"


def read_line(fd: int, deadline: float | None = None) -> bytes | None:
    """Return one line from ``fd`` (None at end of file); raise TimeoutError at ``deadline``.

    Requests and answers strictly alternate, so nothing follows the line in
    the pipe and reading whole chunks never swallows the next message.
    """
    chunks: list[bytes] = []
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no answer before the deadline")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)


def write_line(fd: int, message: Any) -> None:
    """Write ``message`` as one JSON line."""
    data = memoryview(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    while data:
        data = data[os.write(fd, data):]


def _ptrace() -> Any:
    return libc._function("ptrace") if libc.available("ptrace") else None


def _resume(pid: int, signum: int) -> tuple[int, int, int | None] | None:
    """Let a ptrace-stopped process take its signal; return the fault's siginfo if it was one."""
    ptrace = _ptrace()
    if ptrace is None:
        return None
    fault = siginfo.read_siginfo(ptrace, pid) if signum in siginfo.FAULT_SIGNALS else None
    ptrace(siginfo.PTRACE_CONT, pid, None, signum)
    return fault


def _die_with_parent() -> None:
    if libc.available("prctl"):
        libc._function("prctl")(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Child:
    """The actor's side of its forked child: send it a request, get its answer or its death."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid, self.to_child, self.from_child = pid, to_child, from_child
        #: The wait status, once the child was reaped while its last answer was read.
        self.status: int | None = None

    def _drain(self) -> bytes:
        """Return what the child wrote and nobody read yet (its write end is closed)."""
        chunks = []
        while select.select([self.from_child], [], [], 0)[0]:
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def request(self, message: dict[str, Any], base: int) -> dict[str, Any]:
        """Return the child's answer, or ``{"r": ["sig", ...], "died": True}`` if it died."""
        write_line(self.to_child, message)
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        fault: tuple[int, int, int | None] | None = None
        buffer = b""
        # A fault stops the traced child without a word on the pipe: look for it
        # soon, then less and less often.
        pause = 0.0001
        while time.monotonic() < deadline:
            ready = select.select([self.from_child], [], [], pause)[0]
            pause = min(pause * 2, 0.002)
            if ready:
                chunk = os.read(self.from_child, 1 << 20)
                buffer += chunk
                if chunk and buffer.endswith(b"\n"):
                    return json.loads(buffer)
            waited, status = os.waitpid(self.pid, os.WNOHANG)
            if waited == 0:
                continue
            if os.WIFSTOPPED(status):
                fault = _resume(self.pid, os.WSTOPSIG(status)) or fault
                continue
            # A child that answers "exit" and exits may do both between this loop's
            # select and its waitpid: the answer is still in the pipe.
            buffer += self._drain()
            self.close()
            if buffer.endswith(b"\n"):
                self.status = status
                return json.loads(buffer)
            return {"r": ended(status, fault, base), "died": True}
        self.kill()
        raise HarnessError(f"the forked child did not answer within {CHILD_TIMEOUT_S} s")

    def wait_exit(self) -> int:
        """Return the exit status of a child that was asked to exit."""
        if self.status is not None:
            return self.status
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        pidfd = os.pidfd_open(self.pid)
        try:
            while time.monotonic() < deadline:
                waited, status = os.waitpid(self.pid, os.WNOHANG)
                if waited and not os.WIFSTOPPED(status):
                    return status
                if waited:
                    _resume(self.pid, os.WSTOPSIG(status))
                select.select([pidfd], [], [], 0.002)
        finally:
            os.close(pidfd)
        self.kill()
        raise HarnessError("the forked child did not exit when asked")

    def kill(self) -> None:
        """Kill and reap the child (end of sequence or a hang)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.close()

    def close(self) -> None:
        """Close the pipes to the child (once: a second call closes nothing)."""
        for fd in (self.to_child, self.from_child):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.to_child = self.from_child = -1


def ended(status: int, fault: tuple[int, int, int | None] | None, base: int) -> list[Any]:
    """Return the outcome, as sent on the wire, of a process that ended with ``status``."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        code = addr = None
        if fault is not None and fault[0] == signum:
            code = siginfo.si_code_name(signum, fault[1])
            addr = fault[2] - base if fault[2] is not None else None
        return ["sig", siginfo.signal_name(signum), code, addr]
    return ["exit", os.WEXITSTATUS(status)]


class Actor:
    """Carry out steps and describe the state they leave, in the executor or its child."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.page_size = libc.PAGE_SIZE
        self.arena_pages: int = config["arena_pages"]
        self.window_pages: int = config["window_pages"]
        self.write_implies_read: bool = config["write_implies_read"]
        self.exec_implies_read: bool = config["exec_implies_read"]
        self.window_bytes = self.window_pages * self.page_size
        self.base = self._reserve()
        self.fds: dict[int, int] = {}
        self.observers: dict[str, int] = {}
        self.child: Child | None = None
        #: Children that were told to exit and have not been reaped yet.
        self.exiting: list[Child] = []
        self.is_child = False

    # --- the window ------------------------------------------------------------------------

    def _reserve(self) -> int:
        """Return the base of the window: ``arena_pages`` PROT_NONE, the rest unmapped.

        The window is reserved with a free page on each side, which proves
        nothing else is mapped next to it; those pages and the tail of the
        window are then unmapped again.
        """
        size = self.page_size
        span = (self.window_pages + 2) * size
        flags = libc.MAP_PRIVATE | libc.MAP_ANONYMOUS
        try:
            noreplace = libc.constant("MAP_FIXED_NOREPLACE")
        except libc.Unsupported:
            noreplace = 0
        start = None
        for candidate in CANDIDATES if noreplace else ():
            try:
                got = libc.mmap(candidate - size, span, libc.PROT_NONE, flags | noreplace)
            except OSError:
                continue
            if got == candidate - size:
                start = got
                break
            libc.munmap(got, span)  # an old kernel took the flag as a hint
        if start is None:
            start = libc.mmap(0, span, libc.PROT_NONE, flags)
        base = start + size
        libc.munmap(start, size)
        libc.munmap(base + self.arena_pages * size, span - size - self.arena_pages * size)
        return base

    def _inside(self, rel: int, length: int) -> bool:
        return rel >= 0 and rel + length <= self.window_bytes

    # --- steps -----------------------------------------------------------------------------

    def perform(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Make the call ``msg`` describes and return ``{"r": outcome, ...}``."""
        extra: dict[str, Any] = {}
        try:
            value = getattr(self, "op_" + msg["op"])(msg, extra)
        except OSError as exc:
            return {"r": ["err", libc.errno_name(exc)]}
        return {"r": ["ok", value], **extra}

    def op_mmap(self, msg: dict[str, Any], extra: dict[str, Any]) -> int:
        size = self.page_size
        rel, length = msg["addr"], msg["length"]
        flags = native(msg["flags"], "map")
        if flags & libc.MAP_FIXED and length < HUGE and rel % size == 0 and not self._inside(
                rel, -(-length // size) * size):
            raise HarnessError(f"refused: MAP_FIXED at arena+{rel:#x} reaches past the window")
        handle = msg["handle"]
        fd = self.fds.get(handle, -1) if handle is not None else -1
        addr = libc.mmap(self.base + rel if rel is not None else 0, length,
                         native(msg["prot"], "prot"), flags, fd, msg["offset"])
        at = addr - self.base
        if not self._inside(at, 1):
            text = _read_maps()
            extra["o"] = maps.lines_in(text, addr, addr + -(-length // size) * size)
        return at

    def op_munmap(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        rel, length = msg["addr"], msg["length"]
        if length < HUGE and not self._inside(rel - rel % self.page_size,
                                              length + rel % self.page_size):
            raise HarnessError(f"refused: munmap at arena+{rel:#x} reaches past the window")
        libc.munmap(self.base + rel, length)

    def op_mprotect(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        # Past the window nothing is mapped, and mprotect stops at the first hole.
        libc.mprotect(self.base + msg["addr"], msg["length"], native(msg["prot"], "prot"))

    def op_msync(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        libc.msync(self.base + msg["addr"], msg["length"], native(msg["flags"], "ms"))

    def op_ftruncate(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        libc.ftruncate(self.fds.get(msg["handle"], -1), msg["length"])

    def op_pwrite(self, msg: dict[str, Any], extra: dict[str, Any]) -> int:
        data = bytes([msg["value"]]) * msg["length"]
        return os.pwrite(self.fds.get(msg["handle"], -1), data, msg["offset"])

    def op_load(self, msg: dict[str, Any], extra: dict[str, Any]) -> int:
        if not self._inside(msg["addr"], 1):
            raise HarnessError(f"refused: load at arena+{msg['addr']:#x} is outside the window")
        return libc.load(self.base + msg["addr"])

    def op_store(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        if not self._inside(msg["addr"], 1):
            raise HarnessError(f"refused: store at arena+{msg['addr']:#x} is outside the window")
        libc.store(self.base + msg["addr"], msg["value"])

    def op_shm_open(self, msg: dict[str, Any], extra: dict[str, Any]) -> int:
        fd = libc.shm_open(msg["real"], native(msg["flags"], "open"), 0o600)
        return self._opened(msg, fd, extra)

    def op_open(self, msg: dict[str, Any], extra: dict[str, Any]) -> int:
        fd = os.open(msg["real"], native(msg["flags"], "open") | os.O_CLOEXEC, 0o600)
        return self._opened(msg, fd, extra)

    def _opened(self, msg: dict[str, Any], fd: int, extra: dict[str, Any]) -> int:
        self.fds[msg["new"]] = fd
        extra["id"] = identity(fd)
        return msg["new"]

    def op_shm_unlink(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        libc.shm_unlink(msg["real"])

    def op_close(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        os.close(self.fds.pop(msg["handle"], -1))

    def op_fork(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        if self.child is not None or self.is_child:
            raise HarnessError("refused: there is already a forked child")
        self._reap_exiting()
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child
            code = 0
            try:
                os.close(down_w)
                os.close(up_r)
                self._become_child()
                self.serve(down_r, up_w)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        os.close(down_r)
        os.close(up_w)
        self.child = Child(pid, down_w, up_r)

    def _become_child(self) -> None:
        self.is_child = True
        for fd in self.observers.values():
            # A deferred error of close is the platform's answer to a Close step,
            # which the model judges; the actor's own bookkeeping goes on.
            libc.close_past_deferred_error(fd)
        self.observers = {}
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)
        _die_with_parent()
        ptrace = _ptrace()
        if ptrace is not None:
            ptrace(siginfo.PTRACE_TRACEME, 0, None, None)

    def op_exit(self, msg: dict[str, Any], extra: dict[str, Any]) -> None:
        raise HarnessError("refused: exit is a step of the forked child")

    # --- what the state looks like ---------------------------------------------------------

    def snapshot(self, mask: int, sizes: dict[str, int]) -> dict[str, Any]:
        """Return the window's maps lines and the CRC-32 of each readable page in ``mask``.

        A page is read only if maps says it is readable and, when a file or
        shm object backs it, it lies within the object's size: reading a
        page the model wrongly thinks readable must not kill the actor.
        """
        lines = maps.read_window("/proc/self/maps", self.base, self.base + self.window_bytes)
        table = maps.pages(lines, self.base, self.page_size, self.window_pages)
        size = self.page_size
        crcs: dict[int, int] = {}
        page = 0
        while mask >> page:
            if mask >> page & 1 and (info := table.get(page)) is not None:
                perms, offset, ident = info
                readable = perms[0] == "r" or (perms[1] == "w" and self.write_implies_read) \
                    or (perms[2] == "x" and self.exec_implies_read)
                if readable and (ident not in sizes or offset < -(-sizes[ident] // size) * size):
                    crcs[page] = zlib.crc32(ctypes.string_at(self.base + page * size, size))
            page += 1
        return {"maps": lines, "crc": crcs}

    def files(self) -> tuple[dict[str, list[int]], dict[str, int]]:
        """Return ``{identity: [size, crc]}`` of every object seen, and their sizes."""
        digests, sizes = {}, {}
        for ident, fd in self.observers.items():
            size = os.fstat(fd).st_size
            digests[ident] = [size, zlib.crc32(os.pread(fd, size, 0))]
            sizes[ident] = size
        return digests, sizes

    def _observe(self, ident: str, msg: dict[str, Any]) -> None:
        """Keep a read-only descriptor on a newly seen object, to read its bytes later."""
        if ident in self.observers:
            return
        if msg["op"] == "shm_open":
            fd = libc.shm_open(msg["real"], os.O_RDONLY, 0o600)
        else:
            fd = os.open(msg["real"], os.O_RDONLY | os.O_CLOEXEC)
        if identity(fd) != ident:  # the name was unlinked and reused in between: impossible
            os.close(fd)
            raise HarnessError(f"could not reopen {msg['real']!r} to watch it")
        self.observers[ident] = fd

    def peek(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Return the bytes of one page or one object, for a disagreement's message."""
        if msg["peek"] == "file":
            fd = self.observers.get(msg["ident"])
            if fd is None:
                return {"hex": None}
            return {"hex": os.pread(fd, os.fstat(fd).st_size, 0).hex()}
        snap = self.snapshot(1 << msg["page"], msg.get("sizes", {}))
        if msg["page"] not in snap["crc"]:
            return {"hex": None}
        return {"hex": ctypes.string_at(self.base + msg["page"] * self.page_size,
                                        self.page_size).hex()}

    # --- the loops -------------------------------------------------------------------------

    def step(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Run one step in the process it names and answer with the state after it."""
        masks: list[int] = msg.get("m", [0, 0])
        if msg.get("proc", 0) == 0:
            answer = self.perform(msg)
        elif self.child is None:
            raise HarnessError("refused: a step for a child that does not exist")
        else:
            answer = self.child.request(msg, self.base)
            if answer.pop("died", False):
                self.child = None
            elif msg["op"] == "exit":
                # Its exit has no effect a later step can observe, so it is reaped
                # later (at the next fork or at the end) rather than waited for now.
                self.child.close()
                self.exiting.append(self.child)
                self.child = None
        if "id" in answer:
            self._observe(answer["id"], msg)
        digests, sizes = self.files()
        states = [self.snapshot(masks[0], sizes)]
        if self.child is not None:
            reply = self.child.request({"check": masks[1], "sizes": sizes}, self.base)
            if reply.pop("died", False):
                self.child = None
                raise HarnessError(f"the forked child died while being checked: {reply['r']}")
            states.append(reply)
        answer["s"] = states
        answer["f"] = digests
        return answer

    def serve(self, read_fd: int, write_fd: int) -> None:
        """Answer requests on ``read_fd`` until end of file or ``{"quit": true}``."""
        while (line := read_line(read_fd)) is not None:
            msg = json.loads(line)
            try:
                if self.is_child:
                    answer = self._child_request(msg)
                elif "peek" in msg:
                    answer = self._peek_anywhere(msg)
                elif msg.get("quit"):
                    self.quit()
                    return
                else:
                    answer = self.step(msg)
            except HarnessError as exc:
                answer = {"harness": str(exc)}
            write_line(write_fd, answer)
            if self.is_child and msg.get("op") == "exit":
                os._exit(0)

    def _child_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        if "check" in msg:
            return self.snapshot(msg["check"], msg["sizes"])
        if "peek" in msg:
            return self.peek(msg)
        if msg["op"] == "exit":
            return {"r": ["ok", None]}
        return self.perform(msg)

    def _peek_anywhere(self, msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("proc", 0) and self.child is not None:
            return self.child.request({**msg, "sizes": self.files()[1]}, self.base)
        return self.peek({**msg, "sizes": self.files()[1]})

    def _reap_exiting(self) -> None:
        while self.exiting:
            self.exiting.pop().wait_exit()

    def quit(self) -> None:
        """End the sequence: kill the child and close every descriptor."""
        if self.child is not None:
            self.child.kill()
            self.child = None
        self._reap_exiting()
        for fd in [*self.fds.values(), *self.observers.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)


def _read_maps() -> str:
    fd = os.open("/proc/self/maps", os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", "replace")


def main(config: dict[str, Any], read_fd: int = 0, write_fd: int = 1,
         go_fd: int | None = None) -> None:
    """Entry point of a freshly forked actor: set up, wait for ``go_fd``, announce, serve, exit.

    The window is reserved and the code paths of a step are run once before
    the wait, so that a started actor answers its first step at full speed.
    Nothing is written before the word to go (not even a failure), because
    until then the pipe belongs to the actor that is running.

    An actor that cannot go on (its own bookkeeping failed, e.g. ``EMFILE``
    opening ``/proc/self/maps`` under a low ``RLIMIT_NOFILE``) answers once
    with ``{"harness": why, "fatal": true, "errno": name}`` and then waits for
    one more line before it exits: requests and answers strictly alternate,
    so the zygote's notice of its end must not share the pipe with that answer.
    """
    code = 0
    failure: BaseException | None = None
    actor: Actor | None = None
    try:
        os.setpgid(0, 0)
        _die_with_parent()
        ptrace = _ptrace()
        if ptrace is not None:
            ptrace(siginfo.PTRACE_TRACEME, 0, None, None)
        actor = Actor(config)
        json.loads(json.dumps(actor.snapshot((1 << actor.arena_pages) - 1, {})))
    except BaseException as exc:
        failure = exc
    try:
        if go_fd is not None:
            started = os.read(go_fd, 1)
            os.close(go_fd)
            if not started:
                return
        if failure is not None or actor is None:
            raise RuntimeError("setting up failed") from failure
        write_line(write_fd, {"ready": actor.base, "page_size": actor.page_size})
        actor.serve(read_fd, write_fd)
    except BaseException as exc:
        code = 70
        with contextlib.suppress(BaseException):
            write_line(write_fd, {"harness": f"the actor failed: {failure_text(exc)}",
                                  "fatal": True, "errno": _errno_of(exc)})
            read_line(read_fd, time.monotonic() + FATAL_LINGER_S)
    finally:
        os._exit(code)


def _errno_of(exc: BaseException) -> str | None:
    """Return the errno name of the OSError behind ``exc`` (itself or a cause), else None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return libc.errno_name(seen)
        seen = seen.__cause__ or seen.__context__
    return None


def failure_text(exc: BaseException) -> str:
    """Return why the actor failed, an OSError's errno by name: ``EMFILE (...): '/proc/...'``."""
    if isinstance(exc, OSError) and exc.errno:
        where = f": {exc.filename!r}" if exc.filename is not None else ""
        return f"{libc.errno_name(exc)} ({exc.strerror}){where}"
    cause = exc.__cause__ or exc.__context__
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (from {failure_text(cause)})" if cause is not None else text
