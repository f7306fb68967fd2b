"""The hypothesis state machine: rules are calls, the check is the session's comparison.

:func:`build` returns a :class:`~hypothesis.stateful.RuleBasedStateMachine`
bound to one :class:`~helpers.model.session.Session` (one executor for all
the sequences of a run).  Each rule draws one step and hands it to the
session, which raises :class:`~helpers.model.session.Disagreement` when the
platform and the model differ; hypothesis then shrinks the sequence and the
final message carries the minimal one as a program (see
:mod:`helpers.model.replay`).  Each sequence starts with a fresh executor
and model, and a step that kills the executor starts another, so every rule
can always run.
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from helpers.model import steps
from helpers.model.session import Session
from helpers.model.strategies import Geometry


def _accessible(session: Session, kind: str, *, backed: bool = False
                ) -> list[tuple[int, dict[int, Any]]]:
    """Return ``(proc, pages)`` for each process with pages a ``kind`` access may touch.

    ``backed`` keeps only pages backed by a file or shm object, where the
    rules about end of file, sharing and copy-on-write come into play.
    """
    model = session.model
    if model is None:
        return []
    found = []
    for proc, state in sorted(model.procs.items()):
        pages = {p: page for p, page in state.pages.items()
                 if ("WRITE" in page.prot if kind == "store" else page.prot - {"EXEC"})
                 and (not backed or (page.obj is not None and page.obj.kind != "anon"))}
        if pages:
            found.append((proc, pages))
    return found


def _tails(session: Session) -> list[tuple[int, int, int, bool]]:
    """Return ``(proc, page, end of file in page, writable)`` for readable pages holding an end.

    Only pages where the file ends before the page does: there is a tail to touch.
    """
    model = session.model
    if model is None:
        return []
    size = model.page_size
    found = []
    for proc, state in sorted(model.procs.items()):
        for p, page in sorted(state.pages.items()):
            obj = page.obj
            if obj is None or obj.kind == "anon" or not page.prot - {"EXEC"}:
                continue
            edge = obj.size - page.pgoff * size
            if 0 <= edge < size and obj.size % size:
                found.append((proc, p, edge, "WRITE" in page.prot))
    return found


def _has_hole(session: Session) -> bool:
    """Return whether the executor's reservation has an unmapped page (munmap made it)."""
    model = session.model
    return model is not None and len(model.procs[0].pages.keys() & range(model.arena_pages)) \
        < model.arena_pages


def _worth_forking(session: Session) -> bool:
    """Return whether the executor has mapped something a child could inherit."""
    model = session.model
    return model is not None and any(
        page.prot or page.obj is not None for page in model.procs[0].pages.values())


def _pick(data: st.DataObject, targets: list[tuple[int, dict[int, Any]]]
          ) -> tuple[int, dict[int, Any]]:
    """Return one of ``targets``, drawn by index so that failures print short draws."""
    return targets[data.draw(st.integers(0, len(targets) - 1), label="process index")]


def build(session: Session, *, time_budget: float | None = None
          ) -> type[RuleBasedStateMachine]:
    """Return a state machine class whose sequences run through ``session``.

    With ``time_budget`` (seconds from now) no sequence starts after the
    budget is spent, so a long run ends on time even on a slow machine; the
    figures then say so.
    """
    deadline = time.monotonic() + time_budget if time_budget is not None else None
    geometry = Geometry(session.platform.page_size, session.window_pages)

    class AddressSpace(RuleBasedStateMachine):
        """Map, fork, truncate, write, unmap, protect and touch; compare after every step.

        Calls that manage objects and ranges are grouped into a few rules
        and memory accesses spread over several, so that about half of the
        steps touch memory: that is where the rules meet.
        """

        def __init__(self) -> None:
            super().__init__()
            if deadline is not None and time.monotonic() > deadline:
                # Out of time: every further sequence is rejected at once, and
                # hypothesis stops after its limit of rejected examples.
                session.stats.stopped_by_time_budget = True
                assume(False)
            session.stats.sequences += 1
            session.begin()

        def teardown(self) -> None:
            session.end()
            session.opening = []

        @initialize(opening=geometry.setups())
        def open_objects(self, opening: list[steps.Step]) -> None:
            session.opening = opening
            for step in opening:
                session.run(step)

        @rule(step=st.one_of(geometry.shm_opens(), geometry.opens()))
        def open_object(self, step: steps.ShmOpen | steps.Open) -> None:
            session.run(step)

        @rule(step=st.one_of(geometry.closes(), geometry.shm_unlinks()))
        def release_object(self, step: steps.Close | steps.ShmUnlink) -> None:
            session.run(step)

        @rule(step=st.one_of(geometry.ftruncates(), geometry.pwrites()))
        def resize_or_write(self, step: steps.Ftruncate | steps.Pwrite) -> None:
            session.run(step)

        @precondition(lambda self: session.model is not None and any(
            proc.fds for proc in session.model.procs.values()))
        @rule(data=st.data())
        def resize_object(self, data: st.DataObject) -> None:
            assert session.model is not None
            procs = [p for p, state in sorted(session.model.procs.items()) if state.fds]
            proc = procs[data.draw(st.integers(0, len(procs) - 1), label="process index")]
            session.run(geometry.sensible_resize(data, proc, session.model.procs[proc].fds))

        @rule(step=geometry.mmaps())
        def map_anything(self, step: steps.Mmap) -> None:
            session.run(step)

        @rule(data=st.data())
        def map_object(self, data: st.DataObject) -> None:
            proc = self._proc(data)
            assert session.model is not None
            session.run(geometry.sensible_mmap(data, proc, session.model.procs[proc].fds))

        @rule(step=st.one_of(geometry.ranges(steps.Munmap), geometry.ranges(steps.Mprotect),
                             geometry.ranges(steps.Msync)))
        def change_range(self, step: steps.Munmap | steps.Mprotect | steps.Msync) -> None:
            session.run(step)

        @rule(data=st.data())
        def change_mapping(self, data: st.DataObject) -> None:
            proc = self._proc(data)
            assert session.model is not None
            session.run(geometry.sensible_range(data, proc, session.model.procs[proc].pages))

        @precondition(lambda self: session.child_alive or _worth_forking(session))
        @rule()
        def toggle_child(self) -> None:
            session.run(steps.Exit() if session.child_alive else steps.Fork())

        def _proc(self, data: st.DataObject) -> int:
            if session.model is None:
                session.begin()
                for step in session.opening:
                    session.run(step)
            assert session.model is not None
            proc = data.draw(geometry.procs, label="proc")
            return proc if proc in session.model.procs else 0

        @precondition(lambda self: bool(_accessible(session, "load")))
        @rule(data=st.data())
        def load(self, data: st.DataObject) -> None:
            proc, pages = _pick(data, _accessible(session, "load"))
            session.run(steps.Load(addr=geometry.touch(data, pages), proc=proc))

        @precondition(lambda self: bool(_accessible(session, "store")))
        @rule(data=st.data())
        def store(self, data: st.DataObject) -> None:
            proc, pages = _pick(data, _accessible(session, "store"))
            value = data.draw(geometry.values, label="value")
            session.run(steps.Store(addr=geometry.touch(data, pages), value=value, proc=proc))

        @precondition(lambda self: bool(_accessible(session, "load", backed=True)))
        @rule(data=st.data())
        def load_from_object(self, data: st.DataObject) -> None:
            proc, pages = _pick(data, _accessible(session, "load", backed=True))
            session.run(steps.Load(addr=geometry.touch(data, pages), proc=proc))

        @precondition(lambda self: bool(_accessible(session, "store", backed=True)))
        @rule(data=st.data())
        def store_to_object(self, data: st.DataObject) -> None:
            proc, pages = _pick(data, _accessible(session, "store", backed=True))
            value = data.draw(geometry.values, label="value")
            session.run(steps.Store(addr=geometry.touch(data, pages), value=value, proc=proc))

        @precondition(lambda self: bool(_tails(session)))
        @rule(data=st.data())
        def touch_tail(self, data: st.DataObject) -> None:
            # mmap(2): the rest of the last page reads as zero, and what is stored
            # there never reaches the file; the check is on the bytes after the step.
            proc, page, edge, writable = data.draw(st.sampled_from(_tails(session)),
                                                   label="tail")
            addr = page * geometry.page_size + data.draw(
                st.integers(edge, geometry.page_size - 1), label="offset past end of file")
            if writable and data.draw(st.booleans(), label="store"):
                value = data.draw(geometry.values, label="value")
                session.run(steps.Store(addr=addr, value=value, proc=proc))
            else:
                session.run(steps.Load(addr=addr, proc=proc))

        @precondition(lambda self: session.child_alive or _has_hole(session))
        @rule(step=st.one_of(geometry.loads(), geometry.stores()))
        def touch_anywhere(self, step: steps.Load | steps.Store) -> None:
            # Mostly in the child, whose death by a signal ends nothing else; in the
            # executor only once munmap has made holes worth falling into.
            session.run(step)

    AddressSpace.__name__ = AddressSpace.__qualname__ = "AddressSpace"
    return AddressSpace


__all__ = ["build"]
