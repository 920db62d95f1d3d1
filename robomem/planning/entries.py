"""Folding a context's entries: those that say the same thing become one, and older claims a newer one
contradicts are marked superseded (what :class:`robomem.planning.planner.Planner` packs)."""

from __future__ import annotations

import math
import re
from dataclasses import replace

from robomem.retrieval.query import Entry, words

__all__ = ["LOCATION_KINDS", "claims_absence", "fold_duplicates", "located_in", "subject", "superseded"]

LOCATION_KINDS = ("object", "sighting")  # entries that claim "X is at P"


def subject(e: Entry) -> int | None:
    """The one object an entry is about, if any."""
    if e.kind == "snapshot":
        t = e.data.get("target")
        return int(t) if t is not None else None
    return e.object_ids[0] if len(e.object_ids) == 1 else None


def claims_absence(e: Entry) -> bool:
    return e.kind == "absence" or e.data.get("status") == "absent"


def fold_duplicates(entries: list[Entry], tol: float) -> tuple[list[Entry], dict[str, tuple[str, ...]]]:
    """Fold entries that say the same thing into the best-scored one (input best first)."""
    kept: list[Entry] = []
    merged: dict[str, list[str]] = {}
    by_text: dict[tuple[str, ...], int] = {}
    for e in entries:
        twin: int | None = None
        wkey = tuple(words(re.sub(r"#\d+", "", e.text)))
        if e.kind in LOCATION_KINDS and e.position is not None:
            s = subject(e)
            for i, k in enumerate(kept):
                if (
                    k.kind in LOCATION_KINDS
                    and k.position is not None
                    and subject(k) == s
                    and s is not None
                    and claims_absence(k) == claims_absence(e)
                    # same place, or the same evidence (the map's centroid vs the last segment's centroid)
                    and (
                        math.dist(k.position, e.position) <= tol
                        or (k.stamp is not None and e.stamp is not None and abs(k.stamp - e.stamp) < 1e-6)
                    )
                ):
                    twin = i
                    break
        if twin is None and e.kind == "fact" and e.place and located_in(e):
            s = subject(e)
            for i, k in enumerate(kept):
                if (
                    k.kind in LOCATION_KINDS
                    and s is not None
                    and subject(k) == s
                    and k.place == e.place
                    and not claims_absence(k)
                ):
                    twin = i  # "red mug #2 located_in kitchen" = the map's "red mug #2 … in the kitchen"
                    break
        if twin is None and e.object_ids == () and wkey in by_text:
            twin = by_text[wkey]
        if twin is None:
            if e.object_ids == ():
                by_text[wkey] = len(kept)
            kept.append(e)
            continue
        k = kept[twin]
        merged.setdefault(k.key, []).append(e.key)
        kept[twin] = replace(k, provenance=tuple(dict.fromkeys(k.provenance + e.provenance + (e.key,))))
    return kept, {a: tuple(b) for a, b in merged.items()}


def superseded(entries: list[Entry], tol: float) -> dict[str, str]:
    """Older claims about an object that a newer claim contradicts -> the newer entry's key."""
    latest: dict[int, Entry] = {}
    for e in entries:
        s = subject(e)
        if s is None or e.stamp is None or e.kind not in (*LOCATION_KINDS, "absence"):
            continue
        cur = latest.get(s)
        if cur is None or (e.stamp, e.kind == "absence") > (cur.stamp or 0.0, cur.kind == "absence"):
            latest[s] = e
    out: dict[str, str] = {}
    for e in entries:
        s = subject(e)
        new = latest.get(s) if s is not None else None
        if new is None or new.key == e.key or e.stamp is None or new.stamp is None or e.stamp >= new.stamp:
            continue
        if e.kind not in (*LOCATION_KINDS, "absence", "snapshot"):
            continue
        if new.kind == "absence" and not claims_absence(e):
            out[e.key] = new.key  # "it is at P" (or a view of it there) vs "not found at P" later
        elif e.kind == "snapshot":
            continue  # a view is not contradicted by a newer sighting
        elif (
            new.kind in LOCATION_KINDS
            and e.position is not None
            and new.position is not None
            and math.dist(e.position, new.position) > tol
        ):
            out[e.key] = new.key  # it was somewhere else later
        elif new.kind in LOCATION_KINDS and e.kind == "absence":
            out[e.key] = new.key  # seen again after the absence
    return out


def located_in(e: Entry) -> bool:
    return str(e.data.get("predicate", "")).lower() == "located_in" and e.data.get("valid_to") is None
