"""``robomem query STORE ...``: ask a store questions from the shell.

Every verb and every free-text question is answered by the one question engine
(:mod:`robomem.qa`); this module only parses arguments and formats answers.

- ``locate TARGET``            - every object TARGET names: where, status, place, best view
- ``where-now TARGET``         - where it most likely is now (not observed absent since)
- ``where-at TARGET --at T``   - where it was at time T
- ``last-seen TARGET``         - when and where each match was last seen (and whether it was then missed)
- ``count TARGET [--place P]`` - how many are present
- ``changes [PLACE] --since T [--until T]`` - moved / appeared / disappeared objects, optionally in one place
- ``facts [SUBJECT]``          - semantic facts valid now
- ``why TARGET``               - the evidence behind where-now
- ``objects``                  - every remembered object
- anything else is a question: "how many mugs are there?", "what changed in the kitchen since yesterday?"

Times are sensor seconds; a negative time counts back from the newest stamp in memory
(``--since -60``: the last minute).  Human-readable by default, ``--json`` for tools.
Exit codes: 0 answered, 1 memory has not seen anything by that name (abstained), 2 bad input.
A verb that needs no text model loads none (the model loads only for a synonym or a retrieval).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from robomem.cli.args import COUNT, TIME
from robomem.cli.terminal import PIPE_CLOSED, print_lines
from robomem.errors import FleetError
from robomem.qa.engine import fmt_time

VERBS = ("locate", "where-now", "where-at", "last-seen", "count", "changes", "facts", "why", "objects")
EXIT_ABSTAINED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="memory store directory, or a fleet memory URL postgresql://role@host:port/db")
    parser.add_argument(
        "words",
        nargs="+",
        metavar="QUESTION | VERB ARGS",
        help=f"free text, or one of: {', '.join(VERBS)} followed by its argument",
    )
    parser.add_argument("--since", type=TIME, help="changes: from this time (negative: seconds before the newest)")
    parser.add_argument("--until", type=TIME, help="changes: up to this time (default: newest)")
    parser.add_argument("--at", type=TIME, help="where-at: the time (negative: seconds before the newest)")
    parser.add_argument("--place", help="count: only in this place")
    parser.add_argument("-k", "--k", type=COUNT, default=10, help="how many entries at most (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def answer(
    mem: Any,
    words: list[str],
    since: float | None = None,
    until: float | None = None,
    k: int = 10,
    at: float | None = None,
    place: str | None = None,
) -> dict[str, Any]:
    """The engine's answer as a JSON-able dict ({"verb", "status", "abstained", "results", "text", ...})."""
    from robomem.qa.engine import QuestionEngine
    from robomem.qa.router import ask

    eng = QuestionEngine(mem)
    verb = words[0] if words and words[0] in VERBS else None
    rest = " ".join(words[1:] if verb else words).strip()
    if verb is None:
        if not rest:
            raise ValueError('give a question, e.g. `robomem query STORE "where is the red mug?"`')
        return ask(eng, rest, k).to_dict()
    needs_target = ("locate", "where-now", "where-at", "last-seen", "count", "why")
    if verb in needs_target and not rest:
        raise ValueError(f'{verb}: give a target, e.g. `robomem query STORE {verb} "red mug"`')
    if verb == "objects":
        objs = mem.objects()
        return {
            "verb": verb,
            "status": "answered",
            "abstained": False,
            "count": len(objs),
            "results": [o.to_dict() for o in objs],
            "text": [_object_line(o) for o in objs] or ["memory holds no objects"],
        }
    if verb == "locate":
        a = eng.locate(rest, k)
    elif verb == "where-now":
        a = eng.where_now(rest)
    elif verb == "where-at":
        if at is None:
            raise ValueError("where-at: --at T is required (seconds; negative counts back from the newest stamp)")
        a = eng.where_at(rest, at)
    elif verb == "last-seen":
        a = eng.last_seen(rest, k)
    elif verb == "count":
        a = eng.count(rest, place)
    elif verb == "changes":
        if since is None:
            raise ValueError("changes: --since T is required (seconds; negative counts back from the newest stamp)")
        a = eng.changes(since, until, rest or None)
    elif verb == "why":
        a = eng.why(rest)
    else:
        a = eng.facts(rest or None, k=max(k, 50))
    return a.to_dict()


def _object_line(o: Any) -> str:
    where = f" in the {o.place}" if o.place else ""
    status = "  ABSENT (observed missing)" if o.status == "absent" else ""
    c = "(" + ", ".join(f"{float(v):.2f}" for v in o.centroid) + ")"
    return f"{o.label} #{o.object_id} at {c}{where}, last seen {fmt_time(o.last_seen)} ({o.n_obs} sightings){status}"


def open_store(path: str) -> Any:
    """Open an existing store (never create one) for reading; the text model loads only if a question needs it.

    A ``postgresql://`` (or ``postgres://``) URL opens the fleet memory instead: the same verbs, fleet-wide."""
    from robomem.memory import Memory
    from robomem.qa.lazy import LazyEmbedder
    from robomem.store.database import DB_NAME

    if path.startswith(("postgresql://", "postgres://")):
        from robomem.fleet.view import FleetMemory

        return FleetMemory.open(path, embedder=LazyEmbedder("auto"))
    p = Path(path)
    if not (p / DB_NAME).exists():
        raise FileNotFoundError(f"{p}: no robomem store here (missing {DB_NAME})")
    # no writer lock: works while a node writes the store
    return Memory.open(p, readonly=True, embedder=LazyEmbedder("auto"))


def run(args: argparse.Namespace) -> int:
    try:
        mem = open_store(args.store)
    except Exception as exc:
        print(f"robomem query: {exc}", file=sys.stderr)
        return 2
    try:
        result = answer(mem, args.words, args.since, args.until, args.k, args.at, args.place)
    except (ValueError, FleetError) as exc:  # FleetError: the fleet server went away mid-question
        print(f"robomem query: {exc}", file=sys.stderr)
        return 2
    finally:
        mem.close()
    lines = json.dumps(result, indent=2).splitlines() if args.json else list(result["text"])
    if print_lines(lines) == PIPE_CLOSED:
        return PIPE_CLOSED
    return EXIT_ABSTAINED if result.get("abstained") else 0
