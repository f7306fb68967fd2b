"""Self-tests of what counts as privilege: a capability honoured by the kernel, not just its bit."""

from __future__ import annotations

import pytest

from helpers import isolate
from helpers.libc import PAGE_SIZE
from helpers.platform import capable, privileged
from helpers.probes import selftest
from helpers.probes.faults_privilege import CAPABILITIES, holds_over_machine


def test_root_of_a_user_namespace_holds_the_bit_but_not_the_power():
    outcome = isolate.run(selftest.capability_as_namespace_root, "CAP_IPC_LOCK")
    if outcome.errno is not None:
        pytest.skip(f"this run cannot make a user namespace: {outcome.summary()}")
    # The bit alone would let a check believe RLIMIT_MEMLOCK does not bind it.
    assert outcome.value == {"effective": True, "over_machine": False}, outcome


def test_privileged_is_capable_of_cap_sys_admin_and_one_answer_for_both():
    assert privileged() == capable(CAPABILITIES["CAP_SYS_ADMIN"])
    assert holds_over_machine("CAP_SYS_ADMIN") == privileged()


def test_allow_locking_raises_the_soft_limit_up_to_the_hard_one_and_no_further():
    # A soft limit of 0 under a hard one of 1 MiB: a page may be locked once raised.
    room = isolate.run(selftest.lock_a_page_without_privilege,
                       rlimits={"RLIMIT_MEMLOCK": (0, 1 << 20)})
    assert room.ok, room
    assert room.value["mlock"] == "ok" and room.value["soft"] >= PAGE_SIZE
    # A hard limit of 0 (ulimit -l 0): the probe's setup is refused, naming the errno.
    none = isolate.run(selftest.lock_a_page_without_privilege, rlimits={"RLIMIT_MEMLOCK": (0, 0)})
    assert none.setup_refused, none
    assert "prlimit failed with EPERM" in none.message
