"""Peers benchmark: the same detections fed to robomem and to eMEM (PyPI ``emem``), side by side.

eMEM (Automatika Robotics; SQLite + hnswlib + Rtree) is a published spatio-temporal memory for
embodied agents.  It is a benchmark-only dependency (extra ``peers`` in pyproject), installed in a
*separate* virtual environment because it pulls its own numpy/scipy/scikit-learn; this script runs
its eMEM side there as a subprocess (``--emem-python``, default ``/tmp/peersvenv/bin/python``):

    python3 -m venv /tmp/peersvenv && /tmp/peersvenv/bin/pip install emem
    .venv/bin/python benchmarks/peers.py --sizes 10000 100000 --json-out benchmarks/results/peers.json

Same inputs to both, per size N (10^4, 10^5 entries):

* **Older memory:** ``retrieve.populate`` writes N objects (household labels, random places in a
  60 m x 60 m map, one sighting each) into a robomem store (SQL, in one transaction: robomem's
  documented bulk-load path).  The same N rows (label, centroid, time), read back from that store,
  are loaded into eMEM through its own store API (``MemoryStore.add_observations_batch`` in
  batches of 1000, with the labels' MiniLM embeddings precomputed).  Both stores are closed and
  reopened (timed: *open*).
* **Live robot:** ``--frames`` synthetic 320x240 RGB-D frames with instance masks (the scene of
  ``benchmarks/scale.py``), 10 Hz sensor time.  robomem gets each frame (``Memory.update``: its
  own perception, association, four submodules, one transaction).  eMEM gets each frame's
  *detections*: for every instance robomem's perception accepts (``segments_from_observation``,
  computed before timing), one ``SpatioTemporalMemory.add(label, x, y, z, stamp, embedding)``
  at the instance's 3D centroid.  eMEM therefore gets the 3D points for free; robomem's
  perception stage is reported on its own so the ratio can be read without it.
* **Queries,** once a second (every 10 frames), first after an update, then the same again
  (*repeat*): a goal text (robomem ``retrieve(Query(text, k=10))`` vs eMEM ``semantic_search(text,
  n_results=10)``) and a target name (robomem ``QuestionEngine.locate`` vs eMEM ``locate``).
  Text embeddings are MiniLM (``all-MiniLM-L6-v2``) for both, computed once by robomem's embedder
  and handed to eMEM as a lookup, so neither side pays a model call in a query.

The two sides do not answer the same question, and the table says so: eMEM ``semantic_search``
returns the k nearest observation rows by embedding (approximate, HNSW ef=50); robomem
``retrieve`` returns objects fused from its spatial/temporal/episodic/semantic submodules.  eMEM
``locate`` returns *one* point, the centroid of the k best-matching observations (with 10^5
scattered entries of 400 labels that centroid is the middle of the map); robomem ``locate``
returns every object the name means, present ones first, each with its place and evidence.

Reported per size and side: bulk load per entry, open, ingest per frame and per detection
(median/p99), query first-after-update and repeat (median/p99), disk bytes, and the ratios
robomem / eMEM.  Prints a table; ``--json-out`` writes JSON.  It measures, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, summary_ms, write_json  # noqa: E402

TARGETS = [  # one per retrieve.GOALS entry, the thing the goal names
    "red mug",
    "blue bottle",
    "book",
    "green apple",
    "black phone",
    "white towel",
    "yellow ball",
    "laptop",
    "grey kettle",
    "brown backpack",
    "keys",
    "pink cup",
]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------------------------
# eMEM side (runs under the eMEM venv: no robomem import here)
# ----------------------------------------------------------------------------------------------
class _Lookup:
    """eMEM EmbeddingProvider over precomputed MiniLM vectors; an unknown text is an error."""

    def __init__(self, texts: list[str], vecs: np.ndarray) -> None:
        self._v = {t: vecs[i] for i, t in enumerate(texts)}
        self._dim = int(vecs.shape[1])

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._v]
        if missing:
            raise KeyError(f"peers: no precomputed embedding for {missing[:3]}")
        return np.stack([self._v[t] for t in texts]).astype(np.float32)


def emem_child(spec_dir: Path) -> dict[str, Any]:
    from emem import SpatioTemporalMemory, SpatioTemporalMemoryConfig
    from emem.types import ObservationNode

    spec = json.loads((spec_dir / "spec.json").read_text())
    z = np.load(spec_dir / "embeddings.npz")
    texts = [str(t) for t in z["texts"]]
    provider = _Lookup(texts, z["vecs"])
    ent = np.load(spec_dir / "entries.npz")
    labels = [str(t) for t in ent["labels"]]
    xyz, ts = ent["xyz"], ent["t"]
    n = len(labels)
    store_dir = spec_dir / "emem"
    store_dir.mkdir()
    clock = [float(ts.max()) if n else 0.0]
    cfg = SpatioTemporalMemoryConfig(
        db_path=str(store_dir / "emem.db"),
        hnsw_path=str(store_dir / "emem.hnsw.bin"),
        hnsw_max_elements=n + 20 * len(spec["frames"]) + 1000,
    )

    def make() -> Any:
        return SpatioTemporalMemory(
            db_path=cfg.db_path, config=cfg, embedding_provider=provider, get_current_time=lambda: clock[0]
        )

    mem = make()
    t0 = time.perf_counter()
    batch = 1000
    for s in range(0, n, batch):
        obs = [
            ObservationNode(
                text=labels[i],
                coordinates=np.asarray(xyz[i], dtype=np.float64),
                timestamp=float(ts[i]),
                layer_name="detections",
                source_type="bench",
                embedding=provider.embed([labels[i]])[0],
            )
            for i in range(s, min(n, s + batch))
        ]
        mem.store.add_observations_batch(obs)
    mem.save()
    t_load = time.perf_counter() - t0
    mem.close()
    t0 = time.perf_counter()
    mem = make()
    t_open = time.perf_counter() - t0
    try:
        for g in spec["goals"]:  # warm, as robomem's side is warmed
            mem.semantic_search(g, n_results=10)
        ingest_frame: list[float] = []
        ingest_det: list[float] = []
        first: list[float] = []
        repeat: list[float] = []
        loc_first: list[float] = []
        loc_repeat: list[float] = []
        answers: list[str] = []
        for i, fr in enumerate(spec["frames"]):
            clock[0] = fr["stamp"]
            t0 = time.perf_counter()
            for d in fr["detections"]:
                td = time.perf_counter()
                x, y, zz = d["xyz"]
                mem.add(
                    d["label"],
                    x=x,
                    y=y,
                    z=zz,
                    timestamp=fr["stamp"],
                    layer_name="detections",
                    source_type="detector",
                    confidence=d["score"],
                    embedding=provider.embed([d["label"]])[0],
                )
                ingest_det.append(time.perf_counter() - td)
            ingest_frame.append(time.perf_counter() - t0)
            if i % 10 == 9:
                g = spec["goals"][(i // 10) % len(spec["goals"])]
                tg = spec["targets"][(i // 10) % len(spec["targets"])]
                t0 = time.perf_counter()
                mem.semantic_search(g, n_results=10)
                first.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                mem.semantic_search(g, n_results=10)
                repeat.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                a = mem.locate(tg, n_results=10)
                loc_first.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                mem.locate(tg, n_results=10)
                loc_repeat.append(time.perf_counter() - t0)
                if len(answers) < 2:
                    answers.append(f"{tg}: {a.splitlines()[0]}")
        n_obs = mem.store.count_observations()
        mem.save()
    finally:
        mem.close()
    return {
        "side": "emem",
        "entries": n,
        "entries_at_end": n_obs,
        "bulk_load_s": t_load,
        "bulk_load_ms_per_entry": t_load * 1e3 / max(n, 1),
        "open_s": t_open,
        "ingest_frame": summary_ms(ingest_frame),
        "ingest_detection": summary_ms(ingest_det),
        "text_query_first": summary_ms(first),
        "text_query_repeat": summary_ms(repeat),
        "locate_first": summary_ms(loc_first),
        "locate_repeat": summary_ms(loc_repeat),
        "example_answers": answers,
        "disk_bytes": dir_bytes(store_dir),
    }


# ----------------------------------------------------------------------------------------------
# robomem side and the driver (robomem's venv)
# ----------------------------------------------------------------------------------------------
def run_size(n: int, args: argparse.Namespace, embedder: Any) -> dict[str, Any]:
    from retrieve import GOALS, populate
    from scale import live_scene

    from robomem import Memory, Query
    from robomem.config import SpatialConfig
    from robomem.ingest.perception import segments_from_observation
    from robomem.qa.engine import QuestionEngine
    from robomem.testing.synthetic import look_at

    with tempfile.TemporaryDirectory(dir=args.tmp) as d:
        root = Path(d)
        path = root / "robomem"
        t0 = time.perf_counter()
        populate(path, n, 1, embedder)
        t_load = time.perf_counter() - t0
        conn = sqlite3.connect(path / "memory.db")
        try:
            rows = conn.execute("SELECT label, cx, cy, cz, last_seen FROM objects ORDER BY id").fetchall()
            newest = conn.execute("SELECT MAX(stamp) FROM frames").fetchone()[0]
        finally:
            conn.close()
        labels = [r[0] for r in rows]
        xyz = np.asarray([r[1:4] for r in rows], dtype=np.float64).reshape(-1, 3)
        ts = np.asarray([r[4] for r in rows], dtype=np.float64)
        np.savez(root / "entries.npz", labels=np.asarray(labels), xyz=xyz, t=ts)

        scene = live_scene()
        n_views = 40
        poses = []
        for j in range(n_views):  # scale.py's arc around the table
            a = -math.pi / 2 + 0.6 * math.sin(2 * math.pi * j / n_views)
            poses.append(look_at((2.4 * math.cos(a), 2.4 * math.sin(a), 1.4), (0.0, 0.0, 0.8)))
        t_start = max(float(ts.max()) if n else 0.0, float(newest or 0.0)) + 1.0
        observations = [scene.observe(poses[i % n_views], t_start + 0.1 * i) for i in range(args.frames)]
        cfg = SpatialConfig()
        frames = []
        for ob in observations:
            segs = segments_from_observation(ob, cfg)
            frames.append(
                {
                    "stamp": ob.stamp,
                    "detections": [
                        {"label": s.label, "score": float(s.score), "xyz": [float(v) for v in s.centroid]} for s in segs
                    ],
                }
            )
        goals = list(GOALS)
        targets = TARGETS[: len(goals)]
        texts = sorted(set(labels) | {d["label"] for f in frames for d in f["detections"]} | set(goals) | set(targets))
        vecs = np.asarray(embedder.embed(texts), dtype=np.float32)
        np.savez(root / "embeddings.npz", texts=np.asarray(texts), vecs=vecs)
        (root / "spec.json").write_text(json.dumps({"frames": frames, "goals": goals, "targets": targets}))

        # eMEM in its own venv, first (so robomem's RSS does not sit beside it)
        out = subprocess.run(
            [args.emem_python, __file__, "--emem-child", str(root)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        if out.returncode != 0:
            tail = out.stderr.strip().splitlines()
            emem = {"side": "emem", "entries": n, "error": tail[-1] if tail else "failed"}
            print(out.stderr[-3000:], file=sys.stderr)
        else:
            emem = json.loads(out.stdout.strip().splitlines()[-1])

        t0 = time.perf_counter()
        mem = Memory.open(path, embedder=embedder)
        t_open = time.perf_counter() - t0
        try:
            qe = QuestionEngine(mem)
            for g in goals:  # a running robot repeats its goals: their embeddings are cached
                mem.retrieve(Query(text=g, k=10))
            upd: list[float] = []
            perc: list[float] = []
            per_det: list[float] = []
            first: list[float] = []
            repeat: list[float] = []
            loc_first: list[float] = []
            loc_repeat: list[float] = []
            answers: list[str] = []
            for i, ob in enumerate(observations):
                t0 = time.perf_counter()
                r = mem.update(ob)
                dt = time.perf_counter() - t0
                upd.append(dt)
                perc.append(r.timings_ms.get("perception", float("nan")) / 1e3)
                k = len(frames[i]["detections"])
                if k:
                    per_det.append(dt / k)
                if i % 10 == 9:
                    g = goals[(i // 10) % len(goals)]
                    tg = targets[(i // 10) % len(targets)]
                    q = Query(text=g, k=10)
                    t0 = time.perf_counter()
                    mem.retrieve(q)
                    first.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    mem.retrieve(q)
                    repeat.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    a = qe.locate(tg, k=10)
                    loc_first.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    qe.locate(tg, k=10)
                    loc_repeat.append(time.perf_counter() - t0)
                    if len(answers) < 2:
                        answers.append(f"{tg}: {a.status}, {len(a.items)} objects; {a.text[0] if a.text else ''}")
            n_end = len(mem.spatial.label_index().ids)
        finally:
            mem.close()
        robo = {
            "side": "robomem",
            "entries": n,
            "entries_at_end": n_end,
            "bulk_load_s": t_load,
            "bulk_load_ms_per_entry": t_load * 1e3 / max(n, 1),
            "open_s": t_open,
            "ingest_frame": summary_ms(upd),
            "ingest_frame_perception": summary_ms(perc),
            "ingest_detection": summary_ms(per_det),
            "text_query_first": summary_ms(first),
            "text_query_repeat": summary_ms(repeat),
            "locate_first": summary_ms(loc_first),
            "locate_repeat": summary_ms(loc_repeat),
            "example_answers": answers,
            "disk_bytes": dir_bytes(path),
        }
    n_det = [len(f["detections"]) for f in frames]
    return {
        "entries": n,
        "frames": len(frames),
        "detections_per_frame": float(np.mean(n_det)),
        "robomem": robo,
        "emem": emem,
    }


ROWS = [  # (row name, key, stat)
    ("bulk load ms/entry", "bulk_load_ms_per_entry", None),
    ("open s", "open_s", None),
    ("ingest ms/frame med", "ingest_frame", "median_ms"),
    ("ingest ms/frame p99", "ingest_frame", "p99_ms"),
    ("ingest ms/detection mean", "ingest_detection", "mean_ms"),
    ("text query 1st med", "text_query_first", "median_ms"),
    ("text query 1st p99", "text_query_first", "p99_ms"),
    ("text query repeat med", "text_query_repeat", "median_ms"),
    ("locate 1st med", "locate_first", "median_ms"),
    ("locate 1st p99", "locate_first", "p99_ms"),
    ("locate repeat med", "locate_repeat", "median_ms"),
    ("disk MB", "disk_bytes", None),
]
NOTES = [
    "bulk load: robomem = direct SQL rows (its documented bulk-load path, no index build); eMEM = its store API"
    " (SQLite + HNSW insert + R-tree insert per entry)",
    "ingest: robomem gets the RGB-D frame + masks (perception, association, 4 submodules, 1 transaction);"
    " eMEM gets text + 3D centroid per detection (robomem's perception output), buffered, flushed every 5",
    "text query: different questions. eMEM semantic_search = k nearest observation rows by embedding (HNSW);"
    " robomem retrieve = objects fused over spatial/temporal/episodic/semantic",
    "locate: different questions. eMEM locate = one centroid of the top-10 matching rows; robomem locate ="
    " every object the name means, present first, with place and evidence",
]


def value(side: dict[str, Any], key: str, stat: str | None) -> float:
    if "error" in side:
        return float("nan")
    v = side[key] if stat is None else side[key][stat]
    return float(v) / 1e6 if key == "disk_bytes" else float(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--frames", type=int, default=100, help="live frames per size (10 Hz sensor time)")
    ap.add_argument("--emem-python", default="/tmp/peersvenv/bin/python", help="python of the venv with emem")
    ap.add_argument("--embedder", default="auto", choices=["auto", "minilm", "hash"])
    ap.add_argument("--tmp", default=None, help="folder for the temporary stores")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--emem-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.emem_child is not None:  # child: the eMEM side, its JSON on the last stdout line
        print(json.dumps(emem_child(Path(args.emem_child))))
        return 0
    if not Path(args.emem_python).exists():
        print(f"peers: --emem-python {args.emem_python} does not exist (see the module docstring)", file=sys.stderr)
        return 2
    from robomem.retrieval.embedding import make_embedder

    embedder = make_embedder(args.embedder)
    emem_version = subprocess.run(
        [args.emem_python, "-c", "import importlib.metadata as m; print(m.version('emem'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    results = []
    for n in args.sizes:
        load = os.getloadavg()[0]
        r = run_size(n, args, embedder)
        r["load_average"] = [load, os.getloadavg()[0]]
        results.append(r)
    header = ["measure"]
    for r in results:
        header += [f"robomem@{r['entries']}", f"eMEM@{r['entries']}", "ratio r/e"]
    rows = []
    for name, key, stat in ROWS:
        row: list[Any] = [name]
        for r in results:
            a, b = value(r["robomem"], key, stat), value(r["emem"], key, stat)
            row += [a, b, a / b if b > 0 else float("nan")]
        rows.append(row)
    perc: list[Any] = ["  of it robomem perception"]
    for r in results:
        p = r["robomem"]["ingest_frame_perception"]["median_ms"]
        perc += [p, "", ""]
    rows.insert(3, perc)
    print_table(
        f"peers: robomem vs eMEM {emem_version} ({args.frames} frames at 10 Hz, queries once a second; ms unless noted)",
        header,
        rows,
    )
    for note in NOTES:
        print("  * " + note)
    write_json(
        {"benchmark": "peers", "emem_version": emem_version, "frames": args.frames, "notes": NOTES, "sizes": results},
        args.json_out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
