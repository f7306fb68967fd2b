"""A session: the model and the real kernel taking the same steps, compared after each.

:meth:`Session.run` takes one step: the model predicts its outcome and the
state that follows, the executor makes the call, and the two are compared:
the outcome (value, errno or signal with ``si_code`` and address), then the
state (every object's size and bytes, every process's pages in
``/proc/<pid>/maps`` and the bytes of every page the model says is
readable).  Any difference raises :class:`Disagreement`, whose message ends
with the sequence as a Python program that replays it.

A step that kills the executor ends its sequence; the next step starts a
fresh executor and a fresh model (a new *life*), so a run never stops early.
Objects a life created are removed when it ends, even if it crashed.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from helpers import libc, names
from helpers.model import compare, maps
from helpers.model.deviations import KNOWN, Deviation
from helpers.model.executor import Executor, ExecutorBroken
from helpers.model.figures import Stats
from helpers.model.platform import Platform, detect
from helpers.model.results import UNSPECIFIED, Result, from_wire
from helpers.model.space import ARENA_PAGES, WINDOW_PAGES, Model
from helpers.model.steps import Open, ShmOpen, ShmUnlink, Step

ModelFactory = Callable[..., Model]


class Disagreement(AssertionError):
    """The platform and the model disagree; the message ends with a replayable program."""

    def __init__(self, problems: Sequence[str], steps: Sequence[Step],
                 model: str = "Model", rules: Sequence[str] = ()) -> None:
        from helpers.model.replay import snippet

        self.problems = list(problems)
        self.steps = list(steps)
        self.model = model
        #: The rules the model decided the last step by: the ones the platform
        #: broke (empty when no rule decided it, and then any of them may be).
        self.rules = tuple(rules)
        last = self.steps[-1]
        lines = [f"the platform and the model ({model}) disagree at step {len(self.steps)} "
                 "of this sequence:", f"  {last.describe()}"]
        lines += [f"  - {p}" for p in self.problems]
        lines += ["Replay it with:", "", snippet(self.steps)]
        super().__init__("\n".join(lines))


@dataclass
class _Problem:
    """One difference; ``peek`` asks the executor for the bytes that explain it."""

    text: str
    peek: dict[str, Any] | None = None
    want: bytes = b""


def _cleanup(executor: Executor, directory: str, shm: set[str]) -> None:
    """Stop the executor and remove every object the session made (also at exit)."""
    executor.close()
    for name in list(shm):
        with contextlib.suppress(OSError):
            libc.shm_unlink(name)
        shm.discard(name)
    shutil.rmtree(directory, ignore_errors=True)


class Session:
    """Run steps against the model and the platform side by side."""

    def __init__(self, model_factory: ModelFactory = Model, *, platform: Platform | None = None,
                 deviations: Sequence[Deviation] = KNOWN, stats: Stats | None = None,
                 arena_pages: int = ARENA_PAGES, window_pages: int = WINDOW_PAGES) -> None:
        self.model_factory = model_factory
        self.directory = tempfile.mkdtemp(prefix=names.run_prefix() + "model-")
        self.platform = platform or detect(self.directory)
        self.deviations = tuple(deviations)
        self.stats = stats if stats is not None else Stats()
        self.arena_pages, self.window_pages = arena_pages, window_pages
        self.executor = Executor({
            "arena_pages": arena_pages, "window_pages": window_pages,
            "write_implies_read": self.platform.write_implies_read,
            "exec_implies_read": self.platform.exec_implies_read})
        self.model: Model | None = None
        self.life = 0
        self.steps: list[Step] = []
        self.base = 0
        self._shm: set[str] = set()
        self._life_shm: dict[str, str] = {}
        self._life_dir = ""
        self.identities = compare.Identities()
        #: Steps every life of the current sequence starts with (the machine's opening).
        self.opening: list[Step] = []
        #: Why the executor broke, once it has: the session then refuses every
        #: step with the same reason, so that a search that replays a sequence
        #: meets the same failure rather than a different one.
        self.broken: ExecutorBroken | None = None
        self._finalizer = weakref.finalize(self, _cleanup, self.executor, self.directory,
                                           self._shm)

    # --- lives -----------------------------------------------------------------------------

    def begin(self) -> None:
        """Start a fresh executor and a fresh model."""
        if self.model is not None:
            self.end()
        self._refuse_if_broken()
        self.life += 1
        self.stats.lives += 1
        self._life_dir = os.path.join(self.directory, f"life{self.life}")
        os.mkdir(self._life_dir)
        self._life_shm = {}
        try:
            self.base = self.executor.spawn()
        except ExecutorBroken as exc:
            self.broken = exc
            raise
        self.model = self.model_factory(self.platform, arena_pages=self.arena_pages,
                                        window_pages=self.window_pages)
        self.identities = compare.Identities()
        self.steps = []

    def end(self) -> None:
        """End the current life: stop its executor and remove what it created."""
        if self.model is None:
            return
        self.stats.rules.update(self.model.fired)
        self.model = None
        try:
            self.executor.finish()
        finally:
            self._drop_life_objects()

    def close(self) -> None:
        """End the session and remove everything it created."""
        try:
            self.end()
        finally:
            self._finalizer()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def child_alive(self) -> bool:
        """Return whether the executor has a forked child right now."""
        return self.model is not None and 1 in self.model.procs

    # --- steps -----------------------------------------------------------------------------

    def _real_shm(self, name: str) -> str:
        real = self._life_shm.get(name)
        if real is None:
            real = self._life_shm[name] = names.shm_name(f"model-{name}")
            self._shm.add(real)
        return real

    def _message(self, step: Step, new_handle: int, masks: list[int]) -> dict[str, Any]:
        message = step.wire()
        if isinstance(step, ShmOpen | ShmUnlink):
            message["real"] = self._real_shm(step.name)
        elif isinstance(step, Open):
            message["real"] = os.path.join(self._life_dir, step.name)
        message["new"] = new_handle
        message["m"] = masks
        return message

    def run(self, step: Step) -> Result:
        """Take ``step`` on both sides and return the platform's outcome.

        Raise :class:`Disagreement` when they differ and no known deviation
        explains it, :class:`~helpers.model.executor.ExecutorBroken` when the
        executor itself failed.
        """
        self._refuse_if_broken()
        started = time.perf_counter()
        try:
            return self._run(step)
        except ExecutorBroken as exc:
            self.broken = self.broken or exc
            raise
        finally:
            self.stats.session_seconds += time.perf_counter() - started

    def _refuse_if_broken(self) -> None:
        """Raise :class:`ExecutorBroken` again, with its reason, once the executor has broken."""
        if self.broken is not None:
            raise ExecutorBroken(f"the executor broke earlier in this session: {self.broken}",
                                 errno=self.broken.errno)

    def _run(self, step: Step) -> Result:
        if self.model is None:
            self.begin()
            for opening in self.opening:  # a new life after a death starts as the last one did
                self._run(opening)
        model = self.model
        assert model is not None
        step = model.normalise(step)
        self.steps.append(step)
        self.stats.steps += 1
        applicable = [d for d in self.deviations if d.applies(model, step)]
        before = copy.deepcopy(model) if applicable else None
        new_handle = model.next_handle
        expect = model.apply(step)
        decided_by = sorted(model.decided_by)
        digests = {proc: model.page_digests(proc) for proc in model.procs}
        masks = [sum(1 << p for p in digests.get(proc, ())) for proc in (0, 1)]
        answer = self.executor.request(self._message(step, new_handle, masks))
        if "harness" in answer:
            raise ExecutorBroken(f"the executor could not carry out {step!r}: "
                                 f"{answer['harness']}", errno=answer.get("errno"))
        observed = self._observed(answer)
        problems = self._check(model, step, expect, observed, answer, masks, digests)
        if problems and before is not None:
            for deviation in applicable:
                variant = copy.deepcopy(before)
                variant.__class__ = deviation.variant
                alt = variant.apply(step)
                if not self._check(variant, step, alt, observed, answer, masks):
                    variant.__class__ = type(model)
                    self.model = model = variant
                    self._found(deviation)
                    problems = []
                    break
        self.stats.outcomes[f"{step.op}:{observed.errno or observed.signal or 'ok'}"] += 1
        if problems:
            self._raise(model, problems, "end" not in answer, decided_by)
        if "end" in answer:
            self.stats.deaths += 1
            self.stats.rules.update(model.fired)
            self.model = None  # the executor is gone; the next step starts a new life
            self._drop_life_objects()
        elif observed.fatal:
            self.stats.deaths += 1
        return observed

    def _drop_life_objects(self) -> None:
        """Remove the shm objects and files of the life that just ended."""
        for real in self._life_shm.values():
            with contextlib.suppress(OSError):
                libc.shm_unlink(real)
            self._shm.discard(real)
        shutil.rmtree(self._life_dir, ignore_errors=True)

    def _observed(self, answer: dict[str, Any]) -> Result:
        raw = answer["end"] if "end" in answer else answer["r"]
        if raw[0] == "exit":
            raise ExecutorBroken(f"a process of the executor exited with status {raw[1]} "
                                 "instead of answering")
        observed = from_wire(raw)
        if "end" in answer and observed.addr is not None:  # the zygote saw an absolute address
            observed = Result.signalled(observed.signal or "", observed.si_code,
                                        observed.addr - self.base)
        return observed

    def _found(self, deviation: Deviation) -> None:
        finding = self.stats.findings.setdefault(deviation.id, deviation.finding())
        finding["count"] = int(finding["count"]) + 1

    # --- comparing -------------------------------------------------------------------------

    def _check(self, model: Model, step: Step, expect: Result, observed: Result,
               answer: dict[str, Any], masks: list[int],
               digests: dict[int, dict[int, int]] | None = None) -> list[_Problem]:
        if not expect.agrees(observed):
            return [_Problem(f"the model predicts it {expect.describe()}; on the platform it "
                             f"{observed.describe()}")]
        problems: list[_Problem] = []
        if step.op == "mmap" and expect.value is UNSPECIFIED:
            problems += self._settle(model, observed.value, answer.get("o", []))
        if model.opened is not None and "id" in answer \
                and (text := self.identities.bind(model.opened[0], answer["id"])) is not None:
            problems.append(_Problem(text))
        if "end" in answer or not model.alive:
            return problems
        return problems + self._check_state(model, answer, masks, digests)

    def _settle(self, model: Model, value: int, lines: list[str]) -> list[_Problem]:
        settled = model.settle(value)
        if isinstance(settled, str):
            return [_Problem(settled)]
        if not settled:
            return []
        expected = dict(enumerate(settled))
        observed = maps.pages(lines, self.base + value, model.page_size, len(settled))
        return [_Problem(f"outside the window: {text}") for text in compare.maps(
            0, expected, observed, self.identities, self._labeller(model), len(settled))]

    @staticmethod
    def _labeller(model: Model) -> Callable[[str], str]:
        return lambda oid: f"{model.objects[oid].label} ({oid})" if oid in model.objects else oid

    def _check_state(self, model: Model, answer: dict[str, Any], masks: list[int],
                     digests: dict[int, dict[int, int]] | None) -> list[_Problem]:
        problems: list[_Problem] = []
        label = self._labeller(model)
        for oid in compare.files(model.file_digests(), answer["f"], self.identities):
            obj = model.objects[oid]
            ident = self.identities.by_oid.get(oid)
            got = answer["f"].get(ident) if ident else None
            if got is None:
                text = f"{label(oid)}: the platform does not know this object"
            elif got[0] == obj.size:
                text = f"bytes of {label(oid)} differ (both {obj.size} bytes long)"
            else:
                text = (f"{label(oid)} is {obj.size} bytes long in the model, "
                        f"{got[0]} on the platform")
            problems.append(_Problem(text, {"peek": "file", "ident": ident} if got else None,
                                     bytes(obj.cache[:obj.size])))
        states = answer["s"]
        procs = sorted(model.procs)
        if len(states) != len(procs):
            problems.append(_Problem(f"the model has {len(procs)} process(es), the platform "
                                     f"{len(states)}"))
            return problems
        for proc, state in zip(procs, states, strict=True):
            observed = maps.pages(state["maps"], self.base, model.page_size, self.window_pages)
            problems += [_Problem(t) for t in compare.maps(
                proc, model.maps_view(proc), observed, self.identities, label,
                self.window_pages)]
            known = digests[proc] if digests and proc in digests else model.page_digests(proc)
            expected = {p: c for p, c in known.items() if masks[proc] >> p & 1}
            crcs = {int(p): c for p, c in state["crc"].items()}
            for page in compare.pages(proc, expected, crcs):
                view = model.content(proc, page)
                who = "the child" if proc else "the executor"
                problems.append(_Problem(
                    f"bytes of page {page} of {who} differ"
                    + ("" if page in crcs else " (the platform could not read it)"),
                    {"peek": "page", "proc": proc, "page": page} if page in crcs else None,
                    bytes(view) if view is not None else b""))
        return problems

    def _raise(self, model: Model, problems: list[_Problem], alive: bool,
               decided_by: Sequence[str]) -> None:
        texts = []
        for problem in problems:
            text = problem.text
            if problem.peek is not None and alive:
                with contextlib.suppress(ExecutorBroken, KeyError, TypeError, ValueError):
                    got = self.executor.request(problem.peek).get("hex")
                    if got is not None:
                        text += ": " + compare.first_difference(problem.want, bytes.fromhex(got))
            texts.append(text)
        steps = list(self.steps)
        self.stats.disagreement = {"summary": f"{steps[-1].describe()}: {texts[0]}",
                                   "problems": texts, "replay": _snippet(steps),
                                   "model": type(model).__name__, "rules": list(decided_by)}
        raise Disagreement(texts, steps, type(model).__name__, decided_by)


def _snippet(steps: list[Step]) -> str:
    from helpers.model.replay import snippet

    return snippet(steps)
