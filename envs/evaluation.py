"""``robomem eval``: memory question answering and object search against simulator ground truth.

Scenario (per seed): day 0 the agent tours every room of the household simulator; each later day
the simulator applies its seeded overnight changes and the agent tours a seeded subset (3-5) of the
rooms in a seeded order.  Every rendered frame goes through the adapter into a fresh
:class:`~robomem.Memory` (real SQLite store).  Then questions are generated from ground truth and
answered with memory APIs only (:class:`MemoryQA`):

- ``where_now``: where is X now (room match; any instance of a repeated label counts); also scored on the
  *knowable* subset (the agent saw an instance after its last change);
- ``where_now_semantic``: the same, answered by semantic memory's ``located_in`` facts;
- ``where_at``: where was X at time t (t = the middle of each day's tour);
- ``last_seen``: when did you last see X; ground truth is an interval: from the last frame in which an
  instance with that label was clearly visible to the agent (>= ``MIN_PIXELS`` pixels with valid depth in
  the rendered instance image) to the last frame in which one was glimpsed (>= ``GLIMPSE_PIXELS``: the
  small views issue 15 asks memory to keep, a 60-px domino, a 79-px sliver at the image edge); correct
  within ``--time-tol`` seconds of that interval (``correct_clear``: of the clear view alone, as before);
- ``changes``: what changed in room R since t (t = the end of each earlier day's tour; only rooms the
  agent looked at after t); the set of labels that moved into, out of, within, appeared in or
  vanished from R, among objects the agent ever saw; exact set match (F1 reported too);
- ``count``: how many X are there (labels and categories such as "mugs"); ground truth is an interval: from
  the present instances the agent clearly saw (>= ``MIN_PIXELS``) to those it saw at all (>= ``GLIMPSE_PIXELS``:
  an apple only ever glimpsed at 57 px is one memory must keep, issue 15); exact within it (``correct_clear``:
  the clearly seen number alone, as before);
- ``never_seen``: where is X, for labels never in view at all (not one pixel: objects that stayed absent
  or hidden, and plausible distractors such as "green mug"); the right answer is to abstain.

Object search (:mod:`robomem.envs.search_eval`): random targets (present objects that some policy could
find from the start: reachable on the navigable map and seen from a reachable spot; the draws excluded
are counted by reason) and random start poses; the core planner's proposals versus exploration only
(rooms in the same path-distance tour order), through the one search runner
:func:`robomem.envs.search.run_search`, ``--max-steps`` actions each.

Prints a table and writes JSON (``--json-out``) for comparison across versions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from robomem.cli.args import COUNT, PIXELS, integer, number
from robomem.memory import Memory  # noqa: E402
from robomem.places import Place  # noqa: E402
from robomem.retrieval.query import words  # noqa: E402
from robomem.submodules.spatial.memory import ObjectRecord  # noqa: E402

from .household.sim import HouseholdFrame, HouseholdSim, ObjectState  # noqa: E402
from .household.tour import VIEWPOINTS, scripted_tour  # noqa: E402
from .navigation import MIN_PIXELS, visible_instances  # noqa: E402
from .search_eval import search_episodes, search_summary  # noqa: E402

__all__ = ["QA_TYPES", "MemoryQA", "Scenario", "add_arguments", "build_scenario", "run", "run_eval"]

QA_TYPES = ("where_now", "where_now_semantic", "where_at", "last_seen", "changes", "count", "never_seen")
GLIMPSE_PIXELS = 20  # valid-depth pixels of a view memory may keep (``SpatialConfig.min_mask_pixels``' default)
DISTRACTORS = ("green mug", "laptop", "umbrella", "red bowl", "teapot", "purple book", "toaster", "blue vase")


# -- answering from memory -------------------------------------------------------------------
def head(label: str) -> str:
    w = words(label)
    return w[-1] if w else ""


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


class MemoryQA:
    """The eval's questions, answered by the one question engine (:mod:`robomem.qa`): its label rule,
    presence rule and abstention.  ``None`` means the memory abstains ("I have not seen that")."""

    def __init__(self, memory: Memory) -> None:
        from robomem.qa.engine import QuestionEngine

        self.memory = memory
        self.engine = QuestionEngine(memory)

    def match(self, label: str) -> list[ObjectRecord]:
        """The objects the engine's label rule says ``label`` names, best first."""
        return [o for m in self.engine.match(label) if (o := self.memory.spatial.get(m.object_id)) is not None]

    def where_now(self, label: str) -> dict[str, Any] | None:
        """The place of the most recently seen instance that was not observed absent since; None = abstain."""
        a = self.engine.where_now(label)
        if a.abstained or a.best is None:
            return None
        it = a.best
        if a.status == "unknown":
            return {"place": None, "object_id": it.object_id, "status": "absent", "text": a.text[0]}
        return {
            "place": it.place,
            "object_id": it.object_id,
            "status": "present",
            "last_seen": it.stamp,
            "text": a.text[0],
        }

    def where_now_semantic(self, label: str) -> dict[str, Any] | None:
        if not self.match(label):
            return None
        fact = self.memory.semantic.where_is(label)
        if fact is None:
            return None
        place = fact.object_name or fact.object.split(":", 1)[-1]
        return {"place": place, "fact_id": fact.fact_id, "text": fact.text}

    def where_at(self, label: str, t: float) -> dict[str, Any] | None:
        a = self.engine.where_at(label, t)
        if a.status != "answered" or a.best is None:
            return None
        it = a.best
        return {"place": it.place, "object_id": it.object_id, "status": it.status, "since": it.stamp}

    def last_seen(self, label: str) -> float | None:
        a = self.engine.last_seen(label)
        times = [i.stamp for i in a.items if i.stamp is not None]
        return max(times) if times else None

    def changed_in(self, room: str, since: float, until: float) -> set[str]:
        """The labels of what the engine's ``changes`` verb lists for the room between the two times."""
        a = self.engine.changes(since, until, place=room)
        # an object merged away since has no record of its own (the engine names it "object"): not an answer
        return {i.label for i in a.items if i.label and self.memory.spatial.get(i.object_id) is not None}

    def count(self, label: str | None = None, category: str | None = None) -> int:
        """The engine's ``count`` verb: for a label ("red mug") or a category asked as people ask it ("mugs")."""
        if label is None and not category:
            raise ValueError("MemoryQA.count: give a label or a category")
        a = self.engine.count(label if label is not None else plural(category or ""))
        return 0 if a.abstained or a.count is None else int(a.count)


# -- the scenario ----------------------------------------------------------------------------
@dataclass
class Scenario:
    seed: int
    sim: HouseholdSim
    memory: Memory
    days: int
    tours: list[tuple[float, float, list[str]]] = field(default_factory=list)  # (t_start, t_end, rooms) per day
    seen_at: dict[int, list[float]] = field(default_factory=dict)  # instance id -> stamps it was clearly visible
    glimpsed_last: dict[int, float] = field(default_factory=dict)  # instance id -> last stamp >= GLIMPSE_PIXELS
    in_view: set[int] = field(default_factory=set)  # instance ids ever in view at all (any pixel)
    room_looked: dict[str, list[float]] = field(default_factory=dict)  # room -> stamps the agent looked around in it
    frames: int = 0
    feed: Any = None  # household.realism.RealismFeed: the perception-noise model between simulator and memory
    seconds: float = 0.0


def build_scenario(
    seed: int,
    days: int,
    store: str | Path,
    width: int = 320,
    height: int = 240,
    embedder: Any = None,
    progress: Callable[[str], None] | None = None,
    capture_walk: bool = False,
    realism: str = "clean",
) -> Scenario:
    """Tour, sleep, tour a subset... feeding every frame into a fresh memory at ``store``."""
    t0 = time.perf_counter()
    sim = HouseholdSim(width=width, height=height, seed=seed)
    mem = Memory.open(store, embedder=embedder)
    mem.set_places([Place(n, lo, hi) for n, lo, hi in sim.places()])
    from .household.realism import RealismFeed

    sc = Scenario(seed, sim, mem, days, feed=RealismFeed(realism, seed))
    rng = np.random.default_rng(10_000 + seed)
    object_ids = set(sim.object_ids.values())
    for day in range(days):
        if day:
            sim.next_day()
            rooms = [str(r) for r in rng.permutation(list(VIEWPOINTS))[: int(rng.integers(3, 6))]]
        else:
            rooms = list(VIEWPOINTS)
        start = sim.time
        if day:  # the agent wakes in the hallway (a door closed overnight must not lock it in a room)
            sim.teleport(*VIEWPOINTS["hallway"])
        for room in rooms:
            try:
                frames = scripted_tour(sim, rooms=[room], capture_walk=capture_walk)
            except RuntimeError:  # behind a door that closed overnight
                if progress:
                    progress(f"seed {seed} day {day}: cannot reach the {room} (door closed?); skipped")
                continue
            for f in frames:
                record_visibility(sc, f, object_ids)
                sc.room_looked.setdefault(room, []).append(f.stamp)
                sc.feed.update(mem, f)
            sc.frames += len(frames)
        sc.tours.append((start, sim.time, rooms))
        if progress:
            progress(f"seed {seed} day {day}: toured {', '.join(rooms)}; {len(mem.objects())} objects in memory")
    sc.seconds = time.perf_counter() - t0
    return sc


def record_visibility(sc: Scenario, frame: HouseholdFrame, object_ids: set[int]) -> None:
    sc.in_view |= set(frame.labels) & object_ids
    for iid, (px, _d) in visible_instances(frame, GLIMPSE_PIXELS).items():
        if iid in object_ids:
            sc.glimpsed_last[iid] = frame.stamp
            if px >= MIN_PIXELS:
                sc.seen_at.setdefault(iid, []).append(frame.stamp)


# -- questions -------------------------------------------------------------------------------
def _labels_of(states: Iterable[ObjectState]) -> dict[str, list[ObjectState]]:
    out: dict[str, list[ObjectState]] = {}
    for s in states:
        out.setdefault(s.label, []).append(s)
    return out


def _seen_before(sc: Scenario, iid: int, t: float) -> bool:
    return any(s <= t for s in sc.seen_at.get(iid, ()))


def ask_all(sc: Scenario, time_tol: float = 15.0) -> list[dict[str, Any]]:
    """Generate every question from ground truth, answer it from memory, score it."""
    sim, qa = sc.sim, MemoryQA(sc.memory)
    now = sim.time
    gt_now = sim.ground_truth_state()
    seen_ids = set(sc.seen_at)
    glimpsed_ids = seen_ids | set(sc.glimpsed_last)  # every instance memory may hold (a clear view or a glimpse)
    all_labels = _labels_of(gt_now.values())
    out: list[dict[str, Any]] = []

    def add(qtype: str, question: str, answer: Any, truth: Any, correct: bool, **extra: Any) -> None:
        out.append(
            {
                "type": qtype,
                "seed": sc.seed,
                "question": question,
                "answer": answer,
                "truth": truth,
                "correct": bool(correct),
                **extra,
            }
        )

    last_change: dict[int, float] = {}
    for c in sim.changes:
        if c.instance_id:
            last_change[c.instance_id] = c.time
    # where is X now (memory and semantic), how many X
    for label, states in sorted(all_labels.items()):
        seen = [s for s in states if s.instance_id in seen_ids]
        if not seen:
            continue
        rooms = sorted({s.room for s in seen if s.present and s.room})
        if rooms:
            # knowable: the agent saw an instance where it is now (after the instance's last change)
            knowable = any(
                s.present and max(sc.seen_at[s.instance_id]) > last_change.get(s.instance_id, -1.0) for s in seen
            )
            a = qa.where_now(label)
            place = a["place"] if a else None
            add("where_now", f"where is the {label} now?", place, rooms, place in rooms, knowable=knowable)
            sem = qa.where_now_semantic(label)
            sp = sem["place"] if sem else None
            add(
                "where_now_semantic",
                f"where is the {label} now? (semantic facts)",
                sp,
                rooms,
                sp in rooms,
                knowable=knowable,
            )
        n_true = sum(1 for s in seen if s.present)
        n_glimpsed = sum(1 for s in states if s.present and s.instance_id in glimpsed_ids)
        n_mem = qa.count(label=label)
        q = f"how many {plural(label)} are there?"
        add("count", q, n_mem, [n_true, n_glimpsed], n_true <= n_mem <= n_glimpsed, correct_clear=n_mem == n_true)
        # when did you last see X
        gt_last = max(t for s in states for t in sc.seen_at.get(s.instance_id, ()))
        glimpsed = max([gt_last, *(sc.glimpsed_last.get(s.instance_id, gt_last) for s in states)])
        mem_last = qa.last_seen(label)
        ok = mem_last is not None and gt_last - time_tol <= mem_last <= glimpsed + time_tol
        add(
            "last_seen",
            f"when did you last see the {label}?",
            mem_last,
            [gt_last, glimpsed],
            ok,
            error_s=None if mem_last is None else round(mem_last - gt_last, 2),
            correct_clear=mem_last is not None and abs(mem_last - gt_last) <= time_tol,
        )
    # categories: how many mugs / books / bowls
    cats: dict[str, list[ObjectState]] = {}
    for s in gt_now.values():
        if s.instance_id in seen_ids:
            cats.setdefault(head(s.label), []).append(s)
    for noun, states in sorted(cats.items()):
        if len({s.label for s in states}) < 2:
            continue
        n_true = sum(1 for s in states if s.present)
        n_glimpsed = sum(
            1 for s in gt_now.values() if s.present and s.instance_id in glimpsed_ids and head(s.label) == noun
        )
        n_mem = qa.count(category=noun)
        q = f"how many {plural(noun)} are there?"
        add("count", q, n_mem, [n_true, n_glimpsed], n_true <= n_mem <= n_glimpsed, correct_clear=n_mem == n_true)
    # where was X at t (the middle of each day's tour)
    for t_start, t_end, _rooms in sc.tours:
        t = 0.5 * (t_start + t_end)
        gt_t = sim.ground_truth_state(t)
        for label, states in sorted(_labels_of(gt_t.values()).items()):
            known = [s for s in states if s.present and s.room and _seen_before(sc, s.instance_id, t)]
            if not known:
                continue
            rooms = sorted({s.room for s in known if s.room})
            a = qa.where_at(label, t)
            place = a["place"] if a else None
            add("where_at", f"where was the {label} at t={t:.0f}s?", place, rooms, place in rooms, t=t)
    # what changed in room R since t
    for d, (_t0, t_since, _rooms) in enumerate(sc.tours[:-1]):
        before, after = sim.ground_truth_state(t_since), gt_now
        moved_d = sc.memory.config.temporal.moved_distance
        for room in sorted(VIEWPOINTS):
            if not any(t > t_since for t in sc.room_looked.get(room, ())):
                continue  # the agent has not looked at this room since t: memory cannot know
            truth: set[str] = set()
            for iid, b in before.items():
                a2 = after[iid]
                if iid not in seen_ids or room not in (b.room, a2.room):
                    continue
                if (
                    b.present != a2.present
                    or b.room != a2.room
                    or (b.position and a2.position and math.dist(b.position, a2.position) > moved_d)
                ):
                    truth.add(b.label)
            ans = qa.changed_in(room, t_since, now)
            tp = len(ans & truth)
            f1 = 1.0 if not ans and not truth else (2 * tp / (len(ans) + len(truth)))
            add(
                "changes",
                f"what changed in the {room} since the end of day {d} (t={t_since:.0f}s)?",
                sorted(ans),
                sorted(truth),
                ans == truth,
                f1=round(f1, 3),
            )
    # never seen (never in view at all, not a single pixel): abstain
    seen_labels = {gt_now[i].label for i in sc.in_view}
    never = sorted({s.label for s in gt_now.values() if s.label not in seen_labels} | set(DISTRACTORS))
    for label in never:
        if label in seen_labels:
            continue
        a = qa.where_now(label)
        add(
            "never_seen",
            f"where is the {label}?",
            None if a is None else a.get("place") or a.get("text"),
            "abstain",
            a is None,
        )
    return out


def accuracy(questions: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for qtype in QA_TYPES:
        qs = [q for q in questions if q["type"] == qtype]
        if not qs:
            continue
        row: dict[str, float] = {"n": len(qs), "accuracy": round(sum(q["correct"] for q in qs) / len(qs), 4)}
        known = [q for q in qs if q.get("knowable")]
        if any("knowable" in q for q in qs) and known:
            row["n_knowable"] = len(known)
            row["accuracy_knowable"] = round(sum(q["correct"] for q in known) / len(known), 4)
        if qtype == "changes":
            row["f1"] = round(float(np.mean([q["f1"] for q in qs])), 4)
        if any("correct_clear" in q for q in qs):  # last-seen / count graded against the clear views alone
            row["accuracy_clear"] = round(sum(bool(q.get("correct_clear")) for q in qs) / len(qs), 4)
        out[qtype] = row
    return out


# -- the command -----------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=_int_list, default=[0, 1], help="comma-separated scenario seeds (default 0,1)")
    parser.add_argument("--days", type=COUNT, default=3, help="days per scenario: tour, then nights and partial tours")
    parser.add_argument("--episodes", type=integer(lo=0), default=6, help="object-search episodes per seed (0 = none)")
    parser.add_argument("--max-steps", type=COUNT, default=150, help="actions per search episode")
    parser.add_argument(
        "--time-tol", type=number(lo=0.0), default=15.0, help="seconds of tolerance for 'when did you last see'"
    )
    parser.add_argument("--json-out", default="robomem_report/eval.json", help="where to write the JSON results")
    parser.add_argument("--store-dir", default=None, help="keep the per-seed stores here (default: a temp folder)")
    parser.add_argument("--width", type=PIXELS, default=320)
    parser.add_argument("--height", type=PIXELS, default=240)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--realism",
        choices=("clean", "robot", "hard"),
        default="clean",
        help="perception noise between simulator and memory (envs/household/noise.py; default clean)",
    )


def run_eval(
    seeds: list[int],
    days: int,
    episodes: int,
    max_steps: int = 150,
    time_tol: float = 15.0,
    store_dir: str | Path | None = None,
    width: int = 320,
    height: int = 240,
    progress: Callable[[str], None] | None = None,
    realism: str = "clean",
) -> dict[str, Any]:
    """Run the whole evaluation; returns the JSON-able results."""
    from robomem.retrieval.embedding import make_embedder

    if days < 1:
        raise ValueError(f"--days must be >= 1, got {days}")
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    t0 = time.perf_counter()
    embedder = make_embedder("auto")
    questions: list[dict[str, Any]] = []
    searches: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    per_seed: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="robomem_eval_") as tmp:
        root = Path(store_dir) if store_dir is not None else Path(tmp)
        for seed in seeds:
            store = root / f"seed{seed}"
            if store.exists():
                import shutil

                shutil.rmtree(store)
            sc = build_scenario(seed, days, store, width, height, embedder=embedder, progress=progress, realism=realism)
            try:
                qs = ask_all(sc, time_tol)
                questions += qs
                t1 = time.perf_counter()
                n_excluded = len(excluded)
                rows = search_episodes(
                    sc, episodes, max_steps, np.random.default_rng(20_000 + seed), progress, excluded=excluded
                )
                searches += rows
                per_seed.append(
                    {
                        "seed": seed,
                        "frames": sc.frames,
                        "objects_in_memory": len(sc.memory.objects()),
                        "changes": len([c for c in sc.sim.changes if c.instance_id]),
                        "build_s": round(sc.seconds, 1),
                        "search_s": round(time.perf_counter() - t1, 1),
                        "search_excluded": len(excluded) - n_excluded,
                        "tours": [{"t_start": a, "t_end": b, "rooms": r} for a, b, r in sc.tours],
                        "accuracy": accuracy(qs),
                        "perception": sc.feed.false_objects(sc.memory),
                    }
                )
            finally:
                sc.memory.close()
                sc.sim.close()
    return {
        "version": _version(),
        "config": {
            "seeds": seeds,
            "days": days,
            "episodes": episodes,
            "max_steps": max_steps,
            "time_tol": time_tol,
            "width": width,
            "height": height,
            "min_pixels": MIN_PIXELS,
            "embedder": type(embedder).__name__,
            "realism": realism,
        },
        "qa": accuracy(questions),
        "search": search_summary(searches, max_steps, excluded),
        "per_seed": per_seed,
        "questions": questions,
        "search_episodes": searches,
        "search_excluded": excluded,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _version() -> str:
    try:
        import robomem

        return str(robomem.__version__)
    except Exception:  # pragma: no cover
        return "unknown"


def format_table(results: dict[str, Any]) -> str:
    lines = [
        "",
        "memory question answering (per type)",
        f"{'type':<20}{'n':>5}{'accuracy':>10}{'f1':>8}{'knowable (n)':>16}",
    ]
    for qtype, row in results["qa"].items():
        f1 = f"{row['f1']:.2f}" if "f1" in row else ""
        kn = f"{row['accuracy_knowable']:.2f} ({row['n_knowable']})" if "accuracy_knowable" in row else ""
        lines.append(f"{qtype:<20}{row['n']:>5}{row['accuracy']:>10.2f}{f1:>8}{kn:>16}")
    s = results["search"]
    lines += [
        "",
        f"object search ({s['episodes']} episodes, max {results['config']['max_steps']} steps)",
        f"{'agent':<12}{'success':>9}{'mean steps':>12}{'steps|success':>15}",
    ]
    if "excluded" in s:
        ex = s["excluded"]
        why = ", ".join(f"{k} {v}" for k, v in ex["by_reason"].items()) or "none"
        lines.insert(-1, f"draws excluded as findable by no policy: {ex['draws']} ({why})")
    for mode in ("memory", "no_memory"):
        if mode in s:
            m = s[mode]
            ms = "-" if m["mean_steps_success"] is None else f"{m['mean_steps_success']:.1f}"
            lines.append(f"{mode:<12}{m['success_rate']:>9.2f}{m['mean_steps']:>12.1f}{ms:>15}")
    if "steps_ratio" in s:
        lines.append(f"mean steps, memory / no memory: {s['steps_ratio']:.2f}")
    if "mean_steps_both" in s:
        b = s["mean_steps_both"]
        lines.append(
            f"both found ({s['both_succeeded']}): memory {b['memory']:.1f} steps vs no memory {b['no_memory']:.1f}"
        )
    per = [p["perception"] for p in results["per_seed"] if "perception" in p]
    if per:
        believed, false = sum(p["believed"] for p in per), sum(p["false"] for p in per)
        lines.append(
            f"\nperception {results['config'].get('realism', 'clean')}: {believed} objects believed, {false} false "
            f"({false / max(1, believed):.1%}), {sum(p['duplicates'] for p in per)} duplicates, "
            f"{sum(p['unconfirmed'] for p in per)} unconfirmed candidates, {sum(p['dropped'] for p in per)} frames dropped"
        )
    lines.append(f"\n{results['seconds']:.0f} s in all")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    progress = None if args.quiet else (lambda msg: print(f"[eval {time.strftime('%H:%M:%S')}] {msg}", flush=True))
    try:
        results = run_eval(
            args.seeds,
            args.days,
            args.episodes,
            args.max_steps,
            args.time_tol,
            args.store_dir,
            args.width,
            args.height,
            progress,
            getattr(args, "realism", "clean"),
        )
    except ValueError as exc:
        print(f"robomem eval: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=_json_default))
    print(f"wrote {out}")
    return 0


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, (set, tuple)):
        return list(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
