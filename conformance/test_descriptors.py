"""Checks of the ``fd`` argument.

mmap(2): a file mapping takes any valid descriptor, 0 included (open(2)
returns the lowest free number, so 0 whenever standard input is closed); a
descriptor that is not open gives EBADF.  With MAP_ANONYMOUS Linux ignores
fd altogether; portable code passes -1, which some systems require.
Python's mmap module reads fd -1 as "anonymous".
"""

from __future__ import annotations

import pytest

from helpers import observe
from helpers.libc import PAGE_SIZE
from helpers.probes.arguments import map_with_fd, pymmap_with_fd

FD_POSITIVE = "memmap-ipc.fd-greater-than-zero"
ANONYMOUS_FD = "unp-shm.anonymous-fd-minus-one"
CONTENT = b"descriptor zero!"


@pytest.mark.claim(FD_POSITIVE)
@pytest.mark.parametrize("layer", ["libc", pytest.param("pymmap", marks=pytest.mark.layer(
    "pymmap"))])
@pytest.mark.parametrize(("fd_kind", "expected"), [
    ("zero", "maps the file"), ("-1", "EBADF"), ("closed", "EBADF"),
])
def test_any_open_descriptor_maps_even_zero(probe, prediction, sized_file, layer, fd_kind,
                                            expected):
    path = sized_file(PAGE_SIZE, fill=CONTENT)
    if layer == "libc":
        outcome = probe(map_with_fd, PAGE_SIZE, flags="MAP_SHARED", fd_kind=fd_kind, path=path)
    else:
        outcome = probe(pymmap_with_fd, PAGE_SIZE, fd_kind=fd_kind, path=path)
    prediction.observe(f"fd-{fd_kind.replace('-1', 'minus-one')}", observe.succeeded(outcome),
                       layer=layer)
    if layer == "pymmap" and fd_kind == "-1":  # Python's own meaning of -1
        expected = "maps anonymous memory"
    observed = outcome.errno or ("maps the file" if outcome.ok and outcome.value["head"] ==
                                 CONTENT.hex() else "maps anonymous memory" if outcome.ok and
                                 outcome.value["zero_filled"] else outcome.summary())
    assert observed == expected, outcome
    if fd_kind == "zero":
        assert outcome.value["fd"] == 0, outcome


@pytest.mark.claim(ANONYMOUS_FD)
@pytest.mark.parametrize(("flags", "fd_kind", "expected", "case"), [
    ("MAP_PRIVATE|MAP_ANONYMOUS", "-1", "maps", "anonymous-fd-minus-one"),
    ("MAP_SHARED|MAP_ANONYMOUS", "-1", "maps", "anonymous-fd-minus-one"),
    ("MAP_SHARED", "-1", "EBADF", "file-mapping-fd-minus-one"),
    ("MAP_PRIVATE", "-1", "EBADF", "file-mapping-fd-minus-one"),
    ("MAP_PRIVATE|MAP_ANONYMOUS", "file", "maps", "anonymous-other-fd"),
    ("MAP_SHARED|MAP_ANONYMOUS", "closed", "maps", "anonymous-other-fd"),
])
def test_anonymous_mapping_ignores_fd(probe, prediction, sized_file, flags, fd_kind, expected,
                                      case):
    path = sized_file(PAGE_SIZE, fill=CONTENT)
    outcome = probe(map_with_fd, PAGE_SIZE, flags=flags, fd_kind=fd_kind, path=path)
    prediction.observe(case, observe.succeeded(outcome), instance=f"{flags}, fd {fd_kind}")
    assert ("maps" if outcome.ok else outcome.errno) == expected, outcome
    if outcome.ok and "MAP_ANONYMOUS" in flags:  # the file's bytes never show through
        assert outcome.value["zero_filled"], outcome
