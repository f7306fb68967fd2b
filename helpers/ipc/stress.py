"""``python -m helpers.ipc.stress``: the channel under load, under kills, and under hostile headers.

Five phases, each bounded in time, printing figures as they go:

1. load: 1x1, 4x1, 1x4 and 4x4 producers x consumers with random message
   sizes, ten million messages in all, checked for exactly-once delivery
   and per-producer order;
2. chaos: three producers and three consumers, killed with ``SIGKILL`` and
   restarted for a fixed time, some at random instants and some at a named
   fault point they armed themselves (at least 1,000 kills); afterwards no
   committed message may be missing, no message torn, and a message may be
   delivered twice only if a consumer was killed while taking it;
3. kill anywhere: a victim killed at every bytecode of send, recv,
   send_many, recv_many and recv_into, on the fast and the slow path
   (``helpers.ipc.anywhere``; skipped by ``--quick``);
4. timed kills: victims sending or receiving 1 MiB messages die by a
   timer's ``SIGALRM`` at random microsecond offsets, many inside the copy
   of a payload (``helpers.ipc.timed_kills``);
5. fuzz: at least 10,000 corrupt or hostile images, one to four fields
   changed at once, each attached to in its own child with a deadline: only
   ``CorruptChannel`` (or a working channel) is right; hangs are counted.

The results go to ``reports/out/stress.json``; ``--quick`` runs a few
seconds of each phase (what the test suite calls).  The exit status is 1
when an invariant failed (a message lost, torn, duplicated, a crash, a
stall or a leftover), 0 otherwise; a shortfall in scale is reported too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from helpers import names
from helpers.ipc import (
    anywhere,
    chaos,
    faults,
    hostile,
    procs,
    provenance,
    roles,
    timed_kills,
    workload,
)
from helpers.ipc.channel import Channel
from helpers.ipc.errors import ChannelError
from helpers.ipc.naming import fresh_name

LOAD_SHAPES = ((1, 1, 0.4), (4, 1, 0.2), (1, 4, 0.2), (4, 4, 0.2))
SIZES = (20, 1024)
RECOVERY_LIMIT = 5.0
SEND_POINTS = tuple(p for p in faults.POINTS if p.startswith("send."))
RECV_POINTS = tuple(p for p in faults.POINTS if p.startswith("recv."))

Log = Callable[[str], None]


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---------------------------------------------------------------------- load


def run_load(total: int, deadline: float, log: Log) -> dict[str, Any]:
    """Run every load shape; return its figures and verdicts."""
    shapes = []
    for producers, consumers, share in LOAD_SHAPES:
        if time.monotonic() >= deadline:
            shapes.append({"shape": f"{producers}x{consumers}", "skipped": "time budget spent"})
            continue
        count = max(int(total * share) // producers, 1)
        batch = 1 if consumers == 1 else 32
        started = time.perf_counter()
        with Channel.create(fresh_name("shm", "load"), 1 << 20) as channel:
            peer = roles.Peer.of(channel)
            takers = [procs.spawn(roles.consume, peer, batch=batch, idle_timeout=60.0)
                      for _ in range(consumers)]
            makers = [procs.spawn(roles.produce, peer, p, count, SIZES, timeout=60.0)
                      for p in range(producers)]
            try:
                limit = max(deadline - time.monotonic(), 30.0) + 60.0
                sent = {p: maker.join(timeout=limit) for p, maker in enumerate(makers)}
                roles.stop_consumers(channel, consumers)
                tallies = [taker.join(timeout=120.0) for taker in takers]
            finally:
                for child in takers + makers:
                    child.close()
        seconds = time.perf_counter() - started
        verdict = workload.verify(tallies, sent)
        moved = sum(t.bytes for t in tallies)
        entry = {
            "shape": f"{producers}x{consumers}", "messages": sum(sent.values()),
            "bytes": moved, "seconds": round(seconds, 3),
            "msgs_per_s": round(sum(sent.values()) / seconds),
            "mb_per_s": round(moved / seconds / 1e6, 1),
            "stopped_cleanly": all(t.stopped for t in tallies), **asdict(verdict),
        }
        shapes.append(entry)
        log(f"load {entry['shape']}: {entry['messages']:,} messages, {moved / 1e6:,.1f} MB in "
            f"{seconds:.1f} s = {entry['msgs_per_s']:,} msgs/s; lost {verdict.lost}, "
            f"duplicated {verdict.duplicated}, torn {verdict.torn}, "
            f"out of order {verdict.out_of_order}")
    return {"shapes": shapes}


# ---------------------------------------------------------------------- chaos


class Cast:
    """The running producers and consumers of a chaos run, and their replacements."""

    def __init__(self, peer: roles.Peer, ledger: chaos.Ledger, rng: random.Random) -> None:
        self.peer = peer
        self.ledger = ledger
        self.rng = rng
        self.next_producer = 0
        self.producers: list[procs.Child | None] = []
        self.consumers: list[procs.Child | None] = []
        self.settled = 0
        self.arming = True
        self.failures: list[str] = []

    def _arming(self, points: tuple[str, ...]) -> tuple[str, int] | None:
        if self.arming and self.rng.random() < 0.3:
            return self.rng.choice(points), self.rng.randrange(0, 400)
        return None

    def start_producer(self, index: int) -> None:
        """Start a producer with a fresh id in place ``index``."""
        if self.next_producer >= self.ledger.producers:
            self.producers[index] = None
            return
        producer = self.next_producer
        self.next_producer += 1
        self.producers[index] = procs.spawn(chaos.producer_main, self.peer, self.ledger,
                                            producer, SIZES, self._arming(SEND_POINTS))

    def start_consumer(self, slot: int) -> None:
        """Start a consumer in slot ``slot``."""
        self.consumers[slot] = procs.spawn(chaos.consumer_main, self.peer, self.ledger, slot,
                                           self._arming(RECV_POINTS))

    def replace(self, consumer: bool, place: int) -> int:
        """Start a successor in ``place`` after its child ended; return 1 if a message was settled.

        A killed consumer's scratch buffer is settled first (see
        ``chaos.Ledger.settle_killed_consumer``).
        """
        if consumer:
            settled = int(self.ledger.settle_killed_consumer(place))
            self.settled += settled
            self.start_consumer(place)
            return settled
        self.start_producer(place)
        return 0

    def sweep(self, kills: Counter) -> int:
        """Replace every participant that ended by itself; return messages settled."""
        settled = 0
        for is_consumer, members in ((False, self.producers), (True, self.consumers)):
            for place, child in enumerate(members):
                if child is not None and not child.alive():
                    kills["at a fault point" if child.status == "SIGKILL"
                          else f"ended with {child.status}"] += 1
                    if child.status != "SIGKILL":
                        self._note_failure(child)
                    child.close()
                    settled += self.replace(is_consumer, place)
        return settled

    def wind_down(self, channel: Channel, kills: Counter, limit: float = 60.0) -> int:
        """Stop producers, then get a stop message to every consumer; return how many never stop.

        Consumers armed at a fault point may still die now: each death is
        replaced by an unarmed consumer and answered by one more stop
        message (a spare one left in the ring is harmless), so every
        message sent before the stops is received.
        """
        self.arming = False
        self.ledger.stop_flag()[0] = 1
        for child in self.producers:
            if child is not None:
                child.wait(timeout=30.0)
        deadline = time.monotonic() + limit
        owed = len(self.consumers)
        finished: set[int] = set()
        while len(finished) < len(self.consumers) and time.monotonic() < deadline:
            for slot, child in enumerate(self.consumers):
                if slot in finished or child is None or child.alive():
                    continue
                if child.status == "exit 0":
                    finished.add(slot)
                    continue
                kills["at a fault point" if child.status == "SIGKILL"
                      else f"ended with {child.status}"] += 1
                child.close()
                self.replace(True, slot)
                owed += 1
            while owed:
                try:
                    channel.send(roles.STOP, timeout=0.05)
                except ChannelError:
                    break
                owed -= 1
            time.sleep(0.001)  # pacing of the checks above; each wait is bounded
        return len(self.consumers) - len(finished)

    def _note_failure(self, child: procs.Child) -> None:
        """Keep the first few distinct reasons a participant ended by itself."""
        try:
            reason = f"returned {child.join(timeout=1.0)!r}"
        except procs.ChildFailed as exc:
            reason = str(exc).strip().splitlines()[-1]
        if reason not in self.failures and len(self.failures) < 10:
            self.failures.append(reason)

    def everyone(self) -> list[procs.Child]:
        """Return every child that was started and is not replaced yet."""
        return [c for c in self.producers + self.consumers if c is not None]


def _recover(channel: Channel, head: int, tail: int,
             sweep: Callable[[], None]) -> float | None:
    """Return seconds until HEAD and TAIL both moved past (head, tail); None on a stall.

    ``sweep`` replaces participants that died meanwhile (at their own fault
    point), so that the wait measures the channel, not an empty cast.
    """
    started = time.monotonic()
    while True:
        now = channel.statistics()
        if now.head > head and now.tail > tail:
            return time.monotonic() - started
        if time.monotonic() - started > RECOVERY_LIMIT:
            return None
        sweep()
        time.sleep(0.0002)


def _stall_report(channel: Channel, cast: Cast) -> dict[str, Any]:
    """Return what the channel and every participant were doing when progress stopped."""

    def where(child: procs.Child | None) -> str:
        if child is None:
            return "none"
        try:
            with open(f"/proc/{child.pid}/wchan") as handle:
                wchan = handle.read().strip()
            with open(f"/proc/{child.pid}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return f"{child.pid}: gone ({child.status})"
        return f"{child.pid}: {state} in {wchan or '-'}"

    return {"statistics": asdict(channel.statistics()),
            "producers": [where(c) for c in cast.producers],
            "consumers": [where(c) for c in cast.consumers]}


def run_chaos(seconds: float, producers: int, consumers: int, log: Log,
              seed: int) -> dict[str, Any]:
    """Kill and restart participants for ``seconds``; return the figures and the reckoning."""
    rng = random.Random(seed)
    ledger = chaos.Ledger.create(producers=8192, consumers=consumers)
    kills = Counter()
    recoveries: list[float] = []
    stalls = 0
    stall_reports: list[dict[str, Any]] = []
    with Channel.create(fresh_name("shm", "chaos"), 1 << 16) as channel:
        cast = Cast(roles.Peer.of(channel), ledger, rng)
        cast.producers = [None] * producers
        cast.consumers = [None] * consumers
        try:
            for index in range(producers):
                cast.start_producer(index)
            for slot in range(consumers):
                cast.start_consumer(slot)
            end = time.monotonic() + seconds
            report_at = time.monotonic() + 5.0
            while time.monotonic() < end:
                time.sleep(rng.uniform(0.002, 0.02))  # pacing of the kills, not a synchronisation
                before = channel.statistics()
                group = cast.producers if rng.random() < 0.5 else cast.consumers
                index = rng.randrange(len(group))
                victim = group[index]
                if victim is not None and victim.alive():
                    victim.kill()
                    victim.wait(timeout=10.0)
                    kills["random instant"] += 1
                    cast.replace(group is cast.consumers, index)
                cast.sweep(kills)
                took = _recover(channel, before.head, before.tail,
                                lambda: cast.sweep(kills))
                if took is None:
                    stalls += 1
                    stall_reports.append(_stall_report(channel, cast))
                    log(f"chaos: STALL: {stall_reports[-1]}")
                else:
                    recoveries.append(took)
                if time.monotonic() >= report_at:
                    report_at += 5.0
                    log(f"chaos: {sum(kills.values()):,} kills so far, "
                        f"{channel.statistics().head // 1_000_000:,} MB through the ring")
            unfinished = cast.wind_down(channel, kills)
            if unfinished:
                stalls += 1
                stall_reports.append({"wind-down": f"{unfinished} consumer(s) never stopped",
                                      **_stall_report(channel, cast)})
        finally:
            for child in cast.everyone():
                child.close()
    verdict = chaos.reckon(ledger, cast.next_producer)
    ledger.area.close()
    p50 = _percentile(recoveries, 0.5)
    worst = max(recoveries) if recoveries else None
    result = {
        "seconds": seconds, "producers": producers, "consumers": consumers,
        "kills": kills["random instant"] + kills["at a fault point"],
        "kills_by_kind": dict(kills), "producer_ids_used": cast.next_producer,
        "taken_by_killed_consumers": cast.settled, "stalls": stalls,
        "recovery_p50_ms": round(p50 * 1000, 3) if p50 is not None else None,
        "recovery_max_ms": round(worst * 1000, 3) if worst is not None else None,
        "recoveries_over_100ms": sum(1 for r in recoveries if r > 0.1),
        "stall_reports": stall_reports,
        "participant_failures": cast.failures,
        **asdict(verdict),
    }
    log(f"chaos: {result['kills']:,} kills in {seconds:.0f} s; committed {verdict.committed:,}, "
        f"lost {verdict.lost}, torn {verdict.torn}, duplicated {verdict.duplicated} "
        f"(+{verdict.redelivered} redelivered after a consumer kill), stalls {stalls}, "
        f"recovery p50 {result['recovery_p50_ms']} ms max {result['recovery_max_ms']} ms")
    return result


# ---------------------------------------------------------------------- fuzz


def run_fuzz(count: int, deadline: float, log: Log, seed: int) -> dict[str, Any]:
    """Attach to ``count`` hostile images, each in a child with a deadline; count outcomes.

    Each image has one to four fields changed at once: every other one
    before the attach, the others after it, while the child uses the channel
    (``hostile.attempt``'s ``live``).  A child that overstays its deadline is
    a hang, one that dies by a signal a crash, one that raises anything but
    ``ChannelError`` a foreign exception.
    """
    image, data_offset = hostile.channel_image((b"first", b"second message"), max_peers=8,
                                               tag="fuzz-template")
    outcomes: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    path = fresh_name("file", "fuzz")
    done = 0
    report_at = time.monotonic() + 5.0
    try:
        while done < count and time.monotonic() < deadline:
            live = bool(done % 2)
            mutations = hostile.random_mutations(random.Random(seed * 1_000_003 + done),
                                                 data_offset, resize=not live)
            if live:
                outcome = hostile.isolated(path, image, live=mutations, data_offset=data_offset)
            else:
                outcome = hostile.isolated(path, hostile.apply_all(image, mutations, data_offset))
            outcomes[outcome] += 1
            if outcome in hostile.FINDINGS and len(findings) < 50:
                findings.append({"index": done, "outcome": outcome, "after_attach": live,
                                 "mutations": [m.describe() for m in mutations]})
            done += 1
            if time.monotonic() >= report_at:
                report_at += 5.0
                log(f"fuzz: {done:,} hostile images tried: {dict(outcomes)}")
    finally:
        if os.path.exists(path):
            os.unlink(path)
    return {"tried": done, "outcomes": dict(outcomes), "findings": findings,
            "hangs": outcomes["hang"],
            "crashes": sum(outcomes[name] for name in hostile.FINDINGS)}


# ---------------------------------------------------------------------- kill anywhere


def run_anywhere(deadline: float, log: Log) -> dict[str, Any]:
    """Kill a victim at every bytecode of every operation and path; return the damage."""
    cases = []
    with Channel.create(fresh_name("shm", "anywhere"), 4096) as channel:
        for operation, path in anywhere.CASES:
            if time.monotonic() >= deadline:
                break
            result = anywhere.sweep(channel, operation, path)
            cases.append(asdict(result))
            log(f"anywhere: {operation}/{path}: {result.kills} kills over "
                f"{result.bytecodes} bytecodes, torn {result.torn}, lost {result.lost}, "
                f"duplicated {result.duplicated}, stalls {result.stalls}")
    return {"cases": cases, "kills": sum(c["kills"] for c in cases),
            "complete": len(cases) == len(anywhere.CASES)
            and all(c["kills"] == c["bytecodes"] for c in cases)}


# ---------------------------------------------------------------------- timed kills


def run_timed(rounds: int, deadline: float, log: Log, seed: int) -> dict[str, Any]:
    """Kill senders and receivers of 1 MiB messages by a timer; return each side's damage."""
    sides = []
    for index, side in enumerate(timed_kills.SIDES):
        share = deadline if index else time.monotonic() + (deadline - time.monotonic()) / 2
        outcome = timed_kills.run(side, rounds, seed + index, deadline=share)
        sides.append(asdict(outcome))
        log(f"timed kills: {side}: {outcome.kills} kills in {outcome.rounds} rounds, "
            f"{outcome.inside_copy} inside a copy ({outcome.before_copy} before, "
            f"{outcome.after_copy} after); torn {outcome.torn}, lost {outcome.lost}, "
            f"duplicated {outcome.duplicated}, stalls {outcome.stalls}")
    return {"sides": sides, "kills": sum(s["kills"] for s in sides),
            "inside_copy": sum(s["inside_copy"] for s in sides)}


# ---------------------------------------------------------------------- leftovers


def leftovers() -> list[str]:
    """Return objects this process made that are still in /dev/shm or the temporary directory.

    Only this process's names count: other processes of the same run (test
    workers beside it) may have objects of their own open at this moment.
    """
    prefix = f"{names.run_prefix()}{os.getpid()}."
    found = []
    for directory in ("/dev/shm", tempfile.gettempdir()):
        try:
            found += [os.path.join(directory, entry) for entry in os.listdir(directory)
                      if entry.startswith(prefix)]
        except OSError:
            continue
    return found


# ---------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    """Run the phases, print figures, write the JSON; return 1 if an invariant failed."""
    parser = argparse.ArgumentParser(prog="python -m helpers.ipc.stress",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds of each phase")
    parser.add_argument("--messages", type=int, default=None,
                        help="messages in the load phase (default 10,000,000; quick 40,000)")
    parser.add_argument("--chaos-seconds", type=float, default=None,
                        help="length of the chaos phase (default 90; quick 3)")
    parser.add_argument("--fuzz", type=int, default=None,
                        help="hostile images to try (default 10,000; quick 200)")
    parser.add_argument("--timed-rounds", type=int, default=None,
                        help="timer-killed victims per side (default 400; quick 20)")
    parser.add_argument("--budget", type=float, default=540.0,
                        help="seconds after which no phase step starts (default 540)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--out", default=str(provenance.OUT_DIR / "stress.json"))
    args = parser.parse_args(argv)
    messages = args.messages or (40_000 if args.quick else 10_000_000)
    chaos_seconds = args.chaos_seconds or (3.0 if args.quick else 90.0)
    fuzz_count = args.fuzz or (200 if args.quick else 10_000)
    timed_rounds = args.timed_rounds or (20 if args.quick else 400)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    started = time.monotonic()
    budget_end = started + args.budget

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {line}", flush=True)

    document = provenance.describe("python -m helpers.ipc.stress")
    document.update({"schema": "mmapcheck-stress/1", "quick": args.quick, "seed": seed,
                     "load_average_at_start": os.getloadavg()})
    log(f"seed {seed}; load {messages:,} messages, chaos {chaos_seconds:.0f} s, "
        f"fuzz {fuzz_count:,} headers, budget {args.budget:.0f} s")
    load_end = started + args.budget * 0.45
    document["load"] = run_load(messages, load_end, log)
    chaos_time = min(chaos_seconds, max(budget_end - time.monotonic() - 120.0, 1.0))
    document["chaos"] = run_chaos(chaos_time, 3, 3, log, seed)
    if args.quick:
        document["anywhere"] = {"cases": [], "kills": 0, "complete": False, "skipped": "quick"}
    else:
        document["anywhere"] = run_anywhere(started + args.budget * 0.8, log)
    timed_end = min(started + args.budget * 0.88, time.monotonic() + args.budget * 0.07)
    document["timed"] = run_timed(timed_rounds, timed_end, log, seed)  # leaves the fuzz its time
    document["fuzz"] = run_fuzz(fuzz_count, budget_end, log, seed)
    document["leftovers"] = leftovers()
    document["finished"] = provenance.now()
    document["seconds"] = round(time.monotonic() - started, 1)
    document["summary"] = summarise(document, messages, fuzz_count)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    summary = document["summary"]
    log(f"summary: {json.dumps(summary)}")
    log(f"wrote {args.out}")
    return 0 if summary["invariants_held"] else 1


def summarise(document: dict[str, Any], messages: int, fuzz_count: int) -> dict[str, Any]:
    """Return the run's headline figures and whether every invariant and target held."""
    shapes = [s for s in document["load"]["shapes"] if "messages" in s]
    chaos_part = document["chaos"]
    fuzz_part = document["fuzz"]
    timed_part = document["timed"]
    moved = sum(s["messages"] for s in shapes)
    failures = {
        "load lost": sum(s["lost"] for s in shapes),
        "load duplicated": sum(s["duplicated"] for s in shapes),
        "load torn": sum(s["torn"] for s in shapes),
        "load out of order": sum(s["out_of_order"] for s in shapes),
        "chaos lost": chaos_part["lost"], "chaos torn": chaos_part["torn"],
        "chaos duplicated": chaos_part["duplicated"],
        "chaos unexpected": chaos_part["unexpected"],
        "chaos out of order": chaos_part["out_of_order"], "chaos stalls": chaos_part["stalls"],
        "fuzz hangs": fuzz_part["hangs"],
        **{f"anywhere {name}": sum(c[name] for c in document["anywhere"]["cases"])
           for name in ("torn", "lost", "stalls")},
        "anywhere problems": sum(len(c["problems"]) for c in document["anywhere"]["cases"]),
        **{f"timed {name}": sum(s[name] for s in timed_part["sides"])
           for name in ("torn", "lost", "stalls")},
        "timed problems": sum(len(s["problems"]) for s in timed_part["sides"]),
        "timed duplicates beyond kills": max(
            sum(s["duplicated"] for s in timed_part["sides"]) - timed_part["kills"], 0),
        "fuzz crashes or foreign exceptions": fuzz_part["crashes"] - fuzz_part["hangs"],
        "fuzz refused without CorruptChannel": fuzz_part["outcomes"].get("refused", 0),
        "leftovers": len(document["leftovers"]),
    }
    scale = {
        "load messages >= requested": moved >= messages,
        "chaos kills >= 1000": chaos_part["kills"] >= 1000,
        "fuzz headers >= requested": fuzz_part["tried"] >= fuzz_count,
        "every bytecode of every operation killed": document["anywhere"]["complete"]
        or document["quick"],
        "recovery max <= 100 ms": (chaos_part["recovery_max_ms"] or 0) <= 100,
        "a timed kill landed inside a copy": timed_part["inside_copy"] > 0,
    }
    return {
        "messages": moved + chaos_part["received"],
        "bytes": sum(s["bytes"] for s in shapes),
        "load_msgs_per_s": {s["shape"]: s["msgs_per_s"] for s in shapes},
        "kills": chaos_part["kills"],
        "torn": failures["load torn"] + chaos_part["torn"] + failures["timed torn"],
        "lost": failures["load lost"] + chaos_part["lost"] + failures["timed lost"],
        "duplicated": failures["load duplicated"] + chaos_part["duplicated"],
        "redelivered_after_consumer_kill": chaos_part["redelivered"],
        "recovery_p50_ms": chaos_part["recovery_p50_ms"],
        "recovery_max_ms": chaos_part["recovery_max_ms"],
        "hostile_headers": fuzz_part["tried"],
        "kill_anywhere_kills": document["anywhere"]["kills"],
        "timed_kills": timed_part["kills"],
        "timed_kills_inside_a_copy": timed_part["inside_copy"],
        "hostile_hangs": fuzz_part["hangs"],
        "leftovers": document["leftovers"],
        "failures": {k: v for k, v in failures.items() if v},
        "invariants_held": not any(failures.values()),
        "scale": scale,
        "scale_met": all(scale.values()),
    }


if __name__ == "__main__":
    sys.exit(main())
