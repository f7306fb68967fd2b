"""Probes about ``prot`` against the file's open mode."""

from __future__ import annotations

import mmap as pymmap
import os

from helpers.probes.mapping import map_file, open_mode

__all__ = ["map_file", "pymmap_access"]


def pymmap_access(path: str, mode: str, access: str) -> int:
    """Map ``path`` opened with ``mode`` through Python's mmap with ``access``; return length."""
    fd = os.open(path, open_mode(mode))
    try:
        with pymmap.mmap(fd, 0, access=getattr(pymmap, access)) as mapped:
            return len(mapped)
    finally:
        os.close(fd)
