"""Faults of the descriptor: closed, not mappable, or not open for reading.

mmap(2) ERRORS: ``EBADF`` when a file mapping's fd is not an open descriptor;
``ENODEV`` when the file's filesystem or driver has no mapping support
(pipes, Unix domain sockets, directories); ``EACCES`` when the fd is not
open for reading, whatever the protection and mapping type.  Python's
``mmap`` passes these descriptors to the same call and raises ``OSError``
with the same errno.
"""

from __future__ import annotations

import itertools
import tempfile

import pytest

from helpers.libc import PAGE_SIZE
from helpers.probes.faults_descriptors import (
    map_closed_descriptor,
    map_directory,
    map_pipe_and_socket,
    map_write_only,
)

LAYERS = [pytest.param("libc", id="libc"),
          pytest.param("pymmap", id="pymmap", marks=pytest.mark.layer("pymmap"))]






@pytest.mark.claim("fault.closed-fd-ebadf")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_a_closed_descriptor_fails_ebadf(probe, sized_file, layer):
    outcome = probe(map_closed_descriptor, sized_file(PAGE_SIZE), layer=layer)
    assert outcome.ok, outcome
    value = outcome.value
    assert value.pop("number_free") == "EBADF", "the closed number was reused before mmap"
    assert set(value.values()) == {"EBADF"}, outcome


@pytest.mark.claim("fault.pipe-or-socket-enodev")
@pytest.mark.parametrize("layer", LAYERS)
def test_mapping_a_pipe_or_unix_socket_fails_enodev(probe, layer):
    outcome = probe(map_pipe_and_socket, layer=layer)
    assert outcome.ok and outcome.value == {"pipe": "ENODEV", "unix_socket": "ENODEV"}, outcome


@pytest.mark.claim("fault.directory-fd-enodev")
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("directory", [tempfile.gettempdir(), "/dev/shm"],
                         ids=["tempdir", "dev-shm"])
def test_mapping_a_directory_fails_enodev(probe, layer, directory):
    # Usually the temporary directory is on a disk filesystem and /dev/shm on
    # tmpfs; the probe records which.
    outcome = probe(map_directory, directory, layer=layer)
    assert outcome.ok and outcome.value["directory"] == "ENODEV", outcome


@pytest.mark.claim("fault.wronly-fd-eacces")
@pytest.mark.parametrize(("prot", "flags"), list(itertools.product(
    ["PROT_READ", "PROT_WRITE", "PROT_READ|PROT_WRITE"], ["MAP_SHARED", "MAP_PRIVATE"])))
def test_mapping_a_write_only_descriptor_fails_eacces(probe, sized_file, prot, flags):
    outcome = probe(map_write_only, sized_file(PAGE_SIZE), prot=prot, flags=flags)
    assert outcome.ok and outcome.value == {"mmap": "EACCES"}, outcome


@pytest.mark.claim("fault.wronly-fd-eacces")
@pytest.mark.layer("pymmap")
@pytest.mark.parametrize("access", ["ACCESS_READ", "ACCESS_WRITE", "ACCESS_COPY"])
def test_pymmap_of_a_write_only_descriptor_fails_eacces(probe, sized_file, access):
    outcome = probe(map_write_only, sized_file(PAGE_SIZE), access=access)
    assert outcome.ok and outcome.value == {"mmap": "EACCES"}, outcome
