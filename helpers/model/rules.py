"""The rules of the model, by catalogue id.

Each id is an entry of kind ``model`` in ``conformance/catalogue/model.toml``
(which holds the paraphrase, the precise rule and the man-page references);
the model marks a rule as *fired* each time it decides an outcome by it, so a
run can say which rules its sequences reached.
"""

from __future__ import annotations

MMAP_ARGUMENTS = "model.mmap-arguments"
MMAP_FD_ACCESS = "model.mmap-fd-access"
MMAP_FIXED = "model.mmap-fixed-replaces"
MMAP_HINT = "model.mmap-hint-placement"
MUNMAP = "model.munmap-range"
MPROTECT = "model.mprotect-range"
MSYNC = "model.msync-range"
UNMAPPED = "model.access-unmapped-segv"
PROTECTION = "model.access-protection-segv"
PAST_EOF = "model.access-past-eof-sigbus"
TAIL = "model.access-tail-of-last-page"
SHARED_STORE = "model.shared-store-reaches-file"
PRIVATE_COW = "model.private-store-copy-on-write"
PRIVATE_VIEW = "model.private-sees-file-until-written"
ANON_ZERO = "model.anonymous-zero-filled"
SHARED_ANON = "model.shared-anonymous-object"
EXTEND = "model.ftruncate-extend-zero-fill"
SHRINK = "model.ftruncate-shrink-discards"
FTRUNCATE_FD = "model.ftruncate-fd-checks"
PWRITE = "model.pwrite-through-page-cache"
FORK_INHERITS = "model.fork-inherits-mappings"
FORK_PRIVATE = "model.fork-private-diverges"
FORK_SHARED = "model.fork-shared-stays-shared"
SHM_OPEN = "model.shm-open-names"
SHM_UNLINK = "model.shm-unlink-keeps-object"
CLOSE = "model.close-keeps-mapping"
OPEN = "model.open-regular-file"

#: Every rule id with a one-line summary (the catalogue has the full text).
RULES: dict[str, str] = {
    MMAP_ARGUMENTS: "mmap rejects an unaligned offset, a zero length, an unaligned MAP_FIXED "
                    "address, a missing mapping type (EINVAL) and an impossible length (ENOMEM)",
    MMAP_FD_ACCESS: "mmap of a file needs an open descriptor (EBADF) whose mode allows the "
                    "protection (EACCES)",
    MMAP_FIXED: "MAP_FIXED places the mapping exactly, replacing what was there",
    MMAP_HINT: "without MAP_FIXED the address is a hint, taken when the range is free",
    MUNMAP: "munmap removes whole pages of any range, mapped or not; unaligned or empty is EINVAL",
    MPROTECT: "mprotect changes protection of mapped pages; ENOMEM on a hole, EACCES beyond "
              "what the descriptor allows",
    MSYNC: "msync checks its flags and alignment (EINVAL) and that the range is mapped (ENOMEM)",
    UNMAPPED: "touching an address with no mapping raises SIGSEGV (SEGV_MAPERR)",
    PROTECTION: "touching a page against its protection raises SIGSEGV (SEGV_ACCERR)",
    PAST_EOF: "touching a page wholly past end of file raises SIGBUS (BUS_ADRERR)",
    TAIL: "the rest of the last page reads as zero and stores there never reach the file",
    SHARED_STORE: "stores through MAP_SHARED reach the file and every other shared mapping",
    PRIVATE_COW: "stores through MAP_PRIVATE make a private copy the file never sees",
    PRIVATE_VIEW: "a MAP_PRIVATE page not yet written shows the file's current bytes (Linux)",
    ANON_ZERO: "anonymous memory starts zero-filled",
    SHARED_ANON: "a MAP_SHARED|MAP_ANONYMOUS mapping is one object shared by its pieces and "
                 "across fork",
    EXTEND: "a file that grows reads as zeros in the new part",
    SHRINK: "a file that shrinks loses its bytes and pages past the new end",
    FTRUNCATE_FD: "ftruncate needs a descriptor (EBADF) open for writing and a length >= 0 "
                  "(EINVAL)",
    PWRITE: "pwrite through a descriptor open for writing is seen at once by shared mappings",
    FORK_INHERITS: "a forked child has the parent's mappings, protections and bytes",
    FORK_PRIVATE: "after fork, private pages written by one process are not seen by the other",
    FORK_SHARED: "after fork, shared pages stay shared between parent and child",
    SHM_OPEN: "shm_open creates or opens a name: EEXIST with O_CREAT|O_EXCL, ENOENT without "
              "O_CREAT",
    SHM_UNLINK: "shm_unlink removes the name; descriptors and mappings keep the object",
    CLOSE: "closing a descriptor leaves its mappings in place; a closed handle is EBADF",
    OPEN: "open of a regular file follows its flags: ENOENT without O_CREAT",
}
