"""What the question engine returns: typed, frozen, with its evidence, JSON-able."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from robomem.qa.labels import LabelMatch

Vec3 = tuple[float, float, float]

# answered:  memory has an answer (it may be "no changes" or "0 mugs present")
# not_seen:  nothing remembered is called that - the one abstention (CLI exit code 1)
# unknown:   the object is known, but the evidence does not say (observed absent where last seen,
#            or not yet seen at that time)
STATUSES = ("answered", "not_seen", "unknown")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: ``kind`` sighting / absence / snapshot / fact / change / entry; ``ref`` its row."""

    kind: str
    ref: str
    stamp: float | None = None
    object_id: int | None = None
    frame: int | None = None  # index in the frames table, where the evidence came from one frame
    place: str | None = None
    robot: str | None = None  # which robot saw it / looked (fleet memory); None in one robot's store

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "stamp": self.stamp,
            "object_id": self.object_id,
            "frame": self.frame,
            "place": self.place,
            "robot": self.robot,
        }


@dataclass(frozen=True)
class Item:
    """One line of an answer: an object (where, since when, present or not), a change, a fact or an entry."""

    text: str
    object_id: int | None = None
    label: str | None = None
    place: str | None = None
    position: Vec3 | None = None
    status: str | None = None  # present / absent / seen / believed / unknown / moved / appeared / disappeared
    stamp: float | None = None  # when the evidence for this item was observed
    match: LabelMatch | None = None
    view_pose: tuple[float, float, float] | None = None  # (x, y, yaw) of the keyframe that shows it best
    fact_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "text": self.text,
            "object_id": self.object_id,
            "label": self.label,
            "place": self.place,
            "position": [round(float(v), 3) for v in self.position] if self.position is not None else None,
            "status": self.status,
            "stamp": self.stamp,
            "match": self.match.to_dict() if self.match is not None else None,
            "view_pose": [round(float(v), 3) for v in self.view_pose] if self.view_pose is not None else None,
            "fact_id": self.fact_id,
        }
        d.update({k: _jsonable(v) for k, v in self.extra.items()})
        return d


@dataclass(frozen=True)
class Answer:
    """The engine's answer to one verb. Front doors only format it (``text`` for people, ``to_dict`` for tools)."""

    verb: str
    status: str
    text: tuple[str, ...]
    args: Mapping[str, Any] = field(default_factory=dict)
    items: tuple[Item, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    count: int | None = None
    confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Answer.status: expected one of {STATUSES}, got {self.status!r}")
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))
        object.__setattr__(self, "text", tuple(self.text))
        object.__setattr__(self, "confidence", float(min(1.0, max(0.0, self.confidence))))

    @property
    def abstained(self) -> bool:
        """Memory has never seen anything by that name."""
        return self.status == "not_seen"

    @property
    def best(self) -> Item | None:
        return self.items[0] if self.items else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "status": self.status,
            "abstained": self.abstained,
            "args": {k: _jsonable(v) for k, v in self.args.items()},
            "count": self.count,
            "confidence": round(self.confidence, 3),
            "text": list(self.text),
            "results": [i.to_dict() for i in self.items],
            "evidence": [e.to_dict() for e in self.evidence],
        }


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x
