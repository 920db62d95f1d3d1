"""The facade: open a store, update it from observations and events, retrieve.

``update(observation)``: preprocess once (perception -> association ->
observed absences), then the four submodules compute their changes in
parallel (a thread pool; numpy releases the GIL), and every row of the update
is written in one SQLite transaction.  In-memory indexes change only after
the commit, and ids are taken at commit, so a failed update leaves memory
exactly as it was.  The duplicates a frame reveals are merged right after it,
in one more transaction (only when there are any: rare), through each
submodule's ``remap_object`` — no reload.

``maintain()``: the budget pass (forgetting, blob collection, VACUUM), every
submodule's ``forget(limits, now)`` plus the frame log's, in one transaction.
``update`` runs it every ``budget.check_every`` frames; a node, replay or any
caller may also run ``maintain()`` itself (e.g. on a timer).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from robomem.config import LIVE_CONFIG, MemoryConfig, config_diff
from robomem.errors import ConfigError, OutOfOrderError
from robomem.ingest.frame import Absence, Frame
from robomem.ingest.perception import Segment, segments_from_observation
from robomem.maintenance.forgetting import plan_forgetting
from robomem.maintenance.merging import Merge, MoveSearch, find_merges, merge_changes, place_seen_before
from robomem.observation import Event, Observation
from robomem.places import Place, Places
from robomem.retrieval.embedding import Embedder, make_embedder
from robomem.retrieval.query import Entry, Query, merge
from robomem.store.coordinates import check_coordinates, coordinate_limit
from robomem.store.database import Store, StoreError, store_path
from robomem.store.frames import SCHEMA as FRAME_SCHEMA
from robomem.store.frames import TABLES as FRAME_TABLES
from robomem.store.frames import FrameLog
from robomem.store.ids import record_high_water
from robomem.store.index_cache import open_with_cache, save_cache, setting_of
from robomem.store.outbox import SCHEMA as OUTBOX_SCHEMA
from robomem.store.outbox import TABLES as OUTBOX_TABLES
from robomem.store.outbox import Outbox, OutboxWrite, frame_write
from robomem.store.places import SCHEMA as PLACE_SCHEMA
from robomem.store.places import TABLES as PLACE_TABLES
from robomem.store.places import PlaceTable
from robomem.store.rwlock import ReadWriteLock
from robomem.submodules.base import Changes, Submodule, SubmoduleContext
from robomem.submodules.episodic.memory import EpisodicMemory
from robomem.submodules.semantic.memory import SemanticMemory
from robomem.submodules.spatial.memory import ObjectRecord, SpatialMemory
from robomem.submodules.temporal.memory import TemporalMemory

log = logging.getLogger(__name__)

CORE_SCHEMA = (*FRAME_SCHEMA, *PLACE_SCHEMA, *OUTBOX_SCHEMA)
CORE_TABLES = (*FRAME_TABLES, *PLACE_TABLES, *OUTBOX_TABLES)  # the facade's own tables


# Observations may arrive this much older than the newest one from the same robot
# (sensor jitter, approximate sync); older ones are refused: memory is built in time order.
REORDER_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class UpdateResult:
    stamp: float
    frame_index: int
    object_ids: Mapping[int, int]  # instance id in the observation -> persistent object id
    new_objects: tuple[int, ...]
    reidentified: tuple[int, ...]  # objects seen again after being observed absent (moved)
    absences: tuple[int, ...]  # objects observed absent in this frame
    merged: tuple[tuple[int, int], ...] = ()  # (kept id, dropped duplicate id) pairs merged after this frame
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "object_ids", MappingProxyType(dict(self.object_ids)))
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))


class Memory:
    """A robot's memory over one store directory."""

    def __init__(
        self,
        path: str | Path,
        config: MemoryConfig | Mapping[str, Any] | None = None,
        embedder: Embedder | None = None,
        parallel: bool = False,
        readonly: bool = False,
    ) -> None:
        if isinstance(config, Mapping):  # the same dict MemoryConfig.from_dict takes, checked the same way
            config = MemoryConfig.from_dict(config)
        elif config is not None and not isinstance(config, MemoryConfig):
            raise ValueError(f"config: expected a MemoryConfig or a mapping, got {type(config).__name__}")
        self.config = config or MemoryConfig()
        self.readonly = readonly
        self.path = store_path(path)
        self.embedder = embedder if embedder is not None else make_embedder(self.config.embedder)
        classes: list[type[Submodule]] = [SpatialMemory, TemporalMemory, EpisodicMemory, SemanticMemory]
        schema = list(CORE_SCHEMA)
        for cls in classes:
            schema.extend(cls.schema)
        # readers (retrieve, a planner's context) hold the read side; a commit and its in-memory apply the write side
        self._state = ReadWriteLock()
        self.store = Store(self.path, readonly=True) if readonly else Store(self.path, schema)
        self.frames = FrameLog(self.store)
        self._moves = MoveSearch()  # what the moved-object rule learnt in earlier frames (merging.py)
        # the fleet outbox (robomem/store/outbox.py): written with every change while memory.fleet.url is set
        self.outbox = Outbox(self.store)
        self._fleet_robot = self.config.fleet.robot_id if self.config.fleet.url and not readonly else None
        try:
            self._places = self._load_places()
            self._open_submodules()
        except StoreError:
            self.store.close()
            raise
        except Exception as exc:
            # A damaged store surfaces here as whatever its bytes decode into (sqlite3.DatabaseError,
            # UnicodeDecodeError, JSONDecodeError, a non-rigid stored pose, ...): one typed error instead.
            self.store.close()
            raise StoreError(
                f"{self.path}: cannot load memory from this store ({type(exc).__name__}: {exc}); "
                "the store may be damaged — check it with `PRAGMA integrity_check` or restore a backup"
            ) from exc
        except BaseException:
            self.store.close()
            raise
        self.parallel = parallel
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.config.workers), thread_name_prefix="robomem")
        self._lock = threading.RLock()
        self._updates_since_budget = 0
        self._closed = False
        # retrieved entries, counted (for forgetting) with the next write: retrieval itself never writes
        self._retrieved: list[Entry] = []
        self._retrieved_lock = threading.Lock()

    def _open_submodules(self) -> None:
        """Fresh submodules, loaded from the index cache when it is current, else from SQL (index_cache.py)."""
        self.opened_from_cache = open_with_cache(
            self.path, self.store.change_clock(), setting_of(self.config, self.embedder), self._make_submodules
        )

    def _make_submodules(self, cached: Mapping[str, Mapping[str, np.ndarray]] | None) -> None:
        """Fresh submodules over the store (all their state is made in __init__), each loaded once."""
        ctx = SubmoduleContext(self.store, self.config, self.embedder, self._places)
        self.spatial = SpatialMemory(ctx)
        self.temporal = TemporalMemory(ctx, self.spatial)
        self.episodic = EpisodicMemory(ctx, self.spatial)
        self.semantic = SemanticMemory(ctx, self.spatial, self.temporal, self.episodic, self.frames)
        self.submodules: tuple[Submodule, ...] = (self.spatial, self.temporal, self.episodic, self.semantic)
        # loading makes millions of long-lived objects (rows, index sets) and no garbage cycles: the cyclic
        # collector would re-scan all of them again and again while they are made (~1/3 of open at 10^6)
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for sm in self.submodules:
                sm.load(None if cached is None else cached.get(sm.name))
        finally:
            if gc_was_on:
                gc.enable()
        self._frame_index, self._last_stamp = self.frames.newest()

    @classmethod
    def open(
        cls,
        path: str | Path,
        config: MemoryConfig | Mapping[str, Any] | None = None,
        embedder: Embedder | None = None,
        parallel: bool = False,
        readonly: bool = False,
    ) -> Memory:
        """Open (or create) the store at ``path`` (a directory).

        ``readonly=True`` opens an existing store for queries only, without taking the
        writer lock, so a CLI can inspect a store a running node is writing.

        ``parallel=True`` runs the four submodule updates (and the retrieval fan-out) in a thread
        pool.  Sequential is the default because it is faster on the 2-core machines this is measured
        on: ``benchmarks/ingest.py`` at 640x480 gave parallel/sequential 0.96x idle and 0.79x loaded
        (71.1 vs 56.4 ms median, 80 frames); the submodules' work is small next to perception.
        """
        return cls(path, config, embedder, parallel, readonly)

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=True)
            try:
                if not self.readonly:
                    self._write_index_cache()
            finally:
                self.store.close()

    def _write_index_cache(self) -> None:
        with self._state.writing():  # no update applies between the clock read and the arrays
            save_cache(self.path, self.store.change_clock(), setting_of(self.config, self.embedder), self.submodules)

    def _load_places(self) -> Places:
        return PlaceTable(self.store).load()

    @property
    def places(self) -> Places:
        return self._places

    def set_places(self, places: Iterable[Place]) -> None:
        """Tell memory the rooms/areas (replaces the previous set; objects are re-placed as they are seen)."""
        new = Places(places)
        self._check_writable()
        with self._lock, self.store.transaction() as conn:
            PlaceTable.replace(conn, new)
        self._places = new
        ctx = SubmoduleContext(self.store, self.config, self.embedder, new)
        for sm in self.submodules:
            sm.ctx = ctx

    def reconfigure(self, config: MemoryConfig) -> tuple[str, ...]:
        """Take ``config`` while open, if it differs only in :data:`LIVE_CONFIG` fields; returns what changed.

        ``config`` is a MemoryConfig, so every value was checked by its rules when it was made.  A change to
        any other field is a ConfigError naming it (nothing is applied).  The swap waits for the update in
        progress and for readers (it holds both locks), so a frame or a query sees the old values or the new
        ones, never a mix."""
        if not isinstance(config, MemoryConfig):
            raise ConfigError(f"reconfigure: expected a MemoryConfig, got {type(config).__name__}")
        changed = config_diff(self.config, config)
        fixed = [name for name in changed if name not in LIVE_CONFIG]
        if fixed:
            raise ConfigError(
                f"memory.{fixed[0]}: cannot change while the store is open (it shapes what is stored or "
                f"loaded); reopen the store with the new value"
            )
        with self._lock, self._state.writing():
            self._check_open()
            self.config = config
            for sm in self.submodules:
                sm.ctx = dataclasses.replace(sm.ctx, config=config)
                sm.config = config
        return changed

    # -- update ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"memory at {self.path} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise RuntimeError(f"memory at {self.path} was opened read-only")

    def _run(self, fn_name: str, arg: Any) -> list[Changes]:
        if self.parallel:
            futures = [self._pool.submit(getattr(sm, fn_name), arg) for sm in self.submodules]
            return [f.result() for f in futures]
        return [getattr(sm, fn_name)(arg) for sm in self.submodules]

    def _retrieval_changes(self) -> list[Changes]:
        with self._retrieved_lock:
            got, self._retrieved = self._retrieved, []
        if not got:
            return []
        now = self.newest_stamp
        out = [sm.mark_retrieved(got, now) for sm in self.submodules]
        return out

    def _commit(self, changes: list[Changes], extra: Changes | None = None, outbox: OutboxWrite | None = None) -> None:
        changes = changes + self._retrieval_changes()
        with self._state.writing():  # no reader sees the indexes between this commit and its in-memory apply
            try:
                with self.store.transaction() as conn:
                    record_high_water(conn)  # ids this transaction deletes stay taken
                    if outbox is not None:
                        outbox.begin(conn)
                    if extra is not None:
                        extra.execute(conn)
                    for c in changes:
                        c.execute(conn)
                    record_high_water(conn)
                    if outbox is not None:  # last: it copies the rows this transaction wrote
                        outbox.write(conn)
            except sqlite3.Error as exc:  # disk full, I/O error, a damaged schema: rolled back, memory unchanged
                raise StoreError(f"{self.path}: update not stored ({type(exc).__name__}: {exc})") from exc
            if extra is not None:
                extra.commit_memory()
            for c in changes:
                c.commit_memory()

    def reading(self) -> Any:
        """A context manager: inside it, no update, merge or forgetting pass changes what this thread reads
        (retrieve holds it; hold it around several reads that must agree, e.g. a planner's context)."""
        self._refresh_if_changed()
        return self._state.reading()

    def _refresh_if_changed(self) -> None:
        """A read-only view reloads when another process has committed to the store since it last looked."""
        if not self.readonly or self._closed or self._state.reading_here() or not self.store.changed():
            return
        with self._state.writing():
            self._places = self._load_places()
            self._open_submodules()

    def update(
        self, observation: Observation, segments: Sequence[Segment] | None = None, absent: Sequence[int] = ()
    ) -> UpdateResult:
        """Add one frame to memory. Returns once it is durably stored.

        ``segments`` (world-frame detections already cut out, e.g. objects of an imported scene graph,
        see :mod:`robomem.report.dsg`) replace perception on the observation's images; ``absent``
        names remembered objects declared observed absent at this stamp.
        """
        if not isinstance(observation, Observation):
            raise ValueError(f"update: expected an Observation, got {type(observation).__name__}")
        with self._lock:
            self._check_writable()
            t0 = time.perf_counter()
            last = self._last_stamp.get(observation.robot_id)
            if last is not None and observation.stamp < last - REORDER_TOLERANCE_S:
                raise OutOfOrderError(
                    f"Observation.stamp: {observation.stamp:.3f} is older than the last update ({last:.3f}) "
                    f"from robot {observation.robot_id!r}; memory is built in time order"
                )
            # far from the origin, float32 object points blur the map: refuse instead (store/coordinates.py)
            limit = coordinate_limit(self.config.spatial.voxel_size)
            check_coordinates(
                "Observation.pose.position", observation.pose.position, limit, self.config.spatial.max_depth
            )
            if segments is None:
                segments = segments_from_observation(observation, self.config.spatial)
            else:
                for seg in segments:
                    check_coordinates(f"segment {seg.instance_id} bounding box", (*seg.bbox_min, *seg.bbox_max), limit)
            t1 = time.perf_counter()
            stamp = observation.stamp
            detections = self.spatial.associate(
                list(segments), appeared=lambda seg: place_seen_before(self.frames, seg.centroid, stamp)
            )
            absences = self.spatial.observed_absences(observation, {d.object_id for d in detections})
            for oid in absent:
                rec = self.spatial.get(oid)
                if rec is None:
                    raise ValueError(f"update: absent object {oid} is not in memory")
                absences.append(Absence(oid, rec.label, rec.centroid, rec.place, 1.0))
            t2 = time.perf_counter()
            index = self._frame_index + 1
            place = self._places.locate(observation.pose.position)
            frame = Frame(observation, index, tuple(detections), tuple(absences), place)
            changes = self._run("update", frame)
            t3 = time.perf_counter()
            core = Changes()
            core.statements.append(
                self.frames.insert(
                    index,
                    observation.stamp,
                    observation.robot_id,
                    observation.source,
                    observation.pose.position,
                    observation.pose.quat_xyzw(),
                    place,
                    len(detections),
                )
            )
            self._commit(changes, core, None if self._fleet_robot is None else frame_write(self._fleet_robot, frame))
            t4 = time.perf_counter()
            self._frame_index = index
            self._last_stamp[observation.robot_id] = max(last or observation.stamp, observation.stamp)
            # The frame is stored: from here on nothing may raise, or a caller retrying would store it twice.
            merges = find_merges(
                self.spatial, self.frames, frame, self.config.spatial.reid_colour_threshold, self._moves
            )
            if merges:
                try:
                    self._merge(merges)
                except (StoreError, OSError) as exc:
                    log.warning("frame %d stored, its duplicates not merged: %s", index, exc)
                    merges = []
            remap = {m.drop: m.keep for m in merges}
            try:
                self._after_update()
            except (StoreError, OSError) as exc:
                log.warning("frame %d stored, the budget pass failed (retried later): %s", index, exc)
            return UpdateResult(
                stamp=observation.stamp,
                frame_index=index,
                object_ids={d.segment.instance_id: remap.get(d.object_id, d.object_id) for d in detections},
                new_objects=tuple(d.object_id for d in detections if d.is_new and d.object_id not in remap),
                reidentified=tuple(d.object_id for d in detections if d.reidentified)
                + tuple(m.keep for m in merges if m.reason == "moved"),
                merged=tuple((m.keep, m.drop) for m in merges),
                absences=tuple(a.object_id for a in absences),
                timings_ms={
                    "perception": (t1 - t0) * 1e3,
                    "association": (t2 - t1) * 1e3,
                    "submodules": (t3 - t2) * 1e3,
                    "commit": (t4 - t3) * 1e3,
                    "total": (t4 - t0) * 1e3,
                },
            )

    def add_event(self, event: Event) -> None:
        """Add a language/action event (instruction, action, outcome, asserted fact)."""
        if not isinstance(event, Event):
            raise ValueError(f"add_event: expected an Event, got {type(event).__name__}")
        with self._lock:
            self._check_writable()
            mark = Changes()
            mark.sql(*self.frames.mark_event(event.robot_id, event.stamp))  # replay resumes events from it
            self._commit(self._run("on_event", event), extra=mark)

    # -- episodes and facts (delegating to episodic / semantic; committed like an update) ----
    def begin_episode(self, task: str, stamp: float | None = None, robot_id: str = "robot") -> int:
        """Begin an explicit episode (a task); returns its id. ``stamp`` defaults to the newest time in memory."""
        with self._lock:
            self._check_open()
            episode_id, ch = self.episodic.begin(task, stamp, robot_id)
            self._commit([ch])
            return episode_id

    def end_episode(
        self,
        outcome: str,
        stamp: float | None = None,
        robot_id: str = "robot",
        success: bool | None = None,
        target: str | None = None,
        found_in: str | None = None,
    ) -> int:
        """End the open explicit episode with an outcome ("success", "failed: drawer stuck"); returns its id.
        A search episode also says what it looked for (``target``, a label) and the place it found it in
        (``found_in``): typed fields the planner reads back ("last time it was in the bedroom")."""
        with self._lock:
            self._check_open()
            episode_id, ch = self.episodic.end(outcome, stamp, robot_id, success, target, found_in)
            self._commit([ch])
            return episode_id

    def add_step(
        self,
        observation: str = "",
        action: str = "",
        result: str = "",
        success: bool | None = None,
        stamp: float | None = None,
        robot_id: str = "robot",
    ) -> int:
        """Record one step (observation summary, action, result) in the current episode; returns the step id."""
        with self._lock:
            self._check_open()
            step_id, ch = self.episodic.step(observation, action, result, success, stamp, robot_id)
            self._commit([ch])
            return step_id

    def consolidate(self) -> None:
        """Run semantic consolidation now (usually_in, often_fails, on/in); it also runs periodically."""
        with self._lock:
            self._check_open()
            self._commit([self.semantic.consolidate(max(self.newest_stamp, self.episodic.newest_stamp() or 0.0))])

    def clear(self) -> None:
        """Forget everything (objects, sightings, episodes, facts, frames); keep the store, its places and meta."""
        with self._lock, self._state.writing():
            self._check_writable()
            self.store.clear_tables(keep=(*PLACE_TABLES, *OUTBOX_TABLES))  # unsent fleet rows stay
            self._open_submodules()  # fresh submodules over the emptied store
            self.store.collect_garbage(self.spatial.referenced_blobs())

    def _merge(self, merges: list[Merge]) -> None:
        """Every row and index entry of each dropped duplicate becomes the kept object's: one transaction."""
        outbox = None
        if self._fleet_robot is not None:
            pairs = [(m.drop, m.keep) for m in merges]
            outbox = OutboxWrite(
                self._fleet_robot, "merge", self.newest_stamp, touched=[k for _, k in pairs], merges=pairs
            )
        self._commit([merge_changes(self.spatial, self.temporal, self.submodules, merges)], outbox=outbox)

    def _after_update(self) -> None:
        self._updates_since_budget += 1
        if self._updates_since_budget >= self.config.budget.check_every:
            self._updates_since_budget = 0
            self.maintain()

    def maintain(self) -> dict[str, Any]:
        """The budget pass now: forgetting in one transaction, then blobs collected and the file compacted.

        ``update`` runs it every ``budget.check_every`` frames; call it any time (e.g. on a timer)."""
        with self._lock:
            self._check_writable()
            t0 = time.perf_counter()
            b = self.config.budget
            rows_before, bytes_before = self.stats()["rows"], self.store.size_bytes()
            ch, plan = plan_forgetting(self.store, self.submodules, self.frames, CORE_TABLES, b, self.world_stamp())
            if ch:
                forget = (
                    None if self._fleet_robot is None else OutboxWrite(self._fleet_robot, "forget", self.world_stamp())
                )
                self._commit([ch], outbox=forget)
            report: dict[str, Any] = dict(plan)
            try:
                report["blobs_removed"] = self.store.collect_garbage(self.spatial.referenced_blobs())
                report["vacuumed"] = self.store.compact(b.vacuum_free_fraction)
            except (sqlite3.Error, OSError) as exc:  # e.g. VACUUM needs free disk space it does not have
                raise StoreError(f"{self.path}: compaction failed ({type(exc).__name__}: {exc})") from exc
            report["rows_before"] = rows_before
            report["rows_after"] = self.stats()["rows"]
            report["bytes_before"] = bytes_before
            report["bytes_after"] = self.store.size_bytes()
            report["seconds"] = round(time.perf_counter() - t0, 4)
            return report

    def enforce_budget(self) -> dict[str, Any]:
        """``maintain()`` (the older name)."""
        return self.maintain()

    def world_stamp(self) -> float:
        """The newest time anything in memory holds (frames, episodes, facts)."""
        stamps = [self.newest_stamp, self.spatial.newest_stamp(), self.temporal.newest_stamp()]
        stamps += [self.episodic.newest_stamp(), self.semantic.newest_stamp()]
        return max((float(s) for s in stamps if s is not None), default=0.0)

    # -- retrieval ------------------------------------------------------------------
    def last_stamp(self, robot_id: str = "robot") -> float | None:
        """Stamp of the newest frame stored from this robot (None: none yet)."""
        return self._last_stamp.get(robot_id)

    def last_event_stamp(self, robot_id: str = "robot") -> float | None:
        """Stamp of the newest event stored from this robot (None: none yet, or a store older than the mark)."""
        return self.frames.last_event(robot_id)

    @property
    def newest_stamp(self) -> float:
        return max(self._last_stamp.values(), default=0.0)

    def retrieve(self, query: Query | str) -> list[Entry]:
        """Fan the query out to the four submodules in parallel; merge, score and rank."""
        if isinstance(query, str):
            query = Query(text=query)
        if not isinstance(query, Query):
            raise ValueError(f"retrieve: expected a Query or a string, got {type(query).__name__}")
        self._check_open()
        with self.reading():  # one consistent state across the four submodules
            now = query.time if query.time is not None else self.newest_stamp
            if self.parallel:
                futures = [self._pool.submit(sm.search, query, now) for sm in self.submodules]
                candidates = [e for f in futures for e in f.result()]
            else:
                candidates = [e for sm in self.submodules for e in sm.search(query, now)]
            entries = merge(candidates, self.config.retrieval, query.k)
        if not self.readonly:  # counted for forgetting; written with the next update
            with self._retrieved_lock:
                self._retrieved.extend(entries)
        return entries

    # -- conveniences ---------------------------------------------------------------
    def objects(self, label: str | None = None) -> list[ObjectRecord]:
        with self.reading():
            return self.spatial.objects(label)

    def trajectory(self, robot_id: str | None = None) -> list[tuple[float, float, float, float]]:
        """The camera path as (stamp, x, y, z) rows in time order."""
        return self.frames.trajectory(robot_id)

    def stats(self) -> dict[str, Any]:
        rows: dict[str, int] = {}
        for sm in self.submodules:
            rows.update(sm.row_counts())
        rows["frames"] = self.frames.count()
        return {
            "rows": rows,
            "bytes": self.store.size_bytes(),
            "objects": self.spatial.count(),  # from the index: building each object's record was 2 s at 10^5
            "damaged": list(self.spatial.damaged),  # rows that failed their checksums at open, and what was done
        }
