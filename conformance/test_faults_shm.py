"""Faults of shared-memory objects: bad names, exclusive creation, use after removal.

shm_open(3): glibc strips leading slashes and refuses (``EINVAL``) a name
that is then empty, contains another slash, or is too long (glibc 2.36 says
``EINVAL`` there too, where the page also lists ``ENAMETOOLONG``); with
``O_CREAT|O_EXCL`` an existing name is ``EEXIST``, without ``O_CREAT`` a
missing one ``ENOENT``.  shmctl(2) ``IPC_RMID``: the segment goes when its
last attachment does; Linux still allows attaching a removed segment while
it is attached somewhere, and after that ``shmat`` by id is ``EINVAL``.
"""

from __future__ import annotations

import contextlib

import pytest

from helpers import libc, names
from helpers.isolate.outcome import Outcome
from helpers.probes.faults_shm import attach_after_rmid, create_twice, open_bad_names

#: Where this module's System V keys start within the suite's 256 (others use the low end).
KEY_OFFSETS = range(0xE0, 0xF0)






MALFORMED = ("empty", "slash", "two slashes", "dot slash", "inner slash")
TOO_LONG = ("256 characters", "300 characters")


@pytest.mark.claim("fault.shm-open-bad-name-einval")
def test_malformed_shm_names_are_refused(probe, shm_name):
    unique = shm_name().lstrip("/")  # reserved: unlinked at teardown whatever happens
    bad = {"empty": "", "slash": "/", "two slashes": "//", "dot slash": f"./{unique}",
           "inner slash": f"/{unique}/b", "256 characters": "/" + (unique * 10)[:256],
           "300 characters": "/" + (unique * 10)[:300]}
    outcome = probe(open_bad_names, bad, unique)
    assert outcome.ok, outcome
    value = outcome.value
    assert value["before"] == value["after"] == [], "a malformed name created an object"
    results = value["results"]
    assert {results[label]["shm_open"] for label in MALFORMED} == {"EINVAL"}, outcome
    # One past NAME_MAX reaches open(2), which says ENAMETOOLONG; glibc 2.36 answers
    # EINVAL itself for names longer than its buffer.  Both are listed in shm_open(3).
    assert {results[label]["shm_open"] for label in TOO_LONG} <= {"EINVAL", "ENAMETOOLONG"}
    # glibc's shm_unlink reports a name it cannot use as absent (ENOENT), not EINVAL.
    unlinked = {result["shm_unlink"] for result in results.values()}
    assert unlinked <= {"ENOENT", "EINVAL", "ENAMETOOLONG"}, outcome


@pytest.mark.claim("fault.shm-open-excl-eexist")
def test_exclusive_creation_of_existing_name_fails_eexist(probe, shm_name):
    outcome = probe(create_twice, shm_name())
    assert outcome.ok, outcome
    assert outcome.value == {"first": "ok", "second": "EEXIST", "unlink": "ok",
                             "open_after_unlink": "ENOENT", "exists_at_end": False}, outcome


def sysv_keys() -> list[int]:
    """Return keys of the suite's range for this module's segments."""
    return [names.sysv_key_base() + offset for offset in KEY_OFFSETS]


def remove_unless_removed(outcome: Outcome) -> None:
    """Remove the probe's segment if it died before marking it for removal itself."""
    shmid = outcome.notes.get("shmid")
    if shmid is not None and not outcome.notes.get("removed"):
        with contextlib.suppress(OSError):
            libc.shmctl_rmid(shmid)


@pytest.mark.claim("fault.sysv-shmat-after-rmid")
def test_removed_segment_is_gone_after_last_detach(probe):
    outcome = probe(attach_after_rmid, sysv_keys())
    remove_unless_removed(outcome)
    assert outcome.ok, outcome
    value = outcome.value
    assert value["shmat_after_rmid_while_attached"] == "ok", outcome  # Linux-specific
    assert value["second_attachment_sees_the_segment"] is True, outcome
    assert value["shmat_after_last_detach"] == "EINVAL", outcome
    assert value["shmget_old_key"] == "ENOENT", outcome
