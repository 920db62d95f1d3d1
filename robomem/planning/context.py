"""What a policy consumes: the packed memory context for one goal and robot state.

:class:`Context` is built by :meth:`robomem.planning.planner.Planner.context`; it holds
the chosen entries (each still carrying its score parts), the goal proposals
and which entries an older, conflicting version of something newer is.  It
turns into

- ``text()``: a compact timestamped block for an LLM/VLM planner, one line per
  entry ``[t=… (…s ago) | place | source/kind] text``, conflicting versions
  flagged ``SUPERSEDED by <key>``;
- ``tensor()``: ``K`` memory tokens plus a mask for a learned torch policy
  (layout below, :data:`TOKEN_LAYOUT`);
- ``goal`` / ``proposals``: where to go, with confidence (``best``).

Token layout (``D = E + 20`` with ``E`` the embedder dimension, 384 for
all-MiniLM-L6-v2 and the fallback)::

    [0, E)        text embedding of the entry's one-line text (L2-normalised)
    E+0 .. E+2    position relative to the robot, robot frame: x forward, y left, z up (m); 0 if unknown
    E+3           1 if the entry has a position, else 0
    E+4           age: log1p(max(0, now - stamp)) with seconds; 0 if unknown
    E+5           1 if the entry has a stamp, else 0
    E+6 .. E+13   kind one-hot in robomem.retrieval.query.ENTRY_KINDS order
                  (object, sighting, absence, change, snapshot, episode, step, fact)
    E+14          total score
    E+15 .. E+19  score parts: relevance, recency, importance, confidence, distance (each in [0, 1])

Rows are ordered best entry first; rows past the number of entries are zero
and their mask is False.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from robomem.retrieval.query import ENTRY_KINDS, Entry

if TYPE_CHECKING:
    import torch

    from robomem.retrieval.embedding import Embedder

Vec3 = tuple[float, float, float]

PART_NAMES = ("relevance", "recency", "importance", "confidence", "distance")
EXTRA_DIM = 3 + 1 + 1 + 1 + len(ENTRY_KINDS) + 1 + len(PART_NAMES)  # = 20


def token_layout(embed_dim: int) -> dict[str, slice]:
    """Named column slices of a memory token for an embedder of dimension ``embed_dim``."""
    e = int(embed_dim)
    if e <= 0:
        raise ValueError(f"token_layout: embed_dim must be positive, got {embed_dim!r}")
    nk = len(ENTRY_KINDS)
    return {
        "embedding": slice(0, e),
        "rel_position": slice(e, e + 3),
        "has_position": slice(e + 3, e + 4),
        "age": slice(e + 4, e + 5),
        "has_stamp": slice(e + 5, e + 6),
        "kind": slice(e + 6, e + 6 + nk),
        "score": slice(e + 6 + nk, e + 7 + nk),
        "parts": slice(e + 7 + nk, e + 7 + nk + len(PART_NAMES)),
    }


def token_dim(embed_dim: int) -> int:
    """D, the width of one memory token."""
    return int(embed_dim) + EXTRA_DIM


TOKEN_LAYOUT = token_layout(384)  # the layout for the default 384-d embedders


def estimate_tokens(text: str) -> int:
    """A cheap language-model token estimate: about 4 characters per token (English, BPE)."""
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class Goal:
    """What the robot is after: free text ("bring me the red mug") and/or an exact target label."""

    text: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        for name in ("text", "label"):
            v = getattr(self, name)
            if v is None:
                continue
            if not isinstance(v, str):
                raise ValueError(f"Goal.{name}: expected a string, got {type(v).__name__}")
            v = v.strip()
            if not v:
                raise ValueError(f"Goal.{name}: must not be empty")
            if "\x00" in v or len(v) > 2000:
                raise ValueError(f"Goal.{name}: contains NUL or is longer than 2000 characters")
            object.__setattr__(self, name, v)
        if self.text is None and self.label is None:
            raise ValueError("Goal: give a text, a label, or both")

    @classmethod
    def of(cls, goal: Goal | str) -> Goal:
        if isinstance(goal, Goal):
            return goal
        if isinstance(goal, str):
            return cls(text=goal)
        raise ValueError(f"goal: expected a Goal or a string, got {type(goal).__name__}")

    @property
    def describe(self) -> str:
        if self.text and self.label:
            return f"{self.text} (target: {self.label})"
        return self.text or f"find the {self.label}"


@dataclass(frozen=True)
class RobotState:
    """Where the robot is and when: position (world, m), heading yaw (rad, about z), time (s)."""

    position: Vec3
    yaw: float = 0.0
    time: float | None = None

    def __post_init__(self) -> None:
        try:
            p = tuple(float(v) for v in self.position)
        except (TypeError, ValueError):
            raise ValueError(f"RobotState.position: expected 3 numbers, got {self.position!r}") from None
        if len(p) == 2:
            p = (p[0], p[1], 0.0)
        if len(p) != 3 or not all(math.isfinite(v) for v in p):
            raise ValueError(f"RobotState.position: expected 2 or 3 finite numbers, got {self.position!r}")
        object.__setattr__(self, "position", p)
        if isinstance(self.yaw, bool) or not math.isfinite(float(self.yaw)):
            raise ValueError(f"RobotState.yaw: must be a finite number, got {self.yaw!r}")
        object.__setattr__(self, "yaw", float(self.yaw))
        if self.time is not None:
            if isinstance(self.time, bool) or not math.isfinite(float(self.time)):
                raise ValueError(f"RobotState.time: must be a finite number, got {self.time!r}")
            object.__setattr__(self, "time", float(self.time))

    @classmethod
    def from_pose(cls, pose: Any, time: float | None = None) -> RobotState:
        """From a camera :class:`~robomem.observation.Pose` (yaw = heading of the optical axis in the xy plane)."""
        m = np.asarray(pose.matrix, dtype=np.float64)
        fwd = m[:3, 2]
        yaw = math.atan2(fwd[1], fwd[0]) if abs(fwd[0]) + abs(fwd[1]) > 1e-9 else 0.0
        return cls((float(m[0, 3]), float(m[1, 3]), float(m[2, 3])), yaw, time)

    def relative(self, p: Sequence[float]) -> Vec3:
        """``p`` (world) in the robot frame: x forward, y left, z up."""
        dx, dy, dz = p[0] - self.position[0], p[1] - self.position[1], p[2] - self.position[2]
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return (c * dx + s * dy, -s * dx + c * dy, dz)


PROPOSAL_KINDS = ("object", "usually_in", "place", "explore")


@dataclass(frozen=True)
class GoalProposal:
    """Where to go for the goal, and how sure memory is.

    ``kind``: ``object`` (the object's last known place), ``usually_in`` (a
    consolidated place from semantic memory), ``place`` (a place other
    evidence points at: a past search found it there) or ``explore`` (look
    around a place memory has no evidence for).  ``target`` is the point to reach or look at (world);
    ``view_pose`` (x, y, yaw) is the stored keyframe pose that best shows the
    object, where one exists.
    """

    kind: str
    confidence: float
    reason: str
    target: Vec3 | None = None
    view_pose: tuple[float, float, float] | None = None
    object_id: int | None = None
    label: str | None = None
    place: str | None = None
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in PROPOSAL_KINDS:
            raise ValueError(f"GoalProposal.kind: expected one of {PROPOSAL_KINDS}, got {self.kind!r}")
        c = float(self.confidence)
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"GoalProposal.confidence: must be in [0, 1], got {self.confidence!r}")
        object.__setattr__(self, "confidence", c)

    @property
    def xy(self) -> tuple[float, float] | None:
        if self.view_pose is not None:
            return (self.view_pose[0], self.view_pose[1])
        return (self.target[0], self.target[1]) if self.target is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
            "target": list(self.target) if self.target else None,
            "view_pose": list(self.view_pose) if self.view_pose else None,
            "object_id": self.object_id,
            "label": self.label,
            "place": self.place,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class Context:
    """The packed memory context for one goal at one robot state."""

    goal: Goal
    state: RobotState
    now: float
    entries: tuple[Entry, ...]
    proposals: tuple[GoalProposal, ...]
    superseded: Mapping[str, str] = field(default_factory=dict)  # entry key -> key of the newer entry
    merged: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kept key -> duplicate keys folded in
    budget: Mapping[str, int] = field(default_factory=dict)  # k, max_tokens, tokens used
    embedder: Embedder | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "proposals", tuple(self.proposals))
        object.__setattr__(self, "superseded", MappingProxyType(dict(self.superseded)))
        object.__setattr__(self, "merged", MappingProxyType({k: tuple(v) for k, v in self.merged.items()}))
        object.__setattr__(self, "budget", MappingProxyType(dict(self.budget)))

    # -- goal --------------------------------------------------------------------------
    @property
    def best(self) -> GoalProposal:
        """The first proposal (always present: at worst, ``explore``)."""
        return self.proposals[0]

    @property
    def knows_goal(self) -> bool:
        return self.best.kind != "explore"

    # -- text --------------------------------------------------------------------------
    def line(self, e: Entry) -> str:
        """One entry as ``[t=… (…s ago) | place | source/kind] text``, flagged when superseded."""
        when = "t=?"
        if e.stamp is not None:
            when = f"t={e.stamp:.1f}s ({max(0.0, self.now - e.stamp):.0f}s ago)"
        where = e.place or (f"({e.position[0]:.2f}, {e.position[1]:.2f})" if e.position is not None else "-")
        flag = f"  [SUPERSEDED by {self.superseded[e.key]}]" if e.key in self.superseded else ""
        return f"[{when} | {where} | {e.source}/{e.kind}] {e.text}{flag}"

    def text(self) -> str:
        """A compact, timestamped text block for an LLM/VLM planner."""
        s = self.state
        head = [
            f"GOAL: {self.goal.describe}",
            f"ROBOT: at ({s.position[0]:.2f}, {s.position[1]:.2f}, {s.position[2]:.2f}) heading "
            f"{math.degrees(s.yaw):.0f} deg, now t={self.now:.1f}s",
        ]
        for i, p in enumerate(self.proposals[:3]):
            where = ""
            if p.target is not None:
                where = f" at ({p.target[0]:.2f}, {p.target[1]:.2f}, {p.target[2]:.2f})"
            if p.place:
                where += f" in the {p.place}"
            head.append(
                f"{'PROPOSAL' if i == 0 else 'FALLBACK'} {i + 1}: {p.kind}{where}, "
                f"confidence {p.confidence:.2f} - {p.reason}"
            )
        if not self.entries:
            head.append("MEMORY: nothing relevant is remembered.")
            return "\n".join(head)
        head.append(f"MEMORY ({len(self.entries)} entries, best first):")
        return "\n".join(head + [self.line(e) for e in self.entries])

    # -- tensor ------------------------------------------------------------------------
    def features(self, k: int, embed_dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The tensor layout as numpy: ``(tokens float32 [k, D], mask bool [k])``."""
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"Context.tensor: k must be a positive integer, got {k!r}")
        emb = self.embedder
        if embed_dim is None:
            if emb is None:
                raise ValueError("Context.tensor: no embedder attached; pass embed_dim or build it with a Planner")
            embed_dim = int(emb.dim)
        lay = token_layout(embed_dim)
        tokens = np.zeros((k, token_dim(embed_dim)), dtype=np.float32)
        mask = np.zeros(k, dtype=bool)
        rows = list(self.entries[:k])
        if not rows:
            return tokens, mask
        if emb is not None:
            vecs = emb.embed([e.text for e in rows])
            if vecs.shape[1] != embed_dim:
                raise ValueError(
                    f"Context.tensor: embedder gives {vecs.shape[1]}-d vectors, layout expects {embed_dim}"
                )
            tokens[: len(rows), lay["embedding"]] = vecs
        kind0 = lay["kind"].start
        for i, e in enumerate(rows):
            if e.position is not None:
                tokens[i, lay["rel_position"]] = self.state.relative(e.position)
                tokens[i, lay["has_position"]] = 1.0
            if e.stamp is not None:
                tokens[i, lay["age"]] = math.log1p(max(0.0, self.now - e.stamp))
                tokens[i, lay["has_stamp"]] = 1.0
            if e.kind in ENTRY_KINDS:
                tokens[i, kind0 + ENTRY_KINDS.index(e.kind)] = 1.0
            tokens[i, lay["score"]] = e.score
            tokens[i, lay["parts"]] = [float(e.parts.get(p, 0.0)) for p in PART_NAMES]
            mask[i] = True
        return tokens, mask

    def tensor(self, k: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens float32 [k, D], mask bool [k])`` as torch tensors; see the module docstring for the layout."""
        import torch

        tokens, mask = self.features(k)
        return torch.from_numpy(tokens), torch.from_numpy(mask)

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": {"text": self.goal.text, "label": self.goal.label},
            "state": {"position": list(self.state.position), "yaw": self.state.yaw, "time": self.state.time},
            "now": self.now,
            "proposals": [p.to_dict() for p in self.proposals],
            "entries": [e.to_dict() for e in self.entries],
            "superseded": dict(self.superseded),
            "merged": {k: list(v) for k, v in self.merged.items()},
            "budget": dict(self.budget),
        }


def _build_memory_attention() -> type:
    import torch
    import torch.nn as nn

    class MemoryAttention(nn.Module):
        """Reference torch module: a query attends over the memory tokens.

        ``forward(tokens [B, K, D], mask [B, K] bool, query [B, Q] | None) -> [B, d_model]``.
        Tokens are projected to ``d_model``; the query (e.g. a goal embedding
        concatenated with proprioception) is projected too, or a learned query is
        used when ``query_dim`` is 0.  Masked tokens are ignored; a row with no
        valid token returns zeros (memory is empty), never NaN.
        """

        def __init__(self, token_dim: int, d_model: int = 128, n_heads: int = 4, query_dim: int = 0) -> None:
            super().__init__()
            if token_dim <= 0 or d_model <= 0 or n_heads <= 0 or d_model % n_heads:
                raise ValueError(
                    f"MemoryAttention: need positive dims and d_model % n_heads == 0, got "
                    f"token_dim={token_dim}, d_model={d_model}, n_heads={n_heads}"
                )
            self.token_dim = int(token_dim)
            self.query_dim = int(query_dim)
            self.proj = nn.Sequential(nn.Linear(token_dim, d_model), nn.GELU(), nn.LayerNorm(d_model))
            self.query_proj = nn.Linear(query_dim, d_model) if query_dim > 0 else None
            self.learned_query = nn.Parameter(torch.zeros(1, 1, d_model)) if query_dim <= 0 else None
            self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
            self.out = nn.Linear(d_model, d_model)

        def forward(self, tokens: torch.Tensor, mask: torch.Tensor, query: torch.Tensor | None = None) -> torch.Tensor:
            if tokens.dim() == 2:
                tokens, mask = tokens.unsqueeze(0), mask.unsqueeze(0)
                query = query.unsqueeze(0) if query is not None else None
            if tokens.shape[-1] != self.token_dim:
                raise ValueError(f"MemoryAttention: tokens have width {tokens.shape[-1]}, expected {self.token_dim}")
            if mask.shape != tokens.shape[:2]:
                raise ValueError(
                    f"MemoryAttention: mask shape {tuple(mask.shape)} does not match tokens {tuple(tokens.shape[:2])}"
                )
            b = tokens.shape[0]
            x = self.proj(tokens.float())
            if self.query_proj is not None:
                if query is None or query.shape != (b, self.query_dim):
                    raise ValueError(f"MemoryAttention: expected a query of shape ({b}, {self.query_dim})")
                q = self.query_proj(query.float()).unsqueeze(1)
            else:
                q = self.learned_query.expand(b, 1, -1)
            valid = mask.bool()
            empty = ~valid.any(dim=1)
            # Rows with no valid token would give NaN; let them attend to one dummy slot and zero them after.
            pad = ~valid
            pad[empty, 0] = False
            y, _ = self.attn(q, x, x, key_padding_mask=pad, need_weights=False)
            y = self.out(y.squeeze(1))
            return torch.where(empty.unsqueeze(1), torch.zeros_like(y), y)

    return MemoryAttention


def __getattr__(name: str) -> Any:
    # MemoryAttention needs torch; build it on first use so importing robomem.planning.context does not import torch.
    if name == "MemoryAttention":
        cls = _build_memory_attention()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
