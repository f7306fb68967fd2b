"""Probes about fork: what a child inherits of the parent's mappings, and what it does not.

Also the one place where probes fork: :func:`spawn` runs a function in a
forked child joined to the parent by a :class:`Link` (two pipes carrying
JSON lines), and :meth:`Forked.wait` reaps it.  Every wait is bounded: a
``select`` on a pipe or on the child's pidfd, with a timeout.
"""

from __future__ import annotations

import ctypes
import json
import mmap as pymmap
import os
import select
import signal
from collections.abc import Callable
from typing import Any

from helpers import libc
from helpers.probes import release
from helpers.probes.regions import describe_at

RW = libc.PROT_READ | libc.PROT_WRITE


# --- forking with bounded waits --------------------------------------------------------------

class Link:
    """One end of a pair of pipes between a forked parent and child; messages are JSON lines."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read, self._write, self._buffer = read_fd, write_fd, b""

    def send(self, message: Any) -> None:
        """Send ``message`` (JSON-able) to the other side."""
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self._write, data):]

    def recv(self, timeout: float = 10.0) -> Any:
        """Return the next message; raise EOFError if the other side is gone, TimeoutError."""
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], timeout)
            if not ready:
                raise TimeoutError(f"no message within {timeout} s")
            chunk = os.read(self._read, 65536)
            if not chunk:
                raise EOFError("the other side closed the link")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        """Close both pipe ends."""
        for fd in (self._read, self._write):
            release(fd)


def ended(status: int) -> str:
    """Return how a wait status ended: ``"exit 0"`` or the signal's name (``"SIGSEGV"``)."""
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return f"exit {os.WEXITSTATUS(status)}"


def reap(pid: int, timeout: float = 10.0) -> str:
    """Wait at most ``timeout`` s for child ``pid`` and return :func:`ended` of it.

    A child still running at the deadline is killed and reaped, and
    TimeoutError is raised: a probe never hangs on a lost child.
    """
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        release(pidfd)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise TimeoutError(f"child {pid} did not end within {timeout} s")
    return ended(os.waitpid(pid, 0)[1])


class Forked:
    """A forked child running a function: its pid and the parent's end of the link."""

    def __init__(self, pid: int, link: Link) -> None:
        self.pid, self.link = pid, link

    def wait(self, timeout: float = 10.0) -> str:
        """Close the link, reap the child and return how it ended (see :func:`reap`)."""
        self.link.close()
        return reap(self.pid, timeout)


def spawn(child: Callable[..., Any], *args: Any) -> Forked:
    """Fork; the child runs ``child(link, *args)``, sends its return value, and ``_exit``\\ s.

    The child leaves only through ``os._exit`` (status 0, or 1 if it raised),
    so it never runs the parent's cleanup or reports as the probe.
    """
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            release(down_w)
            release(up_r)
            link = Link(down_r, up_w)
            try:
                link.send({"result": child(link, *args)})
                code = 0
            except Exception as exc:
                link.send({"error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(code)
    release(down_r)
    release(up_w)
    return Forked(pid, Link(up_r, down_w))


def result_of(forked: Forked, timeout: float = 10.0) -> Any:
    """Return the value the child's function returned (skipping messages sent before it).

    Raises RuntimeError with the child's exception when its function raised.
    """
    while True:
        message = forked.link.recv(timeout)
        if isinstance(message, dict) and "error" in message:
            raise RuntimeError(f"the forked child raised {message['error']}")
        if isinstance(message, dict) and "result" in message:
            return message["result"]


# --- mappings in either layer ----------------------------------------------------------------

def address_of(mapped: pymmap.mmap) -> int:
    """Return the address of a Python mmap object's memory (it must be writable)."""
    view = ctypes.c_char.from_buffer(mapped)
    try:
        return ctypes.addressof(view)
    finally:
        del view  # release the export so the mmap object can still be closed


class Mapped:
    """A mapping made through ``libc`` or ``pymmap``; I/O goes through that layer.

    Anonymous when ``fd`` is -1; read-write unless ``writable`` is False
    (libc only: the address of a read-only Python mmap cannot be had).
    """

    def __init__(self, layer: str, length: int, *, fd: int = -1, shared: bool = True,
                 offset: int = 0, writable: bool = True) -> None:
        self.layer, self.length = layer, length
        prot = RW if writable else libc.PROT_READ
        if layer == "pymmap":
            flags = pymmap.MAP_SHARED if shared else pymmap.MAP_PRIVATE
            if fd < 0:
                flags |= pymmap.MAP_ANONYMOUS
            self.handle: pymmap.mmap | None = pymmap.mmap(fd, length, flags=flags, prot=prot,
                                                          offset=offset)
            self.addr = address_of(self.handle)
        else:
            flags = libc.MAP_SHARED if shared else libc.MAP_PRIVATE
            if fd < 0:
                flags |= libc.MAP_ANONYMOUS
            self.handle = None
            self.addr = libc.mmap(0, length, prot, flags, fd, offset)

    def read(self, at: int, n: int) -> bytes:
        """Return ``n`` bytes at offset ``at``."""
        if self.handle is not None:
            return self.handle[at:at + n]
        return libc.read_bytes(self.addr + at, n)

    def write(self, at: int, data: bytes) -> None:
        """Store ``data`` at offset ``at``."""
        if self.handle is not None:
            self.handle[at:at + len(data)] = data
        else:
            libc.write_bytes(self.addr + at, data)

    def sync(self) -> None:
        """Write the whole mapping back: ``msync(MS_SYNC)`` or ``mmap.flush()``."""
        if self.handle is not None:
            self.handle.flush()
        else:
            libc.msync(self.addr, self.length, libc.MS_SYNC)

    def unmap(self) -> None:
        """Remove the mapping: ``munmap`` or ``mmap.close()``."""
        if self.handle is not None:
            self.handle.close()
        else:
            libc.munmap(self.addr, self.length)


# --- probes ----------------------------------------------------------------------------------

def _child_view(link: Link, region: Mapped, token: bytes) -> dict[str, Any]:
    """In the child: report the region as seen here, store ``token``, then read the parent's."""
    seen = {"address": region.addr, "maps": describe_at(region.addr),
            "initial": region.read(0, len(token)).hex()}
    region.write(0, token)
    link.send("stored")
    link.recv()  # the parent has stored its own token at offset 64
    seen["parent_token"] = region.read(64, len(token)).hex()
    return seen


def inherited_mapping(path: str, layer: str, token: bytes) -> dict[str, Any]:
    """Map ``path`` shared, fork, and exchange a token each way through the mapping.

    Returns the parent's and the child's view: the address, the maps line
    the child sees there, what each read of the other's store.  With libc,
    a second mapping marked MADV_DONTFORK before the fork is looked up in
    the child too (it must be absent).
    """
    fd = os.open(path, os.O_RDWR)
    region = Mapped(layer, os.fstat(fd).st_size, fd=fd)
    release(fd)
    region.write(0, b"\0" * len(token))
    dontfork = None
    if layer == "libc":
        dontfork = libc.mmap(0, libc.PAGE_SIZE, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
        libc.madvise(dontfork, libc.PAGE_SIZE, libc.constant("MADV_DONTFORK"))

    def child(link: Link) -> dict[str, Any]:
        view = _child_view(link, region, token)
        view["dontfork_maps"] = describe_at(dontfork) if dontfork else "not tried"
        return view

    forked = spawn(child)
    if forked.link.recv() != "stored":
        raise RuntimeError("the child did not store its token")
    child_token = region.read(0, len(token)).hex()
    region.write(64, token[::-1])
    forked.link.send("go")
    child = result_of(forked)
    status = forked.wait()
    return {"parent_address": region.addr, "child": child, "child_status": status,
            "parent_reads_child_token": child_token, "token": token.hex(),
            "reversed_token": token[::-1].hex(),
            "dontfork_inherited": child.get("dontfork_maps") is not None}


def mapping_made_after_fork(layer: str) -> dict[str, Any]:
    """Fork, then map shared anonymous memory in the parent; the child looks for it.

    The child reports what its ``/proc/self/maps`` holds at the parent's
    address, then loads from that address; the parent returns the child's
    report and how the child ended (``SIGSEGV`` when nothing is mapped).
    """

    def child(link: Link) -> None:
        addr = link.recv()
        link.send({"maps": describe_at(addr)})
        libc.load(addr)  # the parent's mapping is not here: this faults

    forked = spawn(child)
    region = Mapped(layer, libc.PAGE_SIZE)
    region.write(0, b"parent")
    forked.link.send(region.addr)
    report = forked.link.recv()
    status = forked.wait()
    return {"parent_address": region.addr, "parent_maps": describe_at(region.addr),
            "child_maps": report["maps"], "child_status": status}
