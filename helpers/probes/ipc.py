"""Probes about processes talking to each other, and the second processes other probes use.

Peers: :func:`start_forked` runs a function in a forked child and returns its
JSON result over a pipe; :class:`MappingPeer` is a forked child with a
MAP_SHARED mapping of its own that reads and writes it on request;
:func:`run_unrelated` runs a probe function in a fresh interpreter (a process
that shares nothing with this one but a name).  Every wait has a deadline,
and a child still running at its deadline is killed and reaped.

:class:`Semaphore` and :class:`MessageQueue` wrap the POSIX semaphore and
message queue calls of :mod:`helpers.libc` in the objects the probes pass
around; System V message queues are plain functions over the same library.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import libc, names
from helpers.probes.pages import Mapping, map_anonymous, map_fd, vma_of

PAGE = libc.PAGE_SIZE
REPO_ROOT = Path(__file__).resolve().parents[2]


class PeerFailed(Exception):
    """A peer process ended without the result it was meant to send."""


# --- bounded waits ---------------------------------------------------------------------------

def _wait_readable(fd: int, deadline: float, what: str) -> None:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        raise TimeoutError(f"{what}: nothing arrived before the deadline")


def read_exactly(fd: int, n: int, timeout: float, what: str = "peer") -> bytes:
    """Return ``n`` bytes read from ``fd``; TimeoutError past ``timeout``, EOFError on EOF."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while len(data) < n:
        _wait_readable(fd, deadline, what)
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise EOFError(f"{what}: end of stream after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def read_to_end(fd: int, timeout: float, what: str = "peer") -> bytes:
    """Return everything read from ``fd`` until EOF, within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while True:
        _wait_readable(fd, deadline, what)
        chunk = os.read(fd, 65536)
        if not chunk:
            return bytes(data)
        data += chunk


def reap(pid: int, timeout: float) -> int:
    """Return the exit code of child ``pid`` (minus the signal number if killed).

    Waits at most ``timeout`` seconds, on the child's pidfd: a child still
    running then is killed with SIGKILL, reaped, and TimeoutError raised.
    """
    pidfd = os.pidfd_open(pid)
    try:
        ended = bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)
    if not ended:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise TimeoutError(f"child {pid} still ran after {timeout} s; killed it")
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# --- forked peers ----------------------------------------------------------------------------

def _payload_of(fn: Callable[..., Any], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"value": fn(*args, **kwargs)}
    except BaseException as exc:  # reported to the parent, which decides
        return {"error": f"{type(exc).__name__}: {exc}", "errno": libc.errno_name(exc)
                if isinstance(exc, OSError) else None}


@dataclass
class Forked:
    """A forked child running a function; :meth:`result` returns what it returned."""

    pid: int
    results: int

    def result(self, timeout: float = 5.0) -> Any:
        """Return the child's JSON result; raise PeerFailed if it raised or died."""
        try:
            data = read_to_end(self.results, timeout, f"forked child {self.pid}")
        finally:
            os.close(self.results)
            code = reap(self.pid, timeout)
        if not data:
            raise PeerFailed(f"forked child {self.pid} sent nothing (exit code {code})")
        payload = json.loads(data)
        if "error" in payload:
            raise PeerFailed(f"forked child {self.pid}: {payload['error']}")
        return payload["value"]


def start_forked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Forked:
    """Fork a child that runs ``fn(*args, **kwargs)`` and sends back its JSON result."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            os.close(read_end)
            data = json.dumps(_payload_of(fn, args, kwargs), default=repr).encode()
            while data:
                data = data[os.write(write_end, data):]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return Forked(pid, read_end)


_REQUEST = struct.Struct("=cQI")


class MappingPeer:
    """A forked child that maps a file or shm object MAP_SHARED itself and serves accesses.

    The child opens ``target`` on its own, a path (``kind="file"``) or a shm
    name (``kind="shm"``), maps ``length`` bytes, touches every page, and
    then answers read and write requests over a pipe until told to stop.
    """

    def __init__(self, kind: str, target: str, length: int) -> None:
        requests_r, self._requests = os.pipe()
        self._answers, answers_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(self._requests)
                os.close(self._answers)
                self._serve(kind, target, length, requests_r, answers_w)
                code = 0
            finally:
                os._exit(code)
        os.close(requests_r)
        os.close(answers_w)
        try:
            ready = read_exactly(self._answers, 8, 5.0, "mapping peer")
        except (EOFError, TimeoutError):
            self.stop()  # reaps the child, which failed to map
            raise
        self.addr = struct.unpack("=Q", ready)[0]

    @staticmethod
    def _serve(kind: str, target: str, length: int, requests: int, answers: int) -> None:
        fd = libc.shm_open(target, os.O_RDWR) if kind == "shm" else os.open(target, os.O_RDWR)
        addr = libc.mmap(0, length, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
        for offset in range(0, length, PAGE):
            libc.load(addr + offset)
        os.write(answers, struct.pack("=Q", addr))
        while True:
            op, offset, n = _REQUEST.unpack(read_exactly(requests, _REQUEST.size, 10.0))
            if op == b"r":
                os.write(answers, libc.read_bytes(addr + offset, n))
            elif op == b"w":
                libc.write_bytes(addr + offset, read_exactly(requests, n, 10.0))
                os.write(answers, b"k")
            else:
                return

    def read(self, offset: int, n: int) -> bytes:
        """Return ``n`` bytes the peer reads at ``offset`` of its own mapping."""
        os.write(self._requests, _REQUEST.pack(b"r", offset, n))
        return read_exactly(self._answers, n, 5.0, "mapping peer")

    def write(self, offset: int, data: bytes) -> None:
        """Have the peer store ``data`` at ``offset`` of its own mapping."""
        os.write(self._requests, _REQUEST.pack(b"w", offset, len(data)) + data)
        read_exactly(self._answers, 1, 5.0, "mapping peer")

    def stop(self) -> int:
        """Tell the peer to exit; return its exit code."""
        with contextlib.suppress(OSError):
            os.write(self._requests, _REQUEST.pack(b"q", 0, 0))
        os.close(self._requests)
        os.close(self._answers)
        return reap(self.pid, 5.0)


# --- unrelated processes ---------------------------------------------------------------------

def run_unrelated(fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
    """Return ``fn(*args)`` computed in a fresh interpreter that shares nothing with us.

    ``fn`` is a module-level function of a ``helpers.probes`` module; the
    arguments travel as JSON (bytes as hex are the caller's business).
    """
    target = f"{fn.__module__}:{fn.__qualname__}"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "helpers.probes.ipc", target, json.dumps(args)],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, check=False)
    try:
        payload = json.loads(done.stdout)
    except ValueError:
        tail = done.stderr.decode(errors="replace")[-400:]
        raise PeerFailed(f"unrelated process for {target} exited {done.returncode}: "
                         f"{tail}") from None
    if "error" in payload:
        raise PeerFailed(f"unrelated process for {target}: {payload['error']}")
    return payload["value"]


def _main(argv: list[str]) -> int:
    """Run ``module:function`` from argv with JSON arguments; print its JSON result."""
    target, raw_args = argv
    module, _, function = target.partition(":")
    if not module.startswith("helpers.probes."):
        raise SystemExit(f"refusing to run {target!r}: only helpers.probes functions")
    fn = getattr(importlib.import_module(module), function)
    sys.stdout.write(json.dumps(_payload_of(fn, tuple(json.loads(raw_args)), {}), default=repr))
    return 0


# --- POSIX semaphores and message queues, System V message queues ---------------------------

def deadline_after(seconds: float) -> libc.Timespec:
    """Return the CLOCK_REALTIME instant ``seconds`` from now, as the *timed* calls want it."""
    whole, frac = divmod(time.time() + seconds, 1.0)
    return libc.Timespec(int(whole), int(frac * 1e9))


class Semaphore:
    """A process-shared POSIX semaphore at ``addr`` in shared memory.

    :meth:`create` initialises one (``sem_init`` with pshared=1); a process
    that inherited or mapped the memory wraps the same address with
    ``Semaphore(addr)``.
    """

    def __init__(self, addr: int) -> None:
        self.addr = addr

    @classmethod
    def create(cls, addr: int, value: int = 0) -> Semaphore:
        """Return a new semaphore initialised at ``addr`` with ``value``."""
        libc.sem_init(addr, 1, value)
        return cls(addr)

    def post(self) -> None:
        """Increment the semaphore, waking one waiter."""
        libc.sem_post(self.addr)

    def wait(self, deadline: libc.Timespec) -> None:
        """Decrement the semaphore, waiting until ``deadline`` at most (ETIMEDOUT after)."""
        libc.sem_timedwait(self.addr, deadline)

    def destroy(self) -> None:
        """Destroy the semaphore (no process may be waiting on it)."""
        libc.sem_destroy(self.addr)


class MessageQueue:
    """A POSIX message queue descriptor (``mq_open``)."""

    def __init__(self, name: str, flags: int, *, maxmsg: int = 0, msgsize: int = 0) -> None:
        attr = libc.MqAttr(0, maxmsg, msgsize, 0) if maxmsg else None
        self.name = name
        self.msgsize = msgsize
        self.mqd = libc.mq_open(name, flags, 0o600, attr)

    def send(self, data: bytes, deadline: libc.Timespec) -> None:
        """Send ``data`` (priority 0), waiting for room until ``deadline`` at most."""
        libc.mq_timedsend(self.mqd, data, deadline)

    def receive(self, size: int, deadline: libc.Timespec) -> bytes:
        """Return the oldest message, waiting until ``deadline`` at most."""
        return libc.mq_timedreceive(self.mqd, size, deadline)

    def close(self) -> None:
        """Close the descriptor."""
        libc.mq_close(self.mqd)

    @staticmethod
    def unlink(name: str) -> None:
        """Remove the queue's name."""
        libc.mq_unlink(name)


IPC_NOWAIT = libc.CONSTANTS["IPC_NOWAIT"]
IPC_CREATE_NEW = libc.CONSTANTS["IPC_CREAT"] | libc.CONSTANTS["IPC_EXCL"]


def remove_message_queue(key: int) -> bool:
    """Remove the System V message queue with ``key`` if there is one; return whether there was."""
    try:
        queue = libc.msgget(key, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        libc.msgctl_rmid(queue)
    return True


def sysv_message_send(queue: int, data: bytes) -> None:
    """Send ``data`` as a type-1 message on System V queue ``queue`` (never waits)."""
    libc.msgsnd(queue, data, IPC_NOWAIT, mtype=1)


def sysv_message_receive(queue: int, size: int) -> bytes:
    """Return the first message of System V queue ``queue`` (ENOMSG at once if none)."""
    return libc.msgrcv(queue, size, IPC_NOWAIT, mtype=0)


# --- probes ----------------------------------------------------------------------------------

#: Bound on each wait of the pipe-versus-mapping probe (none of them ends it normally).
_HANDSHAKE_S = 10.0


def _write_when_told(path: str, go: int, pipe: int, token: bytes, flag_addr: int) -> str:
    """Wait for the go signal; then raise the shared flag, store ``token`` and pipe it."""
    read_exactly(go, 1, 2 * _HANDSHAKE_S, "go signal")
    ctypes.c_long.from_address(flag_addr).value = 1  # before anything is written
    mapping = map_fd(os.open(path, os.O_RDWR), PAGE, "libc")
    mapping.write(0, token)
    os.write(pipe, token)
    return "written"


def _read_pipe(ready: int, pipe: int, flag_addr: int) -> dict[str, Any]:
    """Say ready, then read the pipe once; return the data and whether the writer had begun."""
    os.write(ready, b"r")
    data = os.read(pipe, 64)  # blocking, as the document's pipe reader
    written = bool(ctypes.c_long.from_address(flag_addr).value)
    return {"data": data.hex(), "writer_had_written": written}


def _load_mapping(ready: int, mapping: Mapping, n: int, flag_addr: int) -> dict[str, Any]:
    """Say ready, then load ``n`` bytes from ``mapping``; return them and whether writing began."""
    os.write(ready, b"m")
    data = mapping.read(0, n)
    written = bool(ctypes.c_long.from_address(flag_addr).value)
    return {"data": data.hex(), "writer_had_written": written}


def _wait_until_asleep(pid: int, timeout: float) -> str:
    """Wait, bounded, until process ``pid`` sleeps (state S) or has ended; say which.

    Returns the kernel function it sleeps in (``/proc/PID/wchan``, e.g.
    ``pipe_read``; ``asleep`` where the kernel hides it), ``ended``, or
    ``still running`` when ``timeout`` passed first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return "ended"
        if state in ("Z", "X"):
            return "ended"
        if state == "S":
            with contextlib.suppress(OSError):
                wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
                if wchan and wchan != "0":
                    return wchan
            return "asleep"
        os.sched_yield()
    return "still running"


def pipe_versus_mapping(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Read an empty pipe and a shared mapping of ``path`` while the writer is held back.

    The writer (forked) waits for a go signal; then it raises a flag in
    shared memory and only after that stores ``token`` into its own mapping
    of ``path`` and writes it to the pipe.  Two readers (forked), one that
    loads from this process's mapping and one that reads the pipe, are each
    asleep or done before the go: the same footing, so a load that waited
    for the writer as the pipe's read does would show it.  Each read notes
    whether the flag was up when it returned: down means it returned before
    any writer wrote.  Also returns a non-blocking read of the empty pipe
    and what both carry afterwards.
    """
    flag = libc.mmap(0, PAGE, libc.PROT_READ | libc.PROT_WRITE,
                     libc.MAP_SHARED | libc.MAP_ANONYMOUS)
    mapping = map_fd(os.open(path, os.O_RDWR), PAGE, layer)
    data_r, data_w = os.pipe()
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    writer = start_forked(_write_when_told, path, go_r, data_w, token, flag)
    os.close(data_w)
    os.close(go_r)
    try:
        loader = start_forked(_load_mapping, ready_w, mapping, len(token), flag)
        read_exactly(ready_r, 1, _HANDSHAKE_S, "mapping reader")
        loader_state = _wait_until_asleep(loader.pid, _HANDSHAKE_S)
        os.set_blocking(data_r, False)
        try:
            os.read(data_r, 64)
            nonblocking = "returned data"
        except BlockingIOError as exc:
            nonblocking = libc.errno_name(exc)
        os.set_blocking(data_r, True)
        reader = start_forked(_read_pipe, ready_w, data_r, flag)
        read_exactly(ready_r, 1, _HANDSHAKE_S, "pipe reader")
        reader_state = _wait_until_asleep(reader.pid, _HANDSHAKE_S)
        os.write(go_w, b"g")
        piped = reader.result(timeout=_HANDSHAKE_S)
        loaded = loader.result(timeout=_HANDSHAKE_S)
        late = mapping.read(0, len(token))
        writer.result(timeout=_HANDSHAKE_S)
    finally:
        for fd in (go_w, ready_r, ready_w, data_r):
            os.close(fd)
    early = bytes.fromhex(loaded["data"])
    return {"pipe_nonblocking_read": nonblocking,
            "pipe_reader_when_writer_released": reader_state,
            "mapping_reader_when_writer_released": loader_state,
            "pipe_read_returned_before_write": not piped["writer_had_written"],
            "mapping_read_returned_before_write": not loaded["writer_had_written"],
            "mapping_read_before_peer": early.hex(),
            "mapping_read_before_peer_is_zero": early == bytes(len(early)),
            "pipe_after_peer": piped["data"], "mapping_after_peer": late.hex()}


def _increment(addr: int, sem_addr: int | None, times: int, start: int, me: int) -> int:
    counter = ctypes.c_long.from_address(addr)
    read_exactly(start, 1, 5.0, "start signal")
    # Both racers start together: each raises its own flag and waits for the other's, so
    # the first cannot finish before the second is even running.
    flags = (ctypes.c_long * 2).from_address(addr + 128)
    flags[me] = 1
    deadline = time.monotonic() + 5.0
    while not flags[1 - me]:
        if time.monotonic() > deadline:
            raise TimeoutError("the other racer never started")
    if sem_addr is None:
        for _ in range(times):
            counter.value += 1  # a load, an add and a store: not atomic
        return times
    sem = Semaphore(sem_addr)
    deadline = deadline_after(10.0)
    for _ in range(times):
        sem.wait(deadline)
        counter.value += 1
        sem.post()
    return times


def racing_increments(times: int, *, locked: bool) -> dict[str, Any]:
    """Two forked processes each add 1 to a shared counter ``times`` times, at once.

    With ``locked`` each increment is inside ``sem_wait``/``sem_post`` on a
    process-shared semaphore.  The two start together (each waits, bounded,
    until the other is running).  Returns the final count and how many
    increments were lost.
    """
    region = libc.mmap(0, PAGE, libc.PROT_READ | libc.PROT_WRITE,
                       libc.MAP_SHARED | libc.MAP_ANONYMOUS)
    sem = Semaphore.create(region + 64, 1) if locked else None
    start_r, start_w = os.pipe()
    racers = [start_forked(_increment, region, sem.addr if sem else None, times, start_r, me)
              for me in range(2)]
    os.write(start_w, b"gg")
    done = [racer.result(timeout=20.0) for racer in racers]
    final = ctypes.c_long.from_address(region).value
    if sem is not None:
        sem.destroy()
    return {"increments": sum(done), "final": final, "lost": sum(done) - final}


def _first_message(receive: Callable[[], bytes]) -> str:
    """Return what ``receive`` got, hex, or the name of the error that kept it from a message."""
    try:
        return receive().hex()
    except OSError as exc:
        return libc.errno_name(exc)


def _posix_message(name: str, size: int) -> bytes:
    queue = MessageQueue(name, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return queue.receive(size, deadline_after(1.0))
    finally:
        queue.close()


def receive_messages(name: str, key: int, size: int) -> dict[str, str]:
    """Return the first message of POSIX queue ``name`` and of System V queue ``key``, hex.

    The unrelated side of :func:`message_to_unrelated`: it knows the queues
    only by name and key.  Neither receive waits (the messages were sent
    before this process started).  A queue it cannot find or read gives the
    error's name instead of a message: that is what it received.
    """
    return {"posix": _first_message(lambda: _posix_message(name, size)),
            "sysv": _first_message(
                lambda: sysv_message_receive(libc.msgget(key, 0), size))}


def message_to_unrelated(name: str, key: int, token: bytes) -> dict[str, Any]:
    """Send ``token`` on a new POSIX queue ``name`` and a new System V queue ``key``.

    An unrelated process (a fresh interpreter) then receives from both.
    Returns what it received per facility (hex), and per facility whether
    that was ``token``.  Both queues are removed.
    """
    queue = MessageQueue(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, maxmsg=4, msgsize=64)
    try:
        queue.send(token, deadline_after(1.0))
        queue.close()
        sysv = libc.msgget(key, IPC_CREATE_NEW | 0o600)
        try:
            sysv_message_send(sysv, token)
            messages = dict(run_unrelated(receive_messages, name, key, 64))
            return {"messages": messages,
                    "received": {k: v == token.hex() for k, v in messages.items()}}
        finally:
            libc.msgctl_rmid(sysv)
    finally:
        with contextlib.suppress(OSError):
            MessageQueue.unlink(name)


def no_file_from_mmap(path: str, layer: str) -> dict[str, Any]:
    """Make file-backed and anonymous mappings; return the directory and inode counts around.

    Also returns what ``mmap`` without a descriptor and without
    MAP_ANONYMOUS does (it needs an existing file: EBADF).
    """
    directory = os.path.dirname(path)
    before, free_before = sorted(os.listdir(directory)), os.statvfs(directory).f_ffree
    fd = os.open(path, os.O_RDWR)
    made = [map_fd(fd, PAGE, layer), map_anonymous(PAGE, layer),
            map_anonymous(PAGE, layer, shared=True)]
    for mapping in made:
        mapping.write(0, b"x")
    after, free_after = sorted(os.listdir(directory)), os.statvfs(directory).f_ffree
    try:
        libc.mmap(0, PAGE, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, -1, 0)
        without_fd = "maps"
    except OSError as exc:
        without_fd = libc.errno_name(exc)
    return {"entries_before": before, "entries_after": after,
            "new_entries": len(set(after) - set(before)),
            "free_inodes_before": free_before, "free_inodes_after": free_after,
            "mmap_without_fd": without_fd}


def _store_token(addr: int, token: bytes) -> str:
    libc.write_bytes(addr, token)
    return "stored"


def _maps_name(addr: int) -> str:
    return str(vma_of(addr)["name"])


def shared_memory_kinds(path: str, shm: str, key: int, token: bytes) -> dict[str, Any]:
    """Share one page between this process and a forked child through each interface.

    Interfaces: a System V segment (``shmget``/``shmat``), a file mapping, a
    POSIX shm object (``shm_open`` + ``mmap``), a shared anonymous mapping
    and a ``memfd_create`` object.  Returns per interface whether the
    child's store was seen here, the call that attached the memory and the
    name ``/proc/self/maps`` gives the mapping, or why it could not be made;
    and, over the interfaces that worked, how many there were and the calls
    that attached them (``"mmap+shmat"``).
    """
    rw = libc.PROT_READ | libc.PROT_WRITE
    results: dict[str, Any] = {}

    def attach(kind: str) -> tuple[int, str]:
        if kind == "System V shmget/shmat":
            segment = libc.shmget(key, PAGE, IPC_CREATE_NEW | 0o600)
            try:
                return libc.shmat(segment), "shmat"
            finally:
                libc.shmctl_rmid(segment)  # goes when the last attachment does
        if kind == "POSIX shm_open + mmap":
            fd = libc.shm_open(shm, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            libc.shm_unlink(shm)
            os.ftruncate(fd, PAGE)
        elif kind == "memfd_create + mmap":
            if not hasattr(os, "memfd_create"):
                raise libc.Unsupported("memfd_create")
            fd = os.memfd_create(names.unique_name("kinds"))
            os.ftruncate(fd, PAGE)
        elif kind == "file mmap MAP_SHARED":
            fd = os.open(path, os.O_RDWR)
        else:
            return libc.mmap(0, PAGE, rw, libc.MAP_SHARED | libc.MAP_ANONYMOUS), "mmap"
        return libc.mmap(0, PAGE, rw, libc.MAP_SHARED, fd, 0), "mmap"

    for kind in ("System V shmget/shmat", "file mmap MAP_SHARED", "POSIX shm_open + mmap",
                 "MAP_SHARED|MAP_ANONYMOUS", "memfd_create + mmap"):
        try:
            addr, call = attach(kind)
        except (OSError, libc.Unsupported) as exc:
            results[kind] = {"works": False, "why": str(exc)}
            continue
        start_forked(_store_token, addr, token).result()
        results[kind] = {"works": libc.read_bytes(addr, len(token)) == token,
                         "attached_by": call, "maps_name": _maps_name(addr)}
    working = [kind for kind, result in results.items() if result["works"]]
    calls = sorted({results[kind]["attached_by"] for kind in working})
    return {"kinds": results, "working": len(working), "attach_calls": "+".join(calls)}


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
