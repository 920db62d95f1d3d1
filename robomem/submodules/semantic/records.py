"""What semantic memory holds: facts (bi-temporal, with provenance), their evidence, and explanations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_SUPPORT_ROWS = 20  # evidence rows kept per fact (first, latest, and this many supports/contradictions)
MAX_SEARCH_FACTS = 400  # candidate facts embedded per query at most


@dataclass(frozen=True)
class Fact:
    fact_id: int
    subject: str
    predicate: str
    object: str
    confidence: float
    source: str  # "perception" | "event" | "instruction" | "consolidation" | "scene_graph"
    valid_from: float
    valid_to: float | None
    recorded_at: float
    expired_at: float | None
    count: int
    last_evidence: float
    reason: str | None = None  # why it was closed
    subject_name: str = ""  # "red mug #12": filled from the entity (an object's label comes from spatial memory)
    object_name: str = ""
    retrieved: int = 0
    superseded_by: int | None = None  # the fact that replaced this one (a closed functional fact)
    subject_label: str = ""  # "red mug": what the subject is, without an id
    object_label: str = ""

    @property
    def is_valid(self) -> bool:
        return self.valid_to is None

    def valid_at(self, t: float) -> bool:
        return self.valid_from <= t and (self.valid_to is None or t < self.valid_to)

    @property
    def text(self) -> str:
        return f"{self.subject_name or self.subject} {self.predicate} {self.object_name or self.object}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fact_id": self.fact_id,
            "subject": self.subject,
            "predicate": self.predicate,
            "object": self.object,
            "subject_name": self.subject_name,
            "object_name": self.object_name,
            "subject_label": self.subject_label,
            "object_label": self.object_label,
            "confidence": self.confidence,
            "source": self.source,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "recorded_at": self.recorded_at,
            "expired_at": self.expired_at,
            "count": self.count,
            "last_evidence": self.last_evidence,
            "reason": self.reason,
            "superseded_by": self.superseded_by,
        }


@dataclass(frozen=True)
class Evidence:
    evidence_id: int
    fact_id: int
    role: str  # "first" | "latest" | "support" | "contradict" | "close"
    kind: str  # "frame" | "event" | "consolidation" | "episode" | "step" | "scene_graph"
    ref: str  # "frame:123", "event:12.500:fact", "episode:4", "step:17", …
    stamp: float
    detail: str


@dataclass(frozen=True)
class Explanation:
    """Why a fact is believed: its evidence chain back to observations and events."""

    fact: Fact
    evidence: tuple[Evidence, ...]
    sightings: tuple[tuple[int, float, float, int, str | None], ...]  # (sighting row id, t_start, t_end, n, place)
    frames: tuple[int, ...]  # frame indexes
    events: tuple[str, ...]  # "t=12.5 fact: red mug | belongs_to | Anna"
    episodes: tuple[int, ...]
    superseded_by: int | None = None

    def text(self) -> str:
        f = self.fact
        lines = [
            f"fact #{f.fact_id}: {f.text} (confidence {f.confidence:.2f}, {f.count} evidence, source {f.source})",
            f"  valid {f.valid_from:.1f}s .. "
            + ("now" if f.valid_to is None else f"{f.valid_to:.1f}s")
            + (f" — closed: {f.reason}" if f.reason else ""),
        ]
        for e in self.evidence:
            lines.append(f"  {e.role} {e.ref} t={e.stamp:.1f}s: {e.detail}")
        if self.sightings:
            lines.append(
                f"  sightings: {len(self.sightings)} rows, e.g. "
                + ", ".join(f"#{s[0]} t={s[1]:.1f}-{s[2]:.1f}s n={s[3]}" for s in self.sightings[:5])
            )
        if self.frames:
            lines.append("  frames: " + ", ".join(map(str, self.frames[:20])))
        return "\n".join(lines)


FACT_COLS = (
    "SELECT id, subject, predicate, object, confidence, source, valid_from, valid_to, recorded_at, expired_at, count,"
    " last_evidence, reason, retrieved, superseded_by FROM facts"
)


def sentence(f: Fact) -> str:
    """The fact as words for a text model: "red mug usually in kitchen" (a named fact: labels filled in)."""
    return f"{f.subject_label} {f.predicate.replace('_', ' ')} {f.object_label}"
