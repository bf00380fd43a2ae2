"""Pose extraction on Ray over 16 real clips: 2 workers vs 1.

    .venv/bin/python bench/bench_ray_poses.py [--clips 16] [--max-frames 100]

Copies of tests/data/clips (the short ones, up to --max-frames frames; each copy gets a
few trailing bytes so that its content hash differs: the engine does equal files once)
are run through the "poses" stage when it is registered (models.engine.stages), else
through ``models.pose.extract.extract_video`` wrapped in a local stage. Prints the
seconds with a 1-CPU and a 2-CPU local Ray instance (start-up excluded) and their ratio.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.engine.config import parse_config  # noqa: E402
from models.engine.run import run_dataset  # noqa: E402
from models.engine.stage import ConfigError, Stage, get_stage, register  # noqa: E402

CLIPS = Path(__file__).resolve().parent.parent / "tests" / "data" / "clips"


def _wrapped_poses(task, ctx):
    from models.pose.extract import extract_video  # noqa: PLC0415

    track = extract_video(task.item.video, None, ctx=ctx)
    return {"frames": len(track), "track_npz": track.to_npz_bytes()}


BENCH_POSES = register(Stage("bench_poses", "1", _wrapped_poses, describe="extract_video"))


def stage_name() -> str:
    try:
        import models.engine.stages  # noqa: F401,PLC0415
        get_stage("poses")
        return "poses"
    except (ImportError, ConfigError):
        return "bench_poses"


def make_clips(folder: Path, n: int, max_frames: int) -> int:
    from models.video import probe  # noqa: PLC0415

    short = [(probe(p).frame_count, p) for p in sorted(CLIPS.glob("*.mp4"))]
    short = [(f, p) for f, p in short if f <= max_frames]
    folder.mkdir(parents=True)
    frames = 0
    for i in range(n):
        f, src = short[i % len(short)]
        dst = folder / f"{i:02d}_{src.name}"
        shutil.copy(src, dst)
        with open(dst, "ab") as fh:
            fh.write(b"\0" * (i + 1))
        frames += f
    return frames


def run(tmp: Path, name: str, cpus: int) -> float:
    from models.engine.ray_runner import RayRunner  # noqa: PLC0415

    cfg = parse_config({"run": {"manifest": "clips", "output": f"out{cpus}", "retries": 0},
                        "stages": {name: {}}}, tmp)
    runner = RayRunner(num_cpus=cpus)
    try:
        t = time.perf_counter()
        status = run_dataset(cfg, runner)
        secs = time.perf_counter() - t
    finally:
        runner.close()
    st = status["stages"][-1]
    print(f"{cpus} worker(s): {secs:.1f} s, {st['done']} done, {st['failed']} failed")
    return secs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--max-frames", type=int, default=100)
    args = ap.parse_args()
    name = stage_name()
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_clips(Path(tmp) / "clips", args.clips, args.max_frames)
        print(f"stage {name}: {args.clips} clips, {frames} frames")
        one = run(Path(tmp), name, 1)
        two = run(Path(tmp), name, 2)
    print(f"2 workers / 1 worker time: {two / one:.2f} (speed-up {one / two:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
