"""Probes for propositions of the documents that no other family covers.

Each returns plain data the check observes: whether a private mapping and
its file stay apart, whether another process finds a mapping at the same
address, which kinds of descriptor mmap accepts, what step 5 of the shm
recipe leaves open, what mmap returns, whether a Go declaration compiles, and
the C and memory facts a code comment or an aside of a document states.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from typing import Any

from helpers import libc
from helpers.probes import release
from helpers.probes.fork import Mapped
from helpers.probes.mapping import backing
from helpers.probes.pages import page_entries

PAGE = libc.PAGE_SIZE
RW = libc.PROT_READ | libc.PROT_WRITE
#: Bounds of the processes the probes start: a fresh interpreter, a Go build
#: with an empty cache (it compiles the runtime first).
CHILD_SECONDS, GO_SECONDS = 20.0, 150.0


def private_both_ways(path: str, layer: str) -> dict[str, bool]:
    """Return which way a MAP_PRIVATE mapping of the two-page file ``path`` leaks.

    ``store_reaches_file``: a store through the mapping shows in the file.
    ``file_change_seen_in_untouched_page`` / ``..._written_page``: a pwrite of
    the file after mmap shows through the mapping, in a page the process has
    not written / has written.
    """
    fd = os.open(path, os.O_RDWR)
    view = Mapped(layer, 2 * PAGE, fd=fd, shared=False)
    try:
        view.write(0, b"P")
        stored = os.pread(fd, 1, 0) == b"P"
        os.pwrite(fd, b"U", PAGE)  # page 1: never written through the mapping
        os.pwrite(fd, b"W", 1)  # page 0: already the process's own copy
        return {"store_reaches_file": stored,
                "file_change_seen_in_untouched_page": view.read(PAGE, 1) == b"U",
                "file_change_seen_in_written_page": view.read(1, 1) == b"W"}
    finally:
        view.unmap()
        release(fd)


_LOOK_FOR_TOKEN = textwrap.dedent("""
    import ctypes, sys
    address, token = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
    for line in open("/proc/self/maps"):
        span, perms = line.split()[:2]
        low, high = (int(x, 16) for x in span.split("-"))
        if low <= address < high:
            seen = "r" in perms and ctypes.string_at(address, len(token)) == token
            print("seen" if seen else "mapped-other")
            break
    else:
        print("unmapped")
""")


def token_at_same_address_elsewhere() -> dict[str, Any]:
    """Return what a freshly started process finds at the address of our mapping.

    The mapping holds a random token; ``found`` is ``seen`` (the token is
    there), ``mapped-other`` (something else is mapped there) or ``unmapped``.
    """
    token = secrets.token_bytes(16)
    base = libc.mmap(0, PAGE, RW, libc.MAP_SHARED | libc.MAP_ANONYMOUS)
    try:
        libc.write_bytes(base, token)
        done = subprocess.run([sys.executable, "-c", _LOOK_FOR_TOKEN, str(base), token.hex()],
                              capture_output=True, text=True, timeout=CHILD_SECONDS, check=True)
        found = done.stdout.strip()
        return {"found": found, "token_seen": found == "seen", "address": hex(base)}
    finally:
        libc.munmap(base, PAGE)


def _descriptor(kind: str, path: str | None, shm_name: str | None) -> int:
    if kind == "open-disk-file":
        assert path is not None
        return os.open(path, os.O_RDWR)
    if kind == "device":
        return os.open("/dev/zero", os.O_RDWR)
    if kind == "memfd":
        fd = os.memfd_create("mmapcheck-proposition")
    else:  # "shm-object"
        assert shm_name is not None
        fd = libc.shm_open(shm_name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        libc.shm_unlink(shm_name)
    os.ftruncate(fd, PAGE)
    return fd


def map_descriptor_of(kind: str, path: str | None = None,
                      shm_name: str | None = None) -> dict[str, Any]:
    """Return whether a one-page MAP_SHARED mapping of a ``kind`` descriptor is made and usable.

    Kinds: ``open-disk-file`` (``path``, opened with open), ``device``
    (/dev/zero), ``memfd`` (memfd_create) and ``shm-object`` (``shm_name``,
    unlinked at once so nothing outlives the probe).
    """
    fd = _descriptor(kind, path, shm_name)
    try:
        base, err = libc.mmap_raw(0, PAGE, RW, libc.MAP_SHARED, fd, 0)
        if err is None:
            libc.store(base, 7)
            libc.munmap(base, PAGE)
        return {"mapped": err is None, "errno": err}
    finally:
        release(fd)


def usage_step5(name: str, length: int, data: bytes) -> dict[str, Any]:
    """Run steps 1 to 5 of the shm recipe on ``name``; return what is left after step 5.

    ``descriptor`` is ``open`` or the errno name of ``fcntl(F_GETFD)`` on the
    descriptor from step 1; ``data_reachable`` says whether a new mapping
    through it still holds ``data``; ``name_left`` whether the name exists.
    """
    fd = libc.shm_open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        libc.ftruncate(fd, length)
        ptr = libc.mmap(0, length, RW, libc.MAP_SHARED, fd, 0)
        libc.write_bytes(ptr, data)
        libc.munmap(ptr, length)  # step 5, as written
        libc.shm_unlink(name)
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
            descriptor = "open"
        except OSError as exc:
            descriptor = libc.errno_name(exc) or "OSError"
        again, err = libc.mmap_raw(0, length, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
        reachable = err is None and libc.read_bytes(again, len(data)) == data
        if err is None:
            libc.munmap(again, length)
        return {"descriptor": descriptor, "data_reachable": reachable,
                "name_left": os.path.exists(f"/dev/shm/{name.lstrip('/')}")}
    finally:
        with contextlib.suppress(OSError):  # EBADF where step 5 did close it: already observed
            release(fd)


def returned_address(length: int, path: str | None = None) -> dict[str, Any]:
    """Return the raw result of an anonymous ``mmap(NULL, length, ...)`` and what it means.

    ``returned`` is the address as an integer (MAP_FAILED included);
    ``page_aligned`` is True for a successful call whose address is a page
    multiple; ``null_test_detects_failure`` is what ``ptr == NULL`` says.
    ``path``: a private mapping of that file instead (length 0 fails for it too).
    """
    with backing(path) as (flags, fd):
        returned, err = libc.mmap_raw(0, length, RW, flags, fd)
    ok = err is None
    if ok:
        libc.munmap(returned, length)
    return {"returned": returned, "errno": err,
            "page_aligned": ok and returned % PAGE == 0,
            "null_test_detects_failure": (returned == 0) == (not ok)}


#: The declaration go-mmap gives for Linux, as a Go function type.
GO_DOCUMENTED = ("func(fd int, offset int64, length int, prot int, flags int) "
                 "(data []byte, err error)")
#: A deliberately wrong declaration (offset and length swapped): it must not compile.
GO_WRONG = "func(fd int, offset int, length int64, prot int, flags int) (data []byte, err error)"


def go_signatures_compile() -> dict[str, Any]:
    """Return whether Go accepts ``var f T = syscall.Mmap`` for the documented and the wrong T.

    Needs ``go`` on PATH (raises :class:`~helpers.libc.Unsupported` without
    it).  Both builds share a private cache in a private directory, removed
    after; ``diagnostic`` is the compiler's complaint about the wrong one.
    A toolchain that cannot build an empty program (it crashes at start
    under a small ``RLIMIT_AS``, say) would make the documented declaration
    look refused: that raises :class:`~helpers.libc.Unsupported` with the
    toolchain's own words instead.
    """
    go = shutil.which("go")
    if go is None:
        raise libc.Unsupported("no Go toolchain on PATH (Debian: golang-go)")
    with tempfile.TemporaryDirectory(prefix="mmapcheck-go-") as work:
        env = {**os.environ, "GOCACHE": os.path.join(work, "cache"), "GOFLAGS": "",
               "GOPATH": os.path.join(work, "path"), "GO111MODULE": "off", "CGO_ENABLED": "0"}

        def build(name: str, body: str) -> subprocess.CompletedProcess[str]:
            source = os.path.join(work, f"{name}.go")
            with open(source, "w") as handle:
                handle.write("package main\n\n" + body)
            return subprocess.run(
                [go, "build", "-o", os.path.join(work, name), source], cwd=work, env=env,
                capture_output=True, text=True, timeout=GO_SECONDS)

        # First the empty program: it also fills the private cache the two others use.
        empty = build("empty", "func main() {}\n")
        if empty.returncode != 0:
            said = [line for line in empty.stderr.splitlines() if line.strip()][:2]
            limit, _ = resource.getrlimit(resource.RLIMIT_AS)
            under = f" under RLIMIT_AS {limit} bytes" if limit != resource.RLIM_INFINITY else ""
            raise libc.Unsupported("a working Go toolchain", f"go build of an empty program "
                                   f"failed{under} (exit status {empty.returncode}): "
                                   + " | ".join(said)[:300])
        results = {name: build(name, "import \"syscall\"\n\n"
                                     f"var mmap {declared} = syscall.Mmap\n\n"
                                     "func main() { _ = mmap }\n")
                   for name, declared in (("documented", GO_DOCUMENTED), ("wrong", GO_WRONG))}
    return {"documented_compiles": results["documented"].returncode == 0,
            "wrong_compiles": results["wrong"].returncode == 0,
            "diagnostic": results["wrong"].stderr.strip()[-400:]}


def strncpy_past_nul(n: int) -> dict[str, Any]:
    """Return what ``strncpy(dest, "ab\\0cd", n)`` leaves in a 16-byte buffer of ``X``.

    ``bytes_after_nul_copied``: the source's ``cd`` after its NUL reached
    ``dest``; ``padded``: every byte from the NUL up to ``n`` is zero.
    """
    size = 16
    dest = libc.mmap(0, PAGE, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    try:
        libc.write_bytes(dest, b"X" * size)
        libc.strncpy(dest, b"ab\0cd", n)
        copied = libc.read_bytes(dest, size)
    finally:
        libc.munmap(dest, PAGE)
    return {"dest": copied.hex(), "bytes_after_nul_copied": copied[3:5] == b"cd",
            "padded": copied[2:n] == bytes(n - 2),
            "beyond_n_untouched": copied[n:] == b"X" * (size - n)}


#: The document's C statement without its cast: ``ptr`` is a ``void *``.
UNCAST_STRCPY = ("#include <string.h>\n"
                 "void copy(char *buf, void *ptr) { strcpy(buf, ptr); }\n")


def compiles_without_cast() -> dict[str, Any]:
    """Return whether ``strcpy(buf, ptr)`` with a ``void *`` ptr compiles as C and as C++.

    Strict ISO C (``-pedantic-errors``) is asked, so a diagnostic the
    standard requires would stop the build; C++ refuses the implicit
    conversion, which shows the compilers do check it.
    """
    cc, cxx = shutil.which("cc") or shutil.which("gcc"), shutil.which("c++") or shutil.which("g++")
    if cc is None or cxx is None:
        raise libc.Unsupported("needs a C and a C++ compiler (cc, c++) on PATH")
    built = {}
    for language, compiler in (("c", cc), ("c++", cxx)):
        done = subprocess.run([compiler, "-x", language, "-fsyntax-only", "-pedantic-errors", "-"],
                              input=UNCAST_STRCPY, capture_output=True, text=True,
                              timeout=CHILD_SECONDS)
        built[language] = {"compiles": done.returncode == 0, "diagnostic": done.stderr[-300:]}
    return {"c_compiles": built["c"]["compiles"], "cxx_compiles": built["c++"]["compiles"],
            "diagnostics": built}


def swap_configured() -> bool:
    """Return True when ``/proc/swaps`` lists at least one swap area."""
    try:
        with open("/proc/swaps") as handle:
            return len(handle.read().strip().splitlines()) > 1
    except FileNotFoundError:
        return False


#: madvise(2) advice that reclaims the pages now, as memory pressure would (Linux 5.4).
MADV_PAGEOUT = 21
_SWAPPED = 1 << 62  # pagemap(5): the page is in swap


def page_out(npages: int) -> dict[str, Any]:
    """Return how many of ``npages`` written anonymous pages went to swap when reclaimed.

    The pages are reclaimed with MADV_PAGEOUT, the path memory pressure
    takes; pagemap's "swapped" bit tells where each page went, and reading
    them back must give the data again.
    """
    length = npages * PAGE
    base = libc.mmap(0, length, RW, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS)
    try:
        pattern = secrets.token_bytes(length)
        libc.write_bytes(base, pattern)
        try:
            libc.madvise(base, length, MADV_PAGEOUT)
        except OSError as exc:
            if libc.errno_name(exc) != "EINVAL":
                raise
            raise libc.Unsupported("madvise(MADV_PAGEOUT) needs Linux 5.4 or later") from exc
        swapped = sum(1 for entry in page_entries(base, npages) if entry & _SWAPPED)
        return {"swapped_pages": swapped, "swapped_any": swapped > 0,
                "data_back": libc.read_bytes(base, length) == pattern}
    finally:
        libc.munmap(base, length)
