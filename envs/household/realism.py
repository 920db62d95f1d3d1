"""Feed a memory through the perception-noise model and score what it keeps against the truth.

:class:`RealismFeed` is what ``robomem eval --realism LEVEL`` and ``robomem demo --realism LEVEL``
put between the simulator and ``Memory.update``: each rendered frame goes through
:class:`~robomem.envs.household.noise.PerceptionNoise` (or is dropped), then through the adapter.
It also keeps, for scoring only, which true instance each memory object's evidence came from
(``UpdateResult.object_ids`` and the noise model's ``truth``), so the eval can say how many of the
objects memory believes match no true object.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from robomem.memory import Memory, UpdateResult

from .adapter import to_observation
from .noise import SYNONYMS, NoiseConfig, PerceptionNoise, _alternatives
from .state import HouseholdFrame

__all__ = ["RealismFeed", "same_thing"]


def same_thing(memory_label: str, true_label: str) -> bool:
    """Does a memory label name the true object (its label or a synonym of it: "red cup" for "red mug")?"""
    return memory_label == true_label or memory_label in _alternatives(true_label, SYNONYMS)


class RealismFeed:
    """Simulator frames -> (noise) -> adapter -> ``memory.update``, with provenance for scoring."""

    def __init__(self, level: str | NoiseConfig = "clean", seed: int = 0) -> None:
        self.noise = PerceptionNoise(level, seed)
        self.frames = 0
        self.dropped = 0
        self._sources: dict[int, Counter[int]] = {}  # object id -> true instance id (0 = false positive) -> count
        self._true_labels: dict[int, str] = {}

    @property
    def level(self) -> str:
        return self.noise.config.level

    def update(self, memory: Memory, frame: HouseholdFrame) -> UpdateResult | None:
        """Publish ``frame`` through the noise model and update ``memory``; None if the frame was dropped."""
        self.frames += 1
        noisy = self.noise.apply(frame)
        if noisy is None:
            self.dropped += 1
            return None
        res = memory.update(to_observation(noisy.frame))
        for iid, oid in res.object_ids.items():
            true_id = int(noisy.truth.get(int(iid), 0))
            self._sources.setdefault(int(oid), Counter())[true_id] += 1
            if true_id:
                self._true_labels[true_id] = frame.labels[true_id]
        return res

    def sources(self, memory: Memory) -> dict[int, Counter[int]]:
        """Object id (after merges) -> how many detections of each true instance (0: false positives) fed it."""
        out: dict[int, Counter[int]] = {}
        for oid, c in self._sources.items():
            out.setdefault(memory.spatial.resolve(oid), Counter()).update(c)
        return out

    def false_objects(self, memory: Memory) -> dict[str, Any]:
        """Of the objects memory believes (confirmed), how many match no true object: fed only by false
        positives, or named as none of the true instances that fed it (a look-alike confusion stored
        apart); and how many are a second copy of a true instance already stored (duplicates)."""
        src = self.sources(memory)
        believed = [o for o in memory.spatial.objects() if o.confirmed]
        false: list[str] = []
        owners: Counter[int] = Counter()
        for o in believed:
            c = src.get(o.object_id, Counter())
            real = [(n, iid) for iid, n in c.items() if iid]
            if not any(same_thing(o.label, self._true_labels[iid]) for _n, iid in real):
                false.append(o.label)
                continue
            owners[max(real)[1]] += 1
        n = len(believed)
        return {
            "believed": n,
            "unconfirmed": len(memory.spatial.objects()) - n,
            "false": len(false),
            "false_share": round(len(false) / n, 4) if n else 0.0,
            "false_labels": sorted(false),
            "duplicates": sum(k - 1 for k in owners.values()),
            "frames": self.frames,
            "dropped": self.dropped,
        }
