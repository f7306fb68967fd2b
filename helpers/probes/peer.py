"""An unrelated process that maps files and answers requests: the "other program".

The documents' claims about unrelated processes ("another process that maps
the same file sees the change") need a process that shares no ancestry with
the mapping's creator after the mapping exists: a fresh interpreter started
by ``subprocess``.  :class:`Peer` starts one (``python -S`` running
:func:`serve`, so it imports nothing but the standard modules below)
and talks to it over its stdin and stdout, one request line and one answer
line at a time.  Each answer is a happens-before edge: what the peer reads
after a request was stored before the request was sent.

Requests (words separated by single spaces; bytes in hex):

``map <layer> <path> <open mode> <MAP_SHARED|MAP_PRIVATE> <r|rw> <length> <offset>``
    map through ``libc`` (ctypes) or ``pymmap`` (Python's mmap); answers ``ok <id>``.
    The path goes as the hex of its bytes: a Linux path may hold spaces, tabs,
    newlines and bytes that are not UTF-8, none of which may split a word or a line.
``read <id> <at> <n>`` / ``cstring <id> <at>``
    answer ``ok <hex>``: ``n`` bytes, or the bytes up to the first NUL
``write <id> <at> <hex>``
    store the bytes; answers ``ok``
``await <id> <at> <hex> <seconds>``
    answer ``ok spinning``, then spin until the bytes appear (``ok <nanoseconds>``) or
    the time is up (``timeout <hex>``)

A failed call answers ``err <ERRNO or exception name>``; a fault kills the
peer, which the client reports as :class:`PeerDied` with the signal's name.
End of input ends the peer.
"""

from __future__ import annotations

import ctypes
import errno
import mmap as pymmap
import os
import sys
import time

# Importing typing costs a fresh interpreter milliseconds: its names are for checkers only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO

_OPEN = {"O_RDONLY": os.O_RDONLY, "O_RDWR": os.O_RDWR, "O_WRONLY": os.O_WRONLY}
_FLAGS = {"MAP_SHARED": pymmap.MAP_SHARED, "MAP_PRIVATE": pymmap.MAP_PRIVATE}
_PROT = {"r": pymmap.PROT_READ, "rw": pymmap.PROT_READ | pymmap.PROT_WRITE}


# --- the peer's side -------------------------------------------------------------------------

class _Memory:
    """One mapping of the peer, accessed through the layer that made it."""

    def __init__(self, addr: int, handle: pymmap.mmap | None) -> None:
        self.addr, self.handle = addr, handle

    def read(self, at: int, n: int) -> bytes:
        """Return ``n`` bytes at offset ``at``."""
        if self.handle is not None:  # Python's mmap: slices, with its bounds checks
            return self.handle[at:at + n]
        return ctypes.string_at(self.addr + at, n)

    def cstring(self, at: int) -> bytes:
        """Return the bytes from ``at`` up to the first NUL."""
        if self.handle is not None:
            end = self.handle.find(b"\0", at)
            return self.handle[at:end if end >= 0 else len(self.handle)]
        return ctypes.string_at(self.addr + at)

    def write(self, at: int, data: bytes) -> None:
        """Store ``data`` at offset ``at``."""
        if self.handle is not None:
            self.handle[at:at + len(data)] = data
        else:
            ctypes.memmove(self.addr + at, data, len(data))


def _release(fd: int) -> None:
    """Close ``fd`` after mapping it; only EBADF, a descriptor never held, is raised.

    close(2): Linux releases the descriptor before it can report a deferred
    error (EIO, ENOSPC, EDQUOT, EINTR) and keeps the file's mappings, so such
    an error must not fail the mapping this process was asked for.  (The
    probes' own helpers.probes.release; this module imports no helpers.)
    """
    try:
        os.close(fd)
    except OSError as exc:
        if exc.errno == errno.EBADF:
            raise


class _Mappings:
    """The peer's mappings, by id (their index)."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.mmap.restype = ctypes.c_void_p
        self._libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                    ctypes.c_int, ctypes.c_int, ctypes.c_int64]
        self.memory: list[_Memory] = []

    def map(self, layer: str, path: str, mode: str, flags: str, prot: str, length: str,
            offset: str) -> str:
        """Map through ``layer`` (words as the request spells them); return the new id.

        ``path`` is the hex of the path's bytes, opened as bytes: never decoded, so a
        name that is not UTF-8 opens the very file the client named.
        """
        fd = os.open(bytes.fromhex(path), _OPEN[mode])
        try:
            if layer == "pymmap":
                mapped = pymmap.mmap(fd, int(length), flags=_FLAGS[flags], prot=_PROT[prot],
                                     offset=int(offset))
                memory = _Memory(0, mapped)
            else:
                result = self._libc.mmap(None, int(length), _PROT[prot], _FLAGS[flags], fd,
                                         int(offset))
                if result is None or result == ctypes.c_void_p(-1).value:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
                memory = _Memory(result, None)
        finally:
            _release(fd)
        self.memory.append(memory)
        return str(len(self.memory) - 1)

    def __getitem__(self, ident: str) -> _Memory:
        return self.memory[int(ident)]


def _answer(mappings: _Mappings, words: list[str], say: Callable[[str], None]) -> str:
    """Return the answer line to one request (``say`` sends an interim line first)."""
    verb, args = words[0], words[1:]
    if verb == "map":
        return "ok " + mappings.map(*args)
    memory, at = mappings[args[0]], int(args[1])
    if verb == "read":
        return "ok " + memory.read(at, int(args[2])).hex()
    if verb == "cstring":
        return "ok " + memory.cstring(at).hex()
    if verb == "write":
        memory.write(at, bytes.fromhex(args[2]))
        return "ok"
    if verb == "await":
        want = bytes.fromhex(args[2])
        say("ok spinning")
        start = time.monotonic_ns()
        deadline = start + int(float(args[3]) * 1e9)
        while (seen := memory.read(at, len(want))) != want:
            if time.monotonic_ns() > deadline:
                return "timeout " + seen.hex()
        return f"ok {time.monotonic_ns() - start}"
    raise ValueError(f"unknown request {verb!r}")


def serve(requests: IO[str] | None = None, answers: IO[str] | None = None) -> None:
    """Answer requests (stdin by default) line by line until end of input."""
    requests = requests or sys.stdin
    out = answers or sys.stdout
    mappings = _Mappings()

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    for line in requests:
        words = line.split()
        try:
            reply = _answer(mappings, words, say) if words else "err empty request"
        except OSError as exc:
            reply = f"err {errno.errorcode.get(exc.errno or 0, 'OSError')}"
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            reply = f"err {type(exc).__name__}"
        say(reply)


# --- the client's side -----------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PeerError(Exception):
    """The peer's call failed; ``name`` is the errno or exception name it answered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)


class PeerDied(Exception):
    """The peer ended without answering; ``signal`` is what killed it (None: it exited)."""

    def __init__(self, signal: str | None, code: int | None) -> None:
        self.signal, self.code = signal, code
        super().__init__(f"the peer died of {signal}" if signal else f"the peer exited {code}")


#: What the fresh interpreter runs: ``-m`` would cost runpy's imports.
_START = "from helpers.probes.peer import serve; serve()"


class Peer:
    """A fresh interpreter that maps files on request; a context manager that reaps it."""

    def __init__(self, timeout: float = 10.0) -> None:
        import subprocess

        self.timeout = timeout
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _START], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._buffer = b""

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int:
        """Return the peer's process id."""
        return self._proc.pid

    def ask(self, *words: object) -> str:
        """Send one request and return the answer after ``ok`` (or raise PeerError/PeerDied)."""
        self.request(*words)
        return self.reply(str(words[0]))

    def request(self, *words: object) -> None:
        """Send one request without waiting for its answer (see :meth:`reply`).

        Raises ValueError for a word that is empty or holds whitespace: the peer
        splits a line into words at whitespace, so such a word would arrive as
        several (or none).  Free text such as a path goes hex-encoded (:meth:`map`).
        """
        import contextlib

        assert self._proc.stdin is not None
        line = " ".join(_word(w) for w in words) + "\n"
        # A peer that died already breaks the pipe: the next reply says how it died.
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.write(line.encode())

    def reply(self, what: str = "request") -> str:
        """Return the next answer line after ``ok``; raise PeerError, PeerDied or TimeoutError."""
        import select

        assert self._proc.stdout is not None
        deadline = time.monotonic() + self.timeout
        out = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([out], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError(f"peer: no answer to {what} within {self.timeout} s")
            chunk = os.read(out, 4096)
            if not chunk:
                code = self._wait()
                raise PeerDied(_signal_name(-code) if code < 0 else None, code)
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        status, _, rest = line.decode().partition(" ")
        if status == "err":
            raise PeerError(rest)
        if status == "timeout":
            raise TimeoutError(f"peer: {what} saw only {rest}")
        return rest

    def map(self, path: str | bytes | os.PathLike[str] | os.PathLike[bytes], *,
            mode: str = "O_RDWR", flags: str = "MAP_SHARED", prot: str = "rw", length: int,
            offset: int = 0, layer: str = "libc") -> int:
        """Map ``path`` in the peer; return the mapping's id there.

        Any path Linux allows goes through intact (spaces, newlines, bytes that
        are not UTF-8): it travels as the hex of ``os.fsencode(path)``.
        """
        encoded = os.fsencode(path).hex()
        return int(self.ask("map", layer, encoded, mode, flags, prot, length, offset))

    def read(self, ident: int, at: int, n: int) -> bytes:
        """Return ``n`` bytes the peer reads at offset ``at`` of its mapping ``ident``."""
        return bytes.fromhex(self.ask("read", ident, at, n))

    def cstring(self, ident: int, at: int = 0) -> bytes:
        """Return the NUL-terminated string the peer reads at ``at``, as C's ``%s`` would."""
        return bytes.fromhex(self.ask("cstring", ident, at))

    def write(self, ident: int, at: int, data: bytes) -> None:
        """Have the peer store ``data`` at offset ``at`` of its mapping ``ident``."""
        self.ask("write", ident, at, data.hex())

    def await_bytes(self, ident: int, at: int, data: bytes, seconds: float = 2.0, *,
                    then: Callable[[], object] | None = None) -> int:
        """Have the peer spin until ``data`` shows at ``at``; return the nanoseconds it spun.

        ``then`` runs once the peer has started spinning (e.g. the store it
        waits for), so the time measures how long the store took to show.
        """
        self.request("await", ident, at, data.hex(), seconds)
        self.reply("await")  # "spinning"
        if then is not None:
            then()
        return int(self.reply("await"))

    def close(self) -> int:
        """End the peer (end of input) and return its exit status, killing it if it lingers."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        return self._wait()

    def _wait(self) -> int:
        import subprocess

        try:
            return self._proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait(timeout=self.timeout)
        finally:
            if self._proc.stdout is not None:
                self._proc.stdout.close()


def _word(value: object) -> str:
    """Return ``value`` as one word of a request; raise ValueError if it would not stay one."""
    word = str(value)
    if not word or any(c.isspace() for c in word):
        raise ValueError(f"peer request word {word!r} is empty or holds whitespace, which "
                         "would split the request; send free text as hex")
    return word


def _signal_name(number: int) -> str:
    """Return ``"SIGBUS"`` for the signal number ``number``."""
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
