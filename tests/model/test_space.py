"""Self-tests of the pure model: single rules, on small hand-made sequences, no kernel."""

from __future__ import annotations

import pytest

from helpers.model import steps
from helpers.model.deviations import TailKeptOnGrowth
from helpers.model.platform import Platform
from helpers.model.results import UNSPECIFIED, Result
from helpers.model.space import Model, ModelMisuse

PAGE = 4096


def run(model: Model, *sequence: steps.Step) -> list[Result]:
    return [model.apply(step) for step in sequence]


def shm_of(size: int, *, kind: str = "shm") -> tuple[Model, list[steps.Step]]:
    """Return a model and the steps that made handle 0 an object of ``size`` bytes."""
    opening: list[steps.Step] = [
        steps.ShmOpen(name="a", flags="RDWR|CREAT") if kind == "shm"
        else steps.Open(name="x", flags="RDWR|CREAT"),
        steps.Ftruncate(handle=0, length=size)]
    model = Model(Platform())
    run(model, *opening)
    return model, opening


def test_offset_is_checked_before_the_descriptor():
    model = Model(Platform())
    bad_both = steps.Mmap(addr=0, length=PAGE, prot="READ", flags="SHARED|FIXED", handle=7,
                          offset=1)
    assert model.apply(bad_both) == Result.raised("EINVAL")
    assert model.apply(steps.Mmap(addr=0, length=PAGE, prot="READ", flags="SHARED|FIXED",
                                  handle=7)) == Result.raised("EBADF")


@pytest.mark.parametrize(("flags", "prot", "errno"), [
    ("RDONLY", "READ|WRITE", "EACCES"),  # MAP_SHARED + PROT_WRITE needs a writable fd
    ("WRONLY", "READ", "EACCES"),  # every file mapping needs a readable fd
])
def test_descriptor_mode_bounds_a_shared_mapping(flags, prot, errno):
    model = Model(Platform())
    run(model, steps.Open(name="x", flags=f"{flags}|CREAT"))
    mapping = steps.Mmap(addr=0, length=PAGE, prot=prot, flags="SHARED|FIXED", handle=0)
    assert model.apply(mapping) == Result.raised(errno)


def test_private_write_mapping_of_read_only_descriptor_is_allowed():
    model = Model(Platform())
    run(model, steps.Open(name="x", flags="RDONLY|CREAT"))
    assert model.apply(steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE",
                                  flags="PRIVATE|FIXED", handle=0)) == Result.returned(0)


def test_private_store_stays_out_of_the_file_and_shared_mappings():
    model, _ = shm_of(2 * PAGE)
    run(model,
        steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE", flags="PRIVATE|FIXED", handle=0),
        steps.Mmap(addr=PAGE, length=PAGE, prot="READ", flags="SHARED|FIXED", handle=0),
        steps.Store(addr=10, value=9))
    assert model.apply(steps.Load(addr=10)) == Result.returned(9)
    assert model.apply(steps.Load(addr=PAGE + 10)) == Result.returned(0)
    assert model.objects["o0"].cache[10] == 0


def test_private_page_shows_file_writes_until_written():
    model, _ = shm_of(PAGE)
    run(model,
        steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE", flags="PRIVATE|FIXED", handle=0),
        steps.Pwrite(handle=0, offset=5, length=1, value=3))
    assert model.apply(steps.Load(addr=5)) == Result.returned(3)
    run(model, steps.Store(addr=6, value=1), steps.Pwrite(handle=0, offset=5, length=1, value=4))
    assert model.apply(steps.Load(addr=5)) == Result.returned(3)


def test_page_past_end_of_file_raises_sigbus_but_the_tail_reads_zero():
    model, _ = shm_of(100)
    run(model, steps.Mmap(addr=0, length=2 * PAGE, prot="READ", flags="SHARED|FIXED",
                          handle=0))
    assert model.apply(steps.Load(addr=200)) == Result.returned(0)
    assert model.apply(steps.Load(addr=PAGE)) == Result.signalled("SIGBUS", "BUS_ADRERR", PAGE)
    assert not model.alive


def test_permission_fault_comes_before_end_of_file():
    model, _ = shm_of(0)
    run(model, steps.Mmap(addr=0, length=PAGE, prot="NONE", flags="SHARED|FIXED", handle=0))
    assert model.apply(steps.Load(addr=0)) == Result.signalled("SIGSEGV", "SEGV_ACCERR", 0)


def test_tail_store_on_a_file_with_writeback_becomes_unspecified():
    model, _ = shm_of(100, kind="file")
    run(model,
        steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE", flags="SHARED|FIXED", handle=0),
        steps.Store(addr=200, value=7))
    assert model.apply(steps.Load(addr=200)).value is UNSPECIFIED
    assert model.apply(steps.Load(addr=50)) == Result.returned(0)
    assert model.content(0, 0) is None  # the page holds unspecified bytes: not compared


def test_growth_reads_zero_and_tmpfs_variant_keeps_the_tail():
    for cls, expected in ((Model, 0), (TailKeptOnGrowth, 7)):
        model = cls(Platform())
        run(model, steps.ShmOpen(name="a", flags="RDWR|CREAT"),
            steps.Ftruncate(handle=0, length=100),
            steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE", flags="SHARED|FIXED", handle=0),
            steps.Store(addr=200, value=7), steps.Ftruncate(handle=0, length=300))
        assert model.objects["o0"].cache[200] == expected, cls


def test_shrink_discards_private_copies_past_the_new_end():
    model, _ = shm_of(2 * PAGE)
    run(model,
        steps.Mmap(addr=0, length=2 * PAGE, prot="READ|WRITE", flags="PRIVATE|FIXED", handle=0),
        steps.Store(addr=300, value=1), steps.Store(addr=PAGE + 1, value=2),
        steps.Ftruncate(handle=0, length=100))
    assert model.apply(steps.Load(addr=300)) == Result.returned(1)  # the partial page stays
    run(model, steps.Ftruncate(handle=0, length=2 * PAGE))
    assert model.apply(steps.Load(addr=PAGE + 1)) == Result.returned(0)


def test_mprotect_changes_pages_before_a_hole():
    model = Model(Platform())
    run(model, steps.Munmap(addr=2 * PAGE, length=PAGE))
    assert model.apply(steps.Mprotect(addr=0, length=4 * PAGE, prot="READ")) == \
        Result.raised("ENOMEM")
    assert [model.procs[0].pages[p].prot for p in (0, 1, 3)] == [
        frozenset({"READ"}), frozenset({"READ"}), frozenset()]


def test_zero_length_mprotect_succeeds_before_the_protection_is_checked():
    model = Model(Platform())
    assert model.apply(steps.Mprotect(addr=0, length=0, prot="0x40")) == Result.returned(None)
    assert model.apply(steps.Mprotect(addr=0, length=1, prot="0x40")) == Result.raised("EINVAL")


def test_msync_fails_on_any_hole_and_on_conflicting_flags():
    model = Model(Platform())
    run(model, steps.Munmap(addr=PAGE, length=PAGE))
    assert model.apply(steps.Msync(addr=0, length=PAGE, flags="SYNC")) == Result.returned(None)
    assert model.apply(steps.Msync(addr=0, length=2 * PAGE, flags="SYNC")) == \
        Result.raised("ENOMEM")
    assert model.apply(steps.Msync(addr=0, length=PAGE, flags="ASYNC|SYNC")) == \
        Result.raised("EINVAL")


def test_hint_is_taken_when_free_and_unspecified_otherwise():
    model = Model(Platform())
    free = steps.Mmap(addr=17 * PAGE + 5, length=PAGE, prot="READ", flags="PRIVATE|ANONYMOUS")
    assert model.apply(free) == Result.returned(17 * PAGE)
    taken = steps.Mmap(addr=0, length=PAGE, prot="READ", flags="PRIVATE|ANONYMOUS")
    assert model.apply(taken).value is UNSPECIFIED
    assert isinstance(model.settle(0), str)  # page 0 is mapped: the kernel may not put it there
    model.apply(taken)
    assert model.settle(1 << 40) == [("r--p", 0, None)]


def test_fork_copies_private_pages_and_shares_shared_ones():
    model = Model(Platform())
    run(model,
        steps.Mmap(addr=0, length=PAGE, prot="READ|WRITE", flags="PRIVATE|ANONYMOUS|FIXED"),
        steps.Mmap(addr=PAGE, length=PAGE, prot="READ|WRITE", flags="SHARED|ANONYMOUS|FIXED"),
        steps.Fork(), steps.Store(addr=0, value=1, proc=1), steps.Store(addr=PAGE, value=2, proc=1))
    assert model.apply(steps.Load(addr=0)) == Result.returned(0)
    assert model.apply(steps.Load(addr=PAGE)) == Result.returned(2)


def test_a_child_killed_by_a_signal_leaves_the_executor_alive():
    model = Model(Platform())
    run(model, steps.Fork())
    assert model.apply(steps.Load(addr=0, proc=1)).fatal
    assert model.alive and 1 not in model.procs
    assert model.normalise(steps.Load(addr=0, proc=1)).proc == 0


def test_shm_names_and_handles():
    model = Model(Platform())
    assert model.apply(steps.ShmOpen(name="a", flags="RDWR")) == Result.raised("ENOENT")
    assert model.apply(steps.ShmOpen(name="a", flags="RDWR|CREAT")) == Result.returned(0)
    assert model.apply(steps.ShmOpen(name="a", flags="RDWR|CREAT|EXCL")) == \
        Result.raised("EEXIST")
    assert model.apply(steps.ShmUnlink(name="a")) == Result.returned(None)
    assert model.apply(steps.ShmOpen(name="a", flags="RDONLY|CREAT")) == Result.returned(1)
    assert model.opened == ("o1", True)
    assert model.apply(steps.Ftruncate(handle=1, length=5)) == Result.raised("EINVAL")
    assert model.apply(steps.Close(handle=1)) == Result.returned(None)
    assert model.apply(steps.Close(handle=1)) == Result.raised("EBADF")


def test_steps_outside_the_model_are_misuse_not_outcomes():
    model = Model(Platform())
    with pytest.raises(ModelMisuse, match="window"):
        model.apply(steps.Mmap(addr=19 * PAGE, length=2 * PAGE, prot="READ",
                               flags="PRIVATE|ANONYMOUS|FIXED"))
    with pytest.raises(ModelMisuse, match="does not exist"):
        model.apply(steps.Exit())
