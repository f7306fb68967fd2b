"""Self-tests of the isolated runner: every way a probe can end is reported as data."""

from __future__ import annotations

import os

import pytest

from helpers import isolate, libc
from helpers.isolate import IsolationMisuse, OutcomeKind
from helpers.isolate.client import ForkServer
from helpers.probes import selftest


def test_returned_value_and_arguments_arrive_intact():
    outcome = isolate.run(selftest.echo, 1, "two", b"three".hex(), key=[4])
    assert outcome.kind is OutcomeKind.RETURNED
    assert outcome.value == {"args": [1, "two", "7468726565"], "kwargs": {"key": [4]}}
    assert outcome.duration_s > 0


def test_string_target_is_resolved():
    assert isolate.run("helpers.probes.selftest:echo", 5).value == {"args": [5], "kwargs": {}}


def test_oserror_is_reported_by_errno_name():
    outcome = isolate.run(selftest.raise_oserror)
    assert (outcome.kind, outcome.errno, outcome.exception) == (
        OutcomeKind.RAISED, "ENOENT", "FileNotFoundError")


def test_sigbus_names_signal_si_code_and_offset(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    outcome = isolate.run(selftest.touch_empty_file_mapping, str(empty))
    assert (outcome.kind, outcome.signal) == (OutcomeKind.SIGNALLED, "SIGBUS")
    if libc.available("ptrace"):
        assert outcome.si_code == "BUS_ADRERR"
        assert outcome.fault_offset == 8


def test_sigsegv_after_munmap_is_maperr():
    outcome = isolate.run(selftest.segv_after_munmap)
    assert outcome.signal == "SIGSEGV"
    assert outcome.si_code in ("SEGV_MAPERR", None)
    assert outcome.fault_offset in (0, None)


def test_child_dumps_no_core():
    outcome = isolate.run("resource:getrlimit", 4)  # RLIMIT_CORE on Linux
    assert outcome.value == [0, 0]


def test_hanging_probe_is_killed_at_its_timeout_with_its_descendants():
    # The timeout is generous so that even a loaded machine forks the
    # grandchild (and notes its pid) long before the probe is killed.
    outcome = isolate.run(selftest.hang_with_grandchild, timeout=3.0)
    assert outcome.kind is OutcomeKind.TIMEOUT
    assert 3.0 <= outcome.duration_s < 13
    grandchild = outcome.notes.get("grandchild")
    assert isinstance(grandchild, int) and grandchild > 0
    with pytest.raises(ProcessLookupError):
        os.kill(grandchild, 0)


def test_exit_without_result_is_exited():
    outcome = isolate.run(selftest.exit_with, 3)
    assert (outcome.kind, outcome.exit_code) == (OutcomeKind.EXITED, 3)


@pytest.mark.parametrize(("target", "words"), [
    ("helpers.nope:x", "cannot import module 'helpers.nope'"),
    ("helpers.probes.selftest:nope", "has no attribute 'nope'"),
    ("no-colon", "is not of the form"),
    (selftest.send_garbage, "malformed message"),
    (selftest.not_json, "not JSON"),
])
def test_broken_targets_are_errors_with_a_clear_message(target, words):
    outcome = isolate.run(target)
    assert outcome.kind is OutcomeKind.ERROR
    assert words in outcome.message


def test_dead_server_is_an_error_then_replaced():
    server = ForkServer()
    try:
        outcome = server.call("helpers.probes.selftest:kill_server", (), {}, timeout=5,
                              rlimits={})
        assert outcome.kind is OutcomeKind.ERROR
        assert "fork server failed" in outcome.message
        again = server.call("helpers.probes.selftest:noop", (), {}, timeout=5, rlimits={})
        assert again.kind is OutcomeKind.RETURNED
    finally:
        server.close()


def test_rlimits_apply_in_the_child_only():
    limit = 1 << 30
    outcome = isolate.run(selftest.rlimit_as, rlimits={"RLIMIT_AS": (limit, limit)})
    assert outcome.value == [limit, limit]
    import resource

    assert resource.getrlimit(resource.RLIMIT_AS) != (limit, limit)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: isolate.run(lambda: None), "not a module-level function"),
    (lambda: isolate.run(selftest.noop, timeout=0), "timeout must be a positive"),
    (lambda: isolate.run(selftest.noop, rlimits={"AS": (1, 1)}), "names like 'RLIMIT_AS'"),
    (lambda: isolate.run(selftest.echo, lambda: 1), "cannot be sent"),
])
def test_misuse_raises_with_the_fix(call, words):
    with pytest.raises(IsolationMisuse, match=words):
        call()


def test_outcome_round_trips_and_reprs_as_python():
    outcome = isolate.run(selftest.raise_oserror)
    assert isolate.Outcome.from_dict(outcome.to_dict()) == outcome
    assert repr(outcome).startswith("Outcome(kind=OutcomeKind.RAISED")
    assert "ENOENT" in outcome.summary()


def test_child_leads_its_own_process_group():
    # Its own group is what lets a timeout kill the probe's descendants too.
    outcome = isolate.run(selftest.process_group)
    assert outcome.value["pgid"] == outcome.value["pid"] != os.getpgid(0)


def test_a_refused_setup_is_its_own_outcome_never_the_call_under_test():
    outcome = isolate.run(selftest.refuse_setup, "cannot become uid 65534: setresgid failed with "
                          "EINVAL")
    assert outcome.setup_refused and outcome.errno is None
    assert outcome.message == "cannot become uid 65534: setresgid failed with EINVAL"
    assert not isolate.run(selftest.raise_oserror).setup_refused


def test_a_limit_the_child_may_not_set_is_a_refused_setup_naming_the_errno():
    # A soft limit above the hard one is refused whatever the privilege.
    outcome = isolate.run(selftest.noop, rlimits={"RLIMIT_NOFILE": (64, 32)})
    assert outcome.setup_refused, outcome
    assert "RLIMIT_NOFILE" in outcome.message and "EINVAL" in outcome.message
    raised = isolate.run(selftest.raise_hard_limit_unprivileged)
    assert raised.setup_refused, raised
    assert "EPERM" in raised.message and "CAP_SYS_RESOURCE" in raised.message


def test_a_broken_harness_says_why_in_the_outcome():
    # The name passes the runner's check but is no limit: the child's harness breaks.
    outcome = isolate.run(selftest.noop, rlimits={"RLIMIT_NO_SUCH_LIMIT": (1, 1)})
    assert outcome.kind is OutcomeKind.ERROR
    assert outcome.message == ("the isolation harness failed inside the child: "
                               "KeyError: 'RLIMIT_NO_SUCH_LIMIT'")


def test_root_of_a_user_namespace_cannot_become_nobody_and_says_why():
    outcome = isolate.run(selftest.become_nobody_as_namespace_root)
    if outcome.errno is not None:
        pytest.skip(f"this run cannot make a user namespace: {outcome.summary()}")
    assert outcome.setup_refused, outcome
    assert outcome.message.startswith("cannot become uid 65534: setgroups failed with EPERM")
    assert "/proc/self/setgroups is 'deny'" in outcome.message
