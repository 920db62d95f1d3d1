"""Regenerate tests/data/tour.mcap (+ tour.mcap.truth.json): a 20-frame 160x120 recording.

Source: robomem.testing.synthetic.BoxScene via robomem.envs.record.synthetic_recording (exact,
deterministic, no simulator needed); `robomem record --source household` records the MuJoCo
household simulator with the same topics and types.  Run from the repository root:

    .venv/bin/python tests/data/make_fixture.py
"""

from __future__ import annotations

from pathlib import Path

from robomem.envs.record import synthetic_recording, truth_path, write_bag

HERE = Path(__file__).resolve().parent
BAG = HERE / "tour.mcap"


def main() -> None:
    for p in (BAG, truth_path(BAG)):
        p.unlink(missing_ok=True)
    rec = synthetic_recording(n_frames=20, width=160, height=120, rate_hz=10.0)
    write_bag(rec, BAG, storage="mcap")
    size = BAG.stat().st_size + truth_path(BAG).stat().st_size
    print(f"wrote {BAG} and {truth_path(BAG).name}: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
