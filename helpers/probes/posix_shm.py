"""Probes about POSIX shared memory objects (shm_open) and ftruncate, the call that sizes them.

Every object a probe creates is unlinked before the probe returns, also on
error; the names come from the ``shm_name`` fixture, which unlinks them
again at teardown in case the probe died in between.  Variants of a name a
probe derives itself (other spellings, longer names) keep the run's prefix
so that the end-of-run sweep would find them.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap as pymmap
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import libc, names
from helpers.isolate import SetupRefused, note
from helpers.platform import filesystem_type, noexec
from helpers.probes.faults_privilege import become_user
from helpers.probes.ipc import MappingPeer, run_unrelated, start_forked
from helpers.probes.pages import PAGE, map_fd, vma_of

SHM_DIR = "/dev/shm"
CREATE_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL


def _attempt(call: Callable[[], object], success: str = "succeeds") -> str:
    """Return ``success`` if ``call()`` returns, or the errno name it failed with."""
    try:
        call()
    except OSError as exc:
        return str(libc.errno_name(exc))
    return success


def _unlink_quietly(name: str) -> None:
    with contextlib.suppress(OSError):
        libc.shm_unlink(name)


# --- sharing ---------------------------------------------------------------------------------

def read_and_answer(name: str, n: int, answer_hex: str) -> str:
    """Open shm ``name``, map it, return its first ``n`` bytes (hex) and store the answer at 64.

    The side of :func:`share_with_unrelated` that runs in an unrelated process.
    """
    fd = libc.shm_open(name, os.O_RDWR)
    mapping = map_fd(fd, PAGE, "libc")
    mapping.write(64, bytes.fromhex(answer_hex))
    return mapping.read(0, n).hex()


def share_with_unrelated(name: str, layer: str, token: bytes) -> dict[str, Any]:
    """Create shm ``name``, store ``token``; an unrelated process reads it and answers.

    Returns what the unrelated process read and what this process then
    reads where it answered.
    """
    answer = token[::-1]
    fd = libc.shm_open(name, CREATE_NEW, 0o600)
    try:
        os.ftruncate(fd, PAGE)
        mapping = map_fd(fd, PAGE, layer)
        mapping.write(0, token)
        seen = run_unrelated(read_and_answer, name, len(token), answer.hex())
        return {"stored": token.hex(), "unrelated_read": seen,
                "answer_seen_here": mapping.read(64, len(answer)).hex()}
    finally:
        libc.shm_unlink(name)


def built_on_mmap(name: str, layer: str, token: bytes) -> dict[str, Any]:
    """Map shm ``name``; return how /proc/self/maps names it and what fd and mapping share."""
    fd = libc.shm_open(name, CREATE_NEW, 0o600)
    try:
        os.ftruncate(fd, PAGE)
        mapping = map_fd(fd, PAGE, layer)
        vma = vma_of(mapping.addr)
        os.pwrite(fd, token, 0)
        through_fd = mapping.read(0, len(token))
        mapping.write(64, token[::-1])
        through_mapping = os.pread(fd, len(token), 64)
        fstat, dev_shm = os.fstat(fd), os.stat(SHM_DIR + name)
        return {"maps_name": vma["name"], "perms": vma["perms"],
                "maps_names_dev_shm_file": vma["name"] == SHM_DIR + name,
                "mapping_reads_pwrite": through_fd.hex(),
                "pread_reads_store": through_mapping.hex(),
                "same_inode_as_dev_shm_file": (fstat.st_dev, fstat.st_ino)
                == (dev_shm.st_dev, dev_shm.st_ino)}
    finally:
        libc.shm_unlink(name)


# --- names -----------------------------------------------------------------------------------

def name_forms(base: str) -> dict[str, Any]:
    """Try ``shm_open(O_CREAT|O_EXCL)`` on spellings derived from ``base`` (``/<run prefix>...``).

    Returns per form the result (``"opens"`` or the errno name) and, where it
    opened, the file that appeared under /dev/shm.  Everything created is
    unlinked.
    """
    stem = base.lstrip("/")
    forms = {
        "/name": base,
        "name (no leading slash)": stem + "-b",
        "//name": "//" + stem + "-c",
        "/dir/name": base + "/d",
        "/ alone": "/",
        "/ + 255 characters": "/" + (stem + "-e").ljust(255, "e"),
        "/ + 256 characters": "/" + (stem + "-f").ljust(256, "f"),
    }
    results: dict[str, Any] = {}
    for label, name in forms.items():
        try:
            fd = libc.shm_open(name, CREATE_NEW, 0o600)
        except OSError as exc:
            results[label] = {"result": libc.errno_name(exc)}
            continue
        try:
            os.close(fd)
            made = os.path.join(SHM_DIR, name.lstrip("/"))
            results[label] = {"result": "opens", "file": made, "exists": os.path.exists(made)}
        finally:
            _unlink_quietly(name)
    return results


def dot_slash_names(base: str) -> dict[str, Any]:
    """Return what ``shm_open(name, O_RDWR|O_CREAT|O_TRUNC, 0600)`` does for the demo's name.

    Tries the document's literal ``"./test.shm.file"``, then ``base`` with
    and without ``"./"`` in front of it.
    """
    results: dict[str, Any] = {}
    for label, name in (("./test.shm.file", "./test.shm.file"),
                        ("./<unique>", "./" + base.lstrip("/")), ("/<unique>", base)):
        try:
            fd = libc.shm_open(name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            results[label] = libc.errno_name(exc)
            continue
        os.close(fd)
        _unlink_quietly(name)
        results[label] = "opens"
    return results


def object_location(name: str) -> dict[str, Any]:
    """Create shm ``name``; return whether /dev/shm holds it as a file, and on what filesystem."""
    fd = libc.shm_open(name, CREATE_NEW, 0o600)
    path = SHM_DIR + name
    try:
        here = os.fstat(fd)
        try:
            there = os.stat(path)
        except FileNotFoundError:  # the object lives elsewhere: that is the finding
            return {"file": path, "exists": False, "same_inode": False,
                    "filesystem": filesystem_type(SHM_DIR), "regular_file": False}
        return {"file": path, "exists": True, "same_inode": (here.st_dev, here.st_ino)
                == (there.st_dev, there.st_ino), "filesystem": filesystem_type(SHM_DIR),
                "regular_file": stat.S_ISREG(there.st_mode)}
    finally:
        os.close(fd)
        libc.shm_unlink(name)


# --- open flags, size, content, lifetime -----------------------------------------------------

def open_flags(name: str) -> dict[str, Any]:
    """Exercise each oflag of shm_open on ``name``; return what each did."""
    fd = libc.shm_open(name, CREATE_NEW, 0o600)
    try:
        result: dict[str, Any] = {
            "O_CREAT|O_EXCL again": _attempt(lambda: libc.shm_open(name, CREATE_NEW), "opens"),
            "FD_CLOEXEC set": bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC),
        }
        os.ftruncate(fd, PAGE)
        again = libc.shm_open(name, os.O_RDWR | os.O_CREAT, 0o600)
        result["O_CREAT on existing: same object"] = os.fstat(again).st_ino == os.fstat(fd).st_ino
        truncating = libc.shm_open(name, os.O_RDWR | os.O_TRUNC)
        result["size after O_TRUNC"] = os.fstat(truncating).st_size
        os.ftruncate(fd, PAGE)
        rdonly = libc.shm_open(name, os.O_RDONLY)
        result["O_RDONLY: ftruncate"] = _attempt(lambda: libc.ftruncate(rdonly, 2 * PAGE))
        rw = libc.PROT_READ | libc.PROT_WRITE
        result["O_RDONLY: mmap PROT_WRITE MAP_SHARED"] = _attempt(
            lambda: libc.mmap(0, PAGE, rw, libc.MAP_SHARED, rdonly, 0), "maps")
        result["O_RDONLY: mmap PROT_READ MAP_SHARED"] = _attempt(
            lambda: libc.mmap(0, PAGE, libc.PROT_READ, libc.MAP_SHARED, rdonly, 0), "maps")
        result["O_WRONLY"] = _attempt(lambda: libc.shm_open(name, os.O_WRONLY), "opens")
        return result
    finally:
        libc.shm_unlink(name)


#: Room left free beside a probe's pages in /dev/shm, for whatever else runs meanwhile.
SHM_SLACK = 16 * PAGE


def require_shm_space(size: int) -> None:
    """Raise :class:`helpers.libc.Unsupported` unless ``size`` bytes fit in /dev/shm now.

    Reading a hole of a shared tmpfs mapping allocates its page; when none is
    left the read dies by SIGBUS, which would say nothing about the document:
    a full /dev/shm is a setting of this machine, named here instead.
    """
    stats = os.statvfs(SHM_DIR)
    free = stats.f_bavail * stats.f_frsize
    if free < size + SHM_SLACK:
        raise libc.Unsupported(f"{size} bytes of {SHM_DIR}", f"only {free} bytes are free "
                               "there, and a page tmpfs cannot allocate ends a read by SIGBUS")


def new_object_content(name: str, layer: str, size: int) -> dict[str, Any]:
    """Create shm ``name``; return its size at birth and its non-zero bytes after growth.

    Raises :class:`helpers.libc.Unsupported` when /dev/shm has no room for
    ``size`` bytes: the read through the mapping allocates every page.
    """
    require_shm_space(size)
    fd = libc.shm_open(name, CREATE_NEW, 0o600)
    try:
        born = os.fstat(fd).st_size
        os.ftruncate(fd, size)
        mapping = map_fd(fd, size, layer)
        data = mapping.read(0, size)
        return {"size_at_creation": born, "size_after_ftruncate": os.fstat(fd).st_size,
                "nonzero_bytes": size - data.count(0)}
    finally:
        libc.shm_unlink(name)


def unlink_while_in_use(name: str, layer: str, token: bytes) -> dict[str, Any]:
    """Map shm ``name`` here and in a forked peer, unlink the name, keep using both mappings.

    Returns what opening the name then does (with and without O_CREAT), what
    each side reads of the other's stores, and the old descriptor's size and
    link count.
    """
    fd = libc.shm_open(name, CREATE_NEW, 0o600)
    try:
        os.ftruncate(fd, PAGE)
        mapping = map_fd(fd, PAGE, layer)
        peer = MappingPeer("shm", name, PAGE)
    finally:
        libc.shm_unlink(name)
    try:
        reopen = _attempt(lambda: libc.shm_open(name, os.O_RDWR), "opens")
        file_left = os.path.exists(SHM_DIR + name)
        mapping.write(0, token)
        peer_reads = peer.read(0, len(token))
        peer.write(64, token[::-1])
        here_reads = mapping.read(64, len(token))
    finally:
        peer.stop()
    old = os.fstat(fd)
    fresh = libc.shm_open(name, CREATE_NEW, 0o600)
    try:
        new = os.fstat(fresh)
    finally:
        libc.shm_unlink(name)
    return {"open_without_create": reopen, "file_left_under_dev_shm": file_left,
            "stored": token.hex(), "peer_reads": peer_reads.hex(),
            "here_reads": here_reads.hex(),
            "old_size": old.st_size, "old_links": old.st_nlink,
            "recreated_size": new.st_size, "recreated_is_new_object": new.st_ino != old.st_ino}


def stat_fields(name: str) -> dict[str, Any]:
    """Return every ``fstat`` field of shm ``name`` when new, after a write, after unlink."""
    fields = ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size",
              "st_blocks", "st_blksize", "st_atime_ns", "st_mtime_ns", "st_ctime_ns")
    fd = libc.shm_open(name, CREATE_NEW, 0o640)
    unlinked = False
    try:
        snaps = {"new": os.fstat(fd)}
        os.ftruncate(fd, 2 * PAGE)
        os.pwrite(fd, b"x" * PAGE, 0)
        snaps["written"] = os.fstat(fd)
        libc.shm_unlink(name)
        unlinked = True
        snaps["unlinked"] = os.fstat(fd)
    finally:
        if not unlinked:
            libc.shm_unlink(name)
    seen: dict[str, Any] = {
        when: {f: getattr(st, f) for f in fields} | {"mode": oct(stat.S_IMODE(st.st_mode)),
                                                     "regular": stat.S_ISREG(st.st_mode)}
        for when, st in snaps.items()}
    new, written, gone = snaps["new"], snaps["written"], snaps["unlinked"]
    seen["meaningful_beyond_mode_ids_size"] = sorted(name for name, meaningful in (
        ("st_ino", new.st_ino != 0), ("st_nlink", (new.st_nlink, gone.st_nlink) == (1, 0)),
        ("st_blocks", written.st_blocks > new.st_blocks), ("st_mtime", written.st_mtime_ns > 0),
    ) if meaningful)
    seen["meaningful_beyond_count"] = len(seen["meaningful_beyond_mode_ids_size"])
    return seen


def usage_steps(name: str, oflag: str, length: int) -> dict[str, Any]:
    """Replay the document's five steps with ``oflag`` (spelled as in C); return each result."""
    flags = 0
    for part in oflag.split("|"):
        flags |= getattr(os, part.strip())
    steps: dict[str, Any] = {}
    try:
        fd = libc.shm_open(name, flags, 0o660)  # S_IRUSR|S_IWUSR|S_IRGRP|S_IWGRP
    except OSError as exc:
        return {"shm_open": libc.errno_name(exc)}
    try:
        steps["shm_open"] = "fd"
        steps["ftruncate"] = _attempt(lambda: libc.ftruncate(fd, length))
        try:
            addr = libc.mmap(0, length, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
        except OSError as exc:
            steps["mmap"] = libc.errno_name(exc)
            return steps
        note(base=addr)
        steps["mmap"] = "maps"
        libc.write_bytes(addr, b"hello")
        steps["use"] = libc.read_bytes(addr, 5).hex()
        libc.munmap(addr, length)
        steps["munmap"] = "ok"
    finally:
        steps["shm_unlink"] = _attempt(lambda: libc.shm_unlink(name))
    return steps


def _demo_producer(name: str, layer: str, length: int, data: bytes) -> str:
    fd = libc.shm_open(name, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, length)
    mapping = map_fd(fd, length, layer)
    mapping.write(0, data)  # no terminating NUL, as in the demo
    mapping.sync(0, len(data))
    mapping.close()
    return "produced"


def demo_replay(name: str, layer: str) -> dict[str, Any]:
    """Replay the demo's producer (forked child) and consumer with a valid name.

    The consumer waits for the producer to exit instead of sleeping; then it
    opens the name, takes the size from fstat, maps it read-only and formats
    the line the demo prints.
    """
    try:
        produced = start_forked(_demo_producer, name, layer, 100, b"hello world !").result()
        fd = libc.shm_open(name, os.O_RDWR)
        size = os.fstat(fd).st_size
        if layer == "pymmap":
            mapped = pymmap.mmap(fd, size, access=pymmap.ACCESS_READ)
            text = mapped[:].split(b"\0", 1)[0]
        else:
            addr = libc.mmap(0, size, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
            text = libc.c_string(addr)
        line = f"shmObj size:{size},client write data:{text.decode(errors='replace')}"
        return {"producer": produced, "line": line}
    finally:
        _unlink_quietly(name)


_LINK_TEST = """\
#include <fcntl.h>
#include <sys/mman.h>
int main(int argc, char **argv) {
    int fd = shm_open(argv[1], O_RDONLY, 0);
    if (fd >= 0) shm_unlink(argv[1]);
    return fd >= 0 ? 1 : 0;
}
"""


def _run_built(binary: Path, args: list[str]) -> int:
    """Run a program this probe built and return its exit status.

    Building only writes, but running needs a filesystem that allows exec:
    where the scratch directory is mounted noexec, the program runs from a
    copy in a memfd (an internal mount that is not noexec) through
    ``/proc/self/fd``.  Where neither can run it (``vm.memfd_noexec``, a
    security module) the check cannot be made here: that is setup, not the
    platform's shm_open, so it raises Unsupported naming the errno.
    """
    fd = -1
    try:
        if noexec(str(binary.parent)):
            fd = os.memfd_create(binary.name)
            with open(fd, "wb", closefd=False) as copy:  # writes it all, not one write(2)
                copy.write(binary.read_bytes())
            command = [f"/proc/self/fd/{fd}", *args]
        else:
            command = [str(binary), *args]
        ran = subprocess.run(command, capture_output=True, timeout=10, check=False,
                             pass_fds=(fd,) if fd >= 0 else ())
    except OSError as exc:
        where = "a memfd copy" if fd >= 0 else str(binary.parent)
        raise libc.Unsupported("running a program built by the check", (
            f"exec from {where} failed with {libc.errno_name(exc)}")) from exc
    finally:
        if fd >= 0:
            os.close(fd)
    return ran.returncode


def link_with_and_without_lrt(absent_name: str) -> dict[str, Any]:
    """Compile and link a program calling shm_open with and without ``-lrt``; run each.

    The program opens ``absent_name`` read-only without O_CREAT (nothing is
    created).  Returns each link's exit status and message, each program's
    exit status, and the C library's version.  The programs are built in
    the scratch directory and run from a place that allows exec
    (:func:`_run_built`).
    """
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise libc.Unsupported("cc", "no C compiler on PATH")
    work = Path(tempfile.gettempdir()) / names.unique_name("lrt")
    work.mkdir(mode=0o700)
    try:
        (work / "shm.c").write_text(_LINK_TEST)
        results: dict[str, Any] = {}
        for label, extra in (("without -lrt", []), ("with -lrt", ["-lrt"])):
            binary = work / label.replace(" ", "_")
            built = subprocess.run([compiler, "-o", str(binary), str(work / "shm.c"), *extra],
                                   capture_output=True, text=True, timeout=60, check=False)
            entry: dict[str, Any] = {"builds": built.returncode == 0,
                                     "link_status": built.returncode,
                                     "message": built.stderr.strip()[-300:]}
            if built.returncode == 0:
                entry["run_status"] = _run_built(binary, [absent_name])
            results[label] = entry
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["glibc"] = libc.gnu_get_libc_version()
    return results


# --- ftruncate -------------------------------------------------------------------------------

def _open_target(target: str, kind: str) -> int:
    if kind == "shm":
        return libc.shm_open(target, CREATE_NEW, 0o600)
    return os.open(target, os.O_RDWR)


def extension_after_tail_store(target: str, kind: str, layer: str) -> dict[str, Any]:
    """Grow a new object (``kind="shm"``) or file; then store past end of file and grow again.

    Returns the non-zero bytes of a plain growth to three pages; then, with
    the size set to 100 bytes and one page mapped, what storing ``Z`` at
    byte 200 (in the page, past end of file) did, and what byte 200 reads
    after ``ftruncate`` grows the object to a page.
    """
    fd = _open_target(target, kind)
    try:
        os.ftruncate(fd, 0)
        os.ftruncate(fd, 3 * PAGE)
        grown = os.pread(fd, 3 * PAGE, 0)
        os.ftruncate(fd, 100)
        if layer == "pymmap":
            mapped = pymmap.mmap(fd, 100)
            try:
                mapped[200] = ord("Z")
                tail_store = "stored"
            except IndexError as exc:
                tail_store = f"IndexError: {exc}"
        else:
            addr = libc.mmap(0, PAGE, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0)
            note(base=addr)
            libc.store(addr + 200, ord("Z"))
            tail_store = "stored"
        os.ftruncate(fd, PAGE)
        return {"filesystem": filesystem_type(SHM_DIR if kind == "shm" else target),
                "grown_nonzero_bytes": len(grown) - grown.count(0), "tail_store": tail_store,
                "byte_200_after_growth": os.pread(fd, 1, 200).hex()}
    finally:
        if kind == "shm":
            libc.shm_unlink(target)


def shrink_and_regrow(path: str) -> dict[str, Any]:
    """Shrink a file to 100 bytes and grow it back; return the size and the bytes past 100."""
    fd = os.open(path, os.O_RDWR)
    old = os.fstat(fd).st_size
    os.ftruncate(fd, 100)
    shrunk = os.fstat(fd).st_size
    os.ftruncate(fd, old)
    back = os.pread(fd, old, 0)
    return {"size_after_shrink": shrunk, "kept": back[:100].hex()[:16],
            "nonzero_past_100": len(back) - 100 - back[100:].count(0)}


def touch_after_shrink(path: str, layer: str, page: int) -> dict[str, Any]:
    """Map a file whole, shrink it to 100 bytes, then load a byte of page ``page``.

    A page wholly past the new end raises SIGBUS (the outcome says so); the
    tail of page 0 past byte 100 reads as zero.
    """
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    mapping = map_fd(fd, size, layer)
    note(base=mapping.addr, mapped=size)
    os.ftruncate(fd, 100)
    return {"byte": mapping.read(page * PAGE + 200, 1).hex()}


def extend_regular_file(path: str, length: int) -> dict[str, Any]:
    """Grow ``path`` with ftruncate; return size, non-zero bytes past the old end, blocks."""
    fd = os.open(path, os.O_RDWR)
    old = os.fstat(fd).st_size
    os.fsync(fd)
    blocks_before = os.fstat(fd).st_blocks
    os.ftruncate(fd, length)
    data = os.pread(fd, length, 0)
    after = os.fstat(fd)
    return {"size": after.st_size, "size_is_length": after.st_size == length,
            "nonzero_past_old_end": length - old - data[old:].count(0),
            "blocks_before": blocks_before, "blocks_after": after.st_blocks}


def lseek_write_extension(path: str, length: int) -> dict[str, Any]:
    """``lseek(length - 1)`` and write one byte on an empty file; map it and read every page."""
    fd = os.open(path, os.O_RDWR)
    os.lseek(fd, length - 1, os.SEEK_SET)
    os.write(fd, b"\x01")
    data = os.pread(fd, length, 0)
    addr = libc.mmap(0, length, libc.PROT_READ, libc.MAP_SHARED, fd, 0)
    note(base=addr)
    mapped = [libc.load(addr + offset) for offset in range(0, length, PAGE)]
    os.fsync(fd)
    return {"size": os.fstat(fd).st_size, "size_is_length": os.fstat(fd).st_size == length,
            "nonzero_in_gap": length - 1 - data[:-1].count(0),
            "last_byte": data[-1], "first_byte_of_each_page": mapped,
            "blocks": os.fstat(fd).st_blocks}


def offset_across_truncate(path: str) -> dict[str, Any]:
    """Set the offset to 5000, ftruncate to 100 and to 10000; return the offset after each."""
    fd = os.open(path, os.O_RDWR)
    os.lseek(fd, 5000, os.SEEK_SET)
    offsets = {"before": os.lseek(fd, 0, os.SEEK_CUR)}
    os.ftruncate(fd, 100)
    offsets["after shrink to 100"] = os.lseek(fd, 0, os.SEEK_CUR)
    os.ftruncate(fd, 10000)
    offsets["after growth to 10000"] = os.lseek(fd, 0, os.SEEK_CUR)
    return offsets


def _truncate_as(path: str, uid: int) -> str:
    try:
        become_user(uid)
    except SetupRefused as exc:  # euid 0 of a user namespace that maps no other uid
        return exc.as_value()
    return _attempt(lambda: os.truncate(path, 10))


def truncate_without_write_access(path: str, unprivileged_uid: int) -> dict[str, Any]:
    """ftruncate an O_RDONLY descriptor; truncate a mode-0400 file as this process and unprivileged.

    The unprivileged attempt runs in a forked child that drops to
    ``unprivileged_uid`` (possible only when this process is root; otherwise
    this process is the unprivileged one).
    """
    fd = os.open(path, os.O_RDONLY)
    result = {"ftruncate O_RDONLY fd": _attempt(lambda: libc.ftruncate(fd, 10))}
    os.chmod(path, 0o400)
    if os.geteuid() == 0:
        result["truncate 0400 file as root"] = _attempt(lambda: os.truncate(path, 20))
        result["truncate 0400 file unprivileged"] = start_forked(
            _truncate_as, path, unprivileged_uid).result()
    else:
        result["truncate 0400 file unprivileged"] = _attempt(lambda: os.truncate(path, 20))
    return result

