"""``robomem query STORE ...``: ask a store questions from the shell.

Free text (``robomem query STORE "where is the red mug?"``) goes through
:meth:`Memory.retrieve`; structured verbs answer from one submodule:

- ``locate TARGET``    - objects matching TARGET (label or free text): where, status, place
- ``last-seen TARGET`` - when and where each match was last seen (and whether it was then missed)
- ``changes --since T [--until T]`` - moved / appeared / disappeared objects
- ``facts [SUBJECT]``  - semantic facts (when semantic memory holds any)
- ``objects``          - every remembered object

Times are sensor seconds; a negative ``--since``/``--until`` counts back from the newest
stamp in memory (``--since -60``: the last minute).  Human-readable by default, ``--json``
for tools.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

VERBS = ("locate", "last-seen", "changes", "facts", "objects")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="memory store directory")
    parser.add_argument(
        "words",
        nargs="+",
        metavar="QUESTION | VERB ARGS",
        help=f"free text, or one of: {', '.join(VERBS)} followed by its argument",
    )
    parser.add_argument("--since", type=float, help="changes: from this time (negative: seconds before the newest)")
    parser.add_argument("--until", type=float, help="changes: up to this time (default: newest)")
    parser.add_argument("-k", "--k", type=int, default=10, help="how many entries at most (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t > 1e8:  # an epoch stamp from a robot
        return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + " UTC"
    return f"t={t:.1f}s"


def _xyz(p: Any) -> str:
    return "(" + ", ".join(f"{float(v):.2f}" for v in p) + ")" if p is not None else "-"


def _match_objects(mem: Any, target: str, k: int) -> list[Any]:
    """Objects whose label is ``target`` (exact, any of its labels); else the most relevant by text."""
    from robomem.retrieval.query import Query

    t = target.strip()
    exact = [o for o in mem.objects() if o.label == t] or mem.objects(label=t)
    if exact:
        return sorted(exact, key=lambda o: (o.status == "absent", -o.last_seen))[:k]
    entries = mem.retrieve(Query(text=t, kinds=("object",), k=k))
    out = []
    for e in entries:
        for oid in e.object_ids:
            o = mem.spatial.get(oid)
            if o is not None and o not in out:
                out.append(o)
    return out[:k]


def _resolve_time(v: float | None, newest: float) -> float | None:
    if v is None:
        return None
    return newest + v if v < 0 else v


def answer(
    mem: Any, words: list[str], since: float | None = None, until: float | None = None, k: int = 10
) -> dict[str, Any]:
    """The answer as a JSON-able dict: {"verb", ..., "results": [...], "text": [lines]}."""

    verb = words[0] if words[0] in VERBS else None
    rest = " ".join(words[1:] if verb else words).strip()
    newest = mem.newest_stamp
    if verb is None:
        # A question goes through the planner: its best proposal answers, the packed context shows why.
        from robomem.planning.context import RobotState
        from robomem.planning.planner import Planner

        if not rest:
            raise ValueError('give a question, e.g. `robomem query STORE "where is the red mug?"`')
        path = mem.trajectory()
        state = RobotState(path[-1][1:4] if path else (0.0, 0.0, 0.0), 0.0, newest)
        ctx = Planner(mem, k=k).context(rest, state)
        best = ctx.best
        head = f"answer: {best.reason} (confidence {best.confidence:.2f})"
        return {
            "verb": "retrieve",
            "query": rest,
            "proposal": best.to_dict(),
            "results": [e.to_dict() for e in ctx.entries],
            "text": [head]
            + [f"{i + 1:2d}. [{e.kind}] {e.text}  (score {e.score:.2f})" for i, e in enumerate(ctx.entries)],
        }
    if verb in ("locate", "last-seen") and not rest:
        raise ValueError(f'{verb}: give a target, e.g. `robomem query STORE {verb} "red mug"`')
    if verb == "objects":
        objs = mem.objects()
        return {
            "verb": verb,
            "results": [o.to_dict() for o in objs],
            "text": [_object_line(o) for o in objs] or ["memory holds no objects"],
        }
    if verb == "locate":
        objs = _match_objects(mem, rest, k)
        return {
            "verb": verb,
            "target": rest,
            "results": [o.to_dict() for o in objs],
            "text": [_object_line(o) for o in objs] or [f"no object in memory matches {rest!r}"],
        }
    if verb == "last-seen":
        out, lines = [], []
        for o in _match_objects(mem, rest, k):
            s = mem.temporal.last_seen(o.object_id)
            a = mem.temporal.last_absence(o.object_id)
            missing = mem.temporal.is_absent(o.object_id)  # absent at the place it was last seen
            row = {
                "id": o.object_id,
                "label": o.label,
                "last_seen": s.t_end if s else None,
                "position": list(s.position) if s else None,
                "place": s.place if s else None,
                "absent_since": a.stamp if missing and a else None,
            }
            out.append(row)
            where = f" in the {s.place}" if s and s.place else ""
            line = f"{o.label} #{o.object_id}: last seen {fmt_time(row['last_seen'])} at {_xyz(row['position'])}{where}"
            if missing and a:
                line += f"; NOT there when looked at {fmt_time(a.stamp)}"
            lines.append(line)
        return {
            "verb": verb,
            "target": rest,
            "results": out,
            "text": lines or [f"no object in memory matches {rest!r}"],
        }
    if verb == "changes":
        if since is None:
            raise ValueError("changes: --since T is required (seconds; negative counts back from the newest stamp)")
        t1 = _resolve_time(since, newest)
        t2 = _resolve_time(until, newest) if until is not None else newest
        assert t1 is not None and t2 is not None
        changes = mem.temporal.changes(t1, t2)
        rows, lines = [], []
        for c in changes:
            o = mem.spatial.get(c.object_id)
            label = o.label if o else "object"
            rows.append({"id": c.object_id, "label": label, **_jsonable(dataclasses.asdict(c))})
            if c.kind == "moved":
                what = f"moved from {c.place_before or _xyz(c.before)} to {c.place_after or _xyz(c.after)}"
            elif c.kind == "appeared":
                what = f"appeared at {c.place_after or _xyz(c.after)}"
            else:
                what = f"disappeared from {c.place_before or _xyz(c.before)}"
            lines.append(f"{fmt_time(c.stamp)}  {label} #{c.object_id} {what}")
        return {
            "verb": verb,
            "since": t1,
            "until": t2,
            "results": rows,
            "text": lines or [f"no changes between {fmt_time(t1)} and {fmt_time(t2)}"],
        }
    # facts
    facts_fn = getattr(mem.semantic, "facts", None)
    if facts_fn is None:
        return {"verb": verb, "results": [], "text": ["semantic memory holds no facts in this version"]}
    facts = facts_fn(rest) if rest else facts_fn()
    rows = [_jsonable(f.to_dict() if hasattr(f, "to_dict") else dataclasses.asdict(f)) for f in facts]
    return {
        "verb": verb,
        "subject": rest or None,
        "results": rows,
        "text": [getattr(f, "text", None) or str(f) for f in facts] or ["no facts"],
    }


def _object_line(o: Any) -> str:
    where = f" in the {o.place}" if o.place else ""
    status = "  ABSENT (observed missing)" if o.status == "absent" else ""
    return f"{o.label} #{o.object_id} at {_xyz(o.centroid)}{where}, last seen {fmt_time(o.last_seen)} ({o.n_obs} sightings){status}"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x


def open_store(path: str) -> Any:
    """Open an existing store (never create one) for reading."""
    from robomem.memory import Memory
    from robomem.store.database import DB_NAME

    p = Path(path)
    if not (p / DB_NAME).exists():
        raise FileNotFoundError(f"{p}: no robomem store here (missing {DB_NAME})")
    return Memory.open(p, readonly=True)  # no writer lock: works while a node writes the store


def run(args: argparse.Namespace) -> int:
    try:
        mem = open_store(args.store)
    except Exception as exc:
        print(f"robomem query: {exc}", file=sys.stderr)
        return 2
    try:
        result = answer(mem, args.words, args.since, args.until, args.k)
    except ValueError as exc:
        print(f"robomem query: {exc}", file=sys.stderr)
        return 2
    finally:
        mem.close()
    if args.json:
        result = {k: v for k, v in result.items() if k != "text"}
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(result["text"]))
    return 0
