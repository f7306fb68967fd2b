"""Self-tests of the step executor against the kernel: outcomes, deaths, refusals, cleanup."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator

import pytest

from helpers import libc, names
from helpers.model import steps
from helpers.model.executor import ExecutorBroken, descriptor_shortage, descriptors_needed
from helpers.model.results import Result
from helpers.model.session import Disagreement, Session
from helpers.model.space import Model

PAGE = libc.PAGE_SIZE


@pytest.fixture(scope="module")
def session():
    with Session() as made:
        yield made


def test_window_starts_as_the_model_says(session):
    session.begin()
    # Nothing but the comparison itself: a fresh executor agrees with a fresh model.
    assert session.run(steps.Msync(addr=0, length=PAGE, flags="ASYNC")) == Result.returned(None)
    session.end()


def test_a_fault_in_the_executor_ends_the_life_and_names_its_si_code(session):
    session.begin()
    life = session.life
    outcome = session.run(steps.Load(addr=3 * PAGE + 7))
    assert outcome.signal == "SIGSEGV"
    if libc.available("ptrace"):
        assert (outcome.si_code, outcome.addr) == ("SEGV_ACCERR", 3 * PAGE + 7)
    assert session.model is None
    session.run(steps.Msync(addr=0, length=PAGE, flags="SYNC"))
    assert session.life == life + 1


def test_a_fault_in_the_child_leaves_the_executor_running(session):
    session.begin()
    session.run(steps.Fork())
    outcome = session.run(steps.Store(addr=19 * PAGE, value=1, proc=1))
    assert outcome.signal == "SIGSEGV"
    assert session.model is not None and not session.child_alive
    session.run(steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE",
                           flags="PRIVATE|ANONYMOUS|FIXED"))
    session.end()


def test_a_step_that_would_unmap_outside_the_window_is_refused(session):
    session.begin()
    answer = session.executor.request({**steps.Munmap(addr=19 * PAGE, length=3 * PAGE).wire(),
                                       "m": [0, 0], "new": 0})
    assert "refused" in answer["harness"]
    session.end()


def test_a_wrong_model_is_caught_with_a_replayable_sequence(session):
    class ZeroLength(Model):
        def munmap(self, s):
            return Result.returned(None)

    session.model_factory = ZeroLength
    try:
        session.begin()
        with pytest.raises(Disagreement) as caught:
            session.run(steps.Munmap(addr=0, length=0))
    finally:
        session.model_factory = Model
        session.end()
    message = str(caught.value)
    assert "failed with EINVAL" in message
    assert "replay([\n    Munmap(addr=0x0, length=0),\n])" in message


def test_nothing_is_left_behind():
    with Session() as made:
        made.run(steps.ShmOpen(name="a", flags="RDWR|CREAT"))
        made.run(steps.Open(name="x", flags="RDWR|CREAT"))
        directory = made.directory
    prefix = names.run_prefix()
    assert not os.path.exists(directory)
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(prefix + f"{os.getpid()}.")
                and "model-" in n]


def test_a_dead_executor_is_an_error_not_a_hang():
    with Session() as made:
        made.begin()
        zygote = made.executor._proc
        assert zygote is not None
        zygote.kill()
        zygote.wait(timeout=10)
        with pytest.raises(ExecutorBroken):
            made.run(steps.Load(addr=0))


@contextlib.contextmanager
def _descriptor_limit(soft: int) -> Iterator[None]:
    """Lower this process's RLIMIT_NOFILE (soft) for the block; children started in it keep it."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def test_an_actor_out_of_descriptors_names_emfile_and_the_session_stops():
    # Just enough for the zygote and the actor to start: each open step then takes
    # one more, until the actor's own read of /proc/self/maps finds none left.
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    with Session() as made:
        with _descriptor_limit(highest + 8):
            made.begin()
        with pytest.raises(ExecutorBroken) as broken:
            for _ in range(highest + 8):
                made.run(steps.Open(name="x", flags="RDWR|CREAT"))
        assert broken.value.errno == "EMFILE" and "EMFILE" in str(broken.value)
        with pytest.raises(ExecutorBroken, match=r"broke earlier.*EMFILE"):
            made.run(steps.Load(addr=0))


def test_a_descriptor_limit_below_a_sequence_is_named():
    with _descriptor_limit(descriptors_needed(50)):
        assert descriptor_shortage(50) is None
    with _descriptor_limit(descriptors_needed(50) - 1):
        reason = descriptor_shortage(50)
    assert reason is not None and "RLIMIT_NOFILE" in reason and "EMFILE" in reason
