"""The mutants' reading of /proc/self/maps and /proc/self/fd (``sources/regions.h``).

Several mutants decide what to change from the mapping an address lies in
or the file a descriptor names; a parser that misread a line would make
them change nothing, or the wrong thing.  A small C program built from the
header maps a file, asks the header, and prints what it found; the answer
must match what the kernel lists.
"""

from __future__ import annotations

import mmap
import subprocess
from pathlib import Path

import pytest

from helpers.mutants import SOURCES, build

#: Maps ``argv[1]`` shared at offset one page, then prints region_of() for an address
#: inside it, region_of() for an address nothing maps, and fd_path() of its descriptor.
PROGRAM = r"""
#include "mutant.h"
#include "regions.h"

int main(int argc, char **argv) {
    (void)argc;
    long page = kernel_page();
    int fd = open(argv[1], O_RDWR);
    char *base = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, page);
    if (fd < 0 || base == MAP_FAILED)
        return 2;
    struct region r;
    char path[PATH_MAX];
    if (region_of((uintptr_t)base + page + 5, &r) || fd_path(fd, path, sizeof path) < 0)
        return 3;
    printf("%d %d %s %llu %s\n", r.start == (uintptr_t)base, r.end == (uintptr_t)base + 2 * page,
           r.perms, r.offset, r.path);
    printf("%s\n", path);
    printf("%d\n", region_of(0, &r));
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    """Return the built test program; skip where no mutant can be built."""
    try:
        cc = build.compiler()
    except build.CannotBuild as exc:
        pytest.skip(str(exc))
    folder = tmp_path_factory.mktemp("regions")
    source, binary = folder / "regions.c", folder / "regions"
    source.write_text(PROGRAM, encoding="utf-8")
    subprocess.run([cc, "-Wall", "-Wextra", "-Werror", '-DMUTANT_ID="regions-test"',
                    f"-I{SOURCES}", "-o", str(binary), str(source), "-ldl"],
                   check=True, capture_output=True, text=True, timeout=120)
    return binary


def test_the_header_finds_the_mapping_and_the_file_of_a_descriptor(program, tmp_path):
    target = tmp_path / "mapped file"  # a space, as paths in the maps file may hold
    target.write_bytes(b"m" * 3 * mmap.PAGESIZE)
    done = subprocess.run([str(program), str(target)], capture_output=True, text=True,
                          timeout=60, check=True)
    found, descriptor, nowhere = done.stdout.splitlines()
    assert found == f"1 1 rw-s {mmap.PAGESIZE} {target}"
    assert descriptor == str(target)
    assert nowhere == "-1"  # nothing is mapped at address 0
