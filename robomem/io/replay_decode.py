"""The decoding half of replay: bag records -> checked :class:`~robomem.observation.Observation` and
:class:`~robomem.observation.Event`, handed to a sink in log order.

:class:`Decoder` owns what is replay's own between the bag and memory: header or log-time stamps,
the ``max_frame_rate`` throttle, resuming after the newest stored frame, and stopping
(ReplayError) on a message that cannot be decoded (a damaged bag), where the live node counts and
goes on.  It never touches memory: the sink does (:class:`MemorySink` in this process).

:func:`decode_in_process` runs the decoder in a forked child process and feeds a sink in this one,
so reading, CDR decoding, image decoding, sync and TF for frame N+1 overlap ``Memory.update`` of
frame N on another core (threads cannot: both halves are Python and hold the GIL; measured in
benchmarks/replay.py).  A frame's images cross in shared memory (:class:`_FrameSlots`, at most
``SLOTS`` frames ahead), the rest of it and the order through one pipe, so everything before an error
is ingested before the error is raised, as in one process.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import mmap
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from robomem.errors import ReplayError
from robomem.io import rosmsg
from robomem.io.assembler import AssemblerSettings, ObservationAssembler, Rejected
from robomem.io.bag import BagError, BagMessage, BagReader
from robomem.io.ros_io import RosIoConfig, parse_event
from robomem.observation import Event, Observation, checked_observation, observation_fields

__all__ = ["STAGES", "Decoder", "DecoderEnd", "MemorySink", "ReplayStats", "decode_bag", "decode_in_process"]

# wall seconds by stage: read (the bag's records), deserialize (CDR -> message), assemble (decode images,
# sync, TF, build the Observation), update (Memory.update); the rest is pacing and bookkeeping.  With the
# decoder in its own process the first three run beside the fourth, so together they may exceed the wall time.
STAGES = ("read", "deserialize", "assemble", "update")


@dataclass
class ReplayStats:
    bag: str
    messages: int = 0
    frames: int = 0  # observations that entered memory
    events: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (every skip, for people)
    already_stored: int = 0  # of those, camera messages or frames already in the store (resumed or repeated replay)
    stored_events: int = 0  # and events already in the store
    first_stamp: float | None = None
    last_stamp: float | None = None
    bag_duration_s: float = 0.0
    wall_s: float = 0.0
    objects: int = 0
    error: str | None = None
    decoder: str = "inline"  # "process": decoded in a child process beside the updates
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @property
    def speedup(self) -> float:
        return self.bag_duration_s / self.wall_s if self.wall_s > 0 else float("inf")

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "bag": self.bag,
            "messages": self.messages,
            "frames": self.frames,
            "events": self.events,
            "skipped": dict(self.skipped),
            "already_stored": self.already_stored,
            "stored_events": self.stored_events,
            "bag_duration_s": round(self.bag_duration_s, 3),
            "wall_s": round(self.wall_s, 3),
            "speedup": round(self.speedup, 2) if math.isfinite(self.speedup) else None,
            "objects": self.objects,
            "error": self.error,
            "decoder": self.decoder,
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
        }

    def add_decoder(self, d: dict[str, Any]) -> None:
        """Fold in the counts a decoder process kept (its :meth:`decoder_part`)."""
        self.messages += d["messages"]
        for k, v in d["skipped"].items():
            self.skip(k, v)
        self.already_stored += d["already_stored"]
        self.stored_events += d["stored_events"]
        for k in ("read", "deserialize", "assemble"):
            self.stage_s[k] += d["stage_s"][k]
        self.error = self.error or d["error"]

    def decoder_part(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "skipped": dict(self.skipped),
            "already_stored": self.already_stored,
            "stored_events": self.stored_events,
            "stage_s": dict(self.stage_s),
            "error": self.error,
        }


ALREADY_STORED = "already in the store (resumed after the newest stored frame)"
EVENT_STORED = "event already in the store (resumed after the newest stored event)"
CLOCK_JUMP_S = 1.0  # a camera stamp this much older than the newest one read is a clock jump, not jitter

_SKIP_TEXT = {
    "no_camera_info": "no CameraInfo before the frame",
    "missing_transform": "no transform at the frame's stamp",
}


class Sink(Protocol):
    def frame(self, obs: Observation) -> None: ...
    def event(self, ev: Event) -> None: ...


class MemorySink:
    """Frames and events into an open memory, counted in ``stats``."""

    def __init__(self, memory: Any, stats: ReplayStats, on_frame: Callable[[Any], None] | None = None) -> None:
        self.memory, self.stats, self.on_frame = memory, stats, on_frame

    def frame(self, obs: Observation) -> None:
        t0 = time.perf_counter()
        result = self.memory.update(obs)
        s = self.stats
        s.stage_s["update"] += time.perf_counter() - t0
        s.frames += 1
        s.first_stamp = obs.stamp if s.first_stamp is None else s.first_stamp
        s.last_stamp = obs.stamp
        if self.on_frame is not None:
            self.on_frame(result)

    def event(self, ev: Event) -> None:
        self.memory.add_event(ev)
        self.stats.events += 1


@dataclass(frozen=True)
class DecoderEnd:
    """What the decoder knows at the end of the bag, for the "no frame entered memory" message."""

    dropped: int
    pending: tuple[int, ...]
    last_tf_error: str | None


class Decoder:
    """Bag messages -> the shared :class:`~robomem.io.assembler.ObservationAssembler` -> a sink."""

    def __init__(
        self,
        reader: BagReader,
        cfg: RosIoConfig,
        stats: ReplayStats,
        sink: Sink,
        resume_after: float | None,
        events_after: float | None,
    ) -> None:
        self.reader, self.cfg, self.stats, self.sink = reader, cfg, stats, sink
        self.resume_after = resume_after  # resuming into a store that already holds this robot's frames
        # events have their own mark: those stamped after the last frame were re-applied on every re-run
        self.events_after = resume_after if events_after is None else events_after
        self.newest_camera = -math.inf  # the newest camera stamp read, to tell a clock that jumps back
        self.log_time = 0.0  # the injected clock: log time of the newest message read
        settings = AssemblerSettings.from_io(
            cfg, tf_wait=cfg.tf_wait, max_pending=4 * cfg.queue_size, source=f"bag:{Path(stats.bag).name}"
        )
        self.streams = list(settings.streams)
        self.assembler = ObservationAssembler(settings, lambda: self.log_time)
        self.sync = self.assembler.sync
        self.role_of: dict[str, str] = {}
        for role, topic in cfg.topics.used().items():
            self.role_of.setdefault(topic, role)
        self.last_ingested: float | None = None

    def end(self) -> DecoderEnd:
        return DecoderEnd(
            int(getattr(self.sync, "dropped", 0)), tuple(self.sync.pending()), self.assembler.last_tf_error
        )

    # -- per message --------------------------------------------------------------------
    def stamp_of(self, msg: Any, bm: BagMessage) -> float:
        if self.cfg.use_header_stamps and hasattr(msg, "header"):
            s = rosmsg.stamp_to_seconds(msg.header.stamp)
            if s > 0:
                return s
        return bm.log_time_ns / 1e9

    def handle(self, bm: BagMessage) -> None:
        role = self.role_of.get(bm.topic)
        if role is None:
            return
        self.log_time = max(self.log_time, bm.log_time_ns / 1e9)
        if role in self.streams and self.cfg.max_frame_rate > 0 and self.last_ingested is not None:
            # throttled: skip camera messages well before the next frame is due, without decoding them
            due = self.last_ingested + 1.0 / self.cfg.max_frame_rate - 2 * self.cfg.slop
            if bm.log_time_ns / 1e9 < due:
                self.stats.skip("camera messages not decoded (max_frame_rate)")
                return
        resume = self.resume_after
        if role in self.streams and resume is not None and bm.log_time_ns / 1e9 < resume - CLOCK_JUMP_S:
            # logged well before the newest stored frame: its frame is stored (header stamps precede log
            # times), so a resumed replay neither decodes nor assembles it
            self.stats.skip(ALREADY_STORED)
            self.stats.already_stored += 1
            return
        t0 = time.perf_counter()
        msg = self.reader.deserialize(bm)
        t1 = time.perf_counter()
        self.stats.stage_s["deserialize"] += t1 - t0
        where = f"topic {bm.topic} ({role}), message #{bm.index} at t={bm.log_time_ns / 1e9:.3f}s"
        update_before = self.stats.stage_s["update"]
        try:
            self._handle(role, msg, bm, where)
        except (BagError, ReplayError):
            raise
        except ValueError as exc:
            raise ReplayError(f"{where}: {exc}") from exc
        finally:  # what handling took beyond the memory updates it made (an inline sink's)
            spent = time.perf_counter() - t1 - (self.stats.stage_s["update"] - update_before)
            self.stats.stage_s["assemble"] += spent

    def _handle(self, role: str, msg: Any, bm: BagMessage, where: str) -> None:
        asm = self.assembler
        if role in ("tf", "tf_static"):
            self.take(asm.add_tf(msg, static=(role == "tf_static")))
        elif role == "pose":
            parent = getattr(msg.header, "frame_id", "") or self.cfg.map_frame
            child = self.cfg.pose_child_frame or getattr(msg, "child_frame_id", "") or self.cfg.camera_frame
            self.take(asm.add_pose(msg, self.stamp_of(msg, bm), parent, child))
        elif role == "camera_info":
            self.take(asm.add_camera_info(msg))
        elif role == "events":
            stamp = bm.log_time_ns / 1e9
            resume = self.events_after
            if resume is not None and stamp <= resume:
                self.stats.skip(EVENT_STORED)
                self.stats.stored_events += 1
                return
            self.sink.event(parse_event(str(msg.data), stamp, self.cfg.robot_id))
        elif role in self.streams:
            stamp = self.stamp_of(msg, bm)
            if stamp < self.newest_camera - CLOCK_JUMP_S:
                # not a sync miss: the sensor clock went back (a reset, a merged bag); memory is built in time order
                self.stats.skip(
                    f"camera stamp went back in time (clock jump of more than {CLOCK_JUMP_S:g} s; frame dropped)"
                )
                return
            self.newest_camera = max(self.newest_camera, stamp)
            before = asm.unlabeled
            outcomes = asm.add(role, stamp, msg, where)
            if asm.unlabeled > before:
                self.stats.skip("instance ids without a label (pixels ignored)", asm.unlabeled - before)
            self.take(outcomes)

    # -- frames -> the sink ----------------------------------------------------------------------
    def resolve(self, final: bool) -> None:
        """Hand on waiting frames whose pose is known (all of them at the end of the bag)."""
        self.take(self.assembler.poll(final=final))

    def take(self, outcomes: list[Observation | Rejected]) -> None:
        for o in outcomes:
            if isinstance(o, Observation):
                self.ingest(o)
            elif o.reason in _SKIP_TEXT:
                self.stats.skip(_SKIP_TEXT[o.reason])
            else:  # bad_image, invalid_observation: the bag is damaged here
                raise ReplayError(f"{o.where}: {o.detail}")

    def ingest(self, obs: Observation) -> None:
        resume = self.resume_after
        if resume is not None and obs.stamp <= resume:
            self.stats.skip(ALREADY_STORED)
            self.stats.already_stored += 1
            return
        period = 1.0 / self.cfg.max_frame_rate if self.cfg.max_frame_rate > 0 else 0.0
        if period and self.last_ingested is not None and obs.stamp - self.last_ingested < period - 1e-6:
            self.stats.skip("throttled by max_frame_rate")
            return
        self.sink.frame(obs)
        self.last_ingested = obs.stamp


def decode_bag(reader: BagReader, dec: Decoder, on_message: Callable[[int], None] | None = None) -> DecoderEnd:
    """Every wanted message of ``reader`` through ``dec`` in log order, paced by ``cfg.rate``; at a
    damaged record the frames complete before it still go to the sink, then the BagError is raised."""
    cfg, stats = dec.cfg, dec.stats
    # pace from the first message the store does not hold yet: a resumed replay at --rate 1 used to
    # sleep through the already-stored prefix in real time
    resume = dec.resume_after if dec.resume_after is not None else -math.inf
    pace_from: tuple[int, float] | None = None  # (log time, wall time) of the first paced message
    messages = iter(reader.messages(set(dec.role_of)))
    try:
        while True:
            t_read = time.perf_counter()
            bm = next(messages, None)
            stats.stage_s["read"] += time.perf_counter() - t_read
            if bm is None:
                break
            if cfg.rate > 0 and bm.log_time_ns / 1e9 > resume:
                if pace_from is None:
                    pace_from = (bm.log_time_ns, time.perf_counter())
                ahead = (bm.log_time_ns - pace_from[0]) / 1e9 / cfg.rate - (time.perf_counter() - pace_from[1])
                if ahead > 0:
                    time.sleep(ahead)
            dec.handle(bm)
            stats.messages += 1
            if on_message is not None:
                on_message(stats.messages)
        dec.resolve(final=True)
    except BagError as exc:
        stats.error = str(exc)
        dec.resolve(final=True)  # frames complete before the damage still enter memory
        raise
    return dec.end()


# -- the decoder in its own process ---------------------------------------------------------------
# A frame's images cross in shared memory: pickled through the pipe, a 640x480 frame (depth, colour, ids:
# 3.4 MB) took 8 ms, more than decoding it.  SLOTS slots of SLOT_BYTES in one anonymous shared mapping made
# before the fork (only written pages are ever resident); a frame larger than a slot is pickled.
SLOTS = 3
SLOT_BYTES = 32 << 20  # a 1920x1080 frame's depth, colour and ids are 23 MB
_IMAGES = ("depth", "rgb", "instance_ids")


class _FrameSlots:
    """The decoder writes a frame's images into the next free slot and sends only where they are; this
    process copies them out and frees the slot, so the decoder runs at most SLOTS frames ahead."""

    def __init__(self, ctx: Any) -> None:
        self.buf = mmap.mmap(-1, SLOTS * SLOT_BYTES)
        self.free = ctx.Semaphore(SLOTS)
        self.next = 0

    def put(self, obs: Observation) -> tuple[list[tuple[str, tuple[int, ...], str, int]], dict[str, Any]] | None:
        values = observation_fields(obs)
        images = [(n, values.pop(n)) for n in _IMAGES if values[n] is not None]
        if sum(a.nbytes + 64 for _, a in images) > SLOT_BYTES:
            return None
        self.free.acquire()
        off = (self.next % SLOTS) * SLOT_BYTES
        self.next += 1
        layout = []
        for name, a in images:
            np.ndarray(a.shape, a.dtype, buffer=self.buf, offset=off)[...] = a
            layout.append((name, a.shape, a.dtype.str, off))
            off += -(-a.nbytes // 64) * 64  # the next array starts aligned
        return layout, values

    def take(self, layout: list[tuple[str, tuple[int, ...], str, int]], values: dict[str, Any]) -> Observation:
        values = dict(values, **dict.fromkeys(_IMAGES))
        for name, shape, dtype, off in layout:
            values[name] = np.ndarray(shape, np.dtype(dtype), buffer=self.buf, offset=off).copy()
        self.free.release()
        return checked_observation(values)


class _PipeSink:
    def __init__(self, conn: Any, stats: ReplayStats, slots: _FrameSlots) -> None:
        self.conn, self.stats, self.slots = conn, stats, slots

    def frame(self, obs: Observation) -> None:
        placed = self.slots.put(obs)
        if placed is None:
            self.conn.send(("frame", obs, self.stats.messages))
        else:
            self.conn.send(("slot", placed, self.stats.messages))

    def event(self, ev: Event) -> None:
        self.conn.send(("event", ev, self.stats.messages))


def _child_setup(parent: int) -> None:
    """In the forked decoder: never collect (or touch the pages of) what the parent left in memory, and
    die with the parent (Linux), so a killed ``robomem replay`` leaves no decoder behind."""
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent ends the child
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the wish was made
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _decoder_main(
    conn: Any,
    slots: _FrameSlots,
    bag: str,
    cfg: RosIoConfig,
    resume_after: float | None,
    events_after: float | None,
    parent: int,
) -> None:
    _child_setup(parent)
    stats = ReplayStats(bag)
    try:
        with BagReader(bag) as reader:
            dec = Decoder(reader, cfg, stats, _PipeSink(conn, stats, slots), resume_after, events_after)
            end = decode_bag(reader, dec)
        conn.send(("end", stats.decoder_part(), end))
    except Exception as exc:  # the parent raises it after ingesting every frame sent before it
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return  # the pipe broke: the parent stopped reading (its own error, or it died)
        try:
            conn.send(("error", stats.decoder_part(), exc))
        except OSError:
            return
        except Exception:  # an exception that does not pickle still reaches the parent, as its text
            with contextlib.suppress(OSError):
                conn.send(("error", stats.decoder_part(), ReplayError(f"replay decoder: {type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def can_decode_in_process() -> bool:
    """A decoder process needs ``fork`` (a spawned interpreter re-imports robomem: ~0.5 s per replay) and a
    second core to run on; otherwise replay decodes in this process."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) >= 2


def decode_in_process(
    bag: str | Path,
    cfg: RosIoConfig,
    resume_after: float | None,
    events_after: float | None,
    sink: Sink,
    stats: ReplayStats,
    on_message: Callable[[int], None] | None = None,
) -> DecoderEnd:
    """Decode ``bag`` in a forked child and hand its frames and events to ``sink`` here, in order."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    slots = _FrameSlots(ctx)
    child = ctx.Process(
        target=_decoder_main,
        args=(send, slots, str(bag), cfg, resume_after, events_after, os.getpid()),
        name="robomem-replay-decoder",
    )
    child.daemon = True
    child.start()
    send.close()
    stats.decoder = "process"
    try:
        while True:
            try:
                kind, payload, extra = recv.recv()
            except (EOFError, OSError):  # the child died (or was killed) before or while sending
                child.join(timeout=5)
                raise ReplayError(
                    f"the replay decoder process for {bag} ended without a result (exit code {child.exitcode})"
                ) from None
            if kind in ("frame", "slot"):
                sink.frame(slots.take(*payload) if kind == "slot" else payload)
                if on_message is not None:
                    on_message(extra)
            elif kind == "event":
                sink.event(payload)
            elif kind == "end":
                stats.add_decoder(payload)
                return extra  # type: ignore[no-any-return]
            else:  # "error": what the child raised, after every frame it sent before
                stats.add_decoder(payload)
                raise extra
    finally:
        recv.close()
        if child.is_alive():
            child.terminate()
        child.join(timeout=5)
        slots.buf.close()
