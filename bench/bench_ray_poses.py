"""Pose extraction on Ray over 16 real clips: 2 workers vs 1.

    .venv/bin/python bench/bench_ray_poses.py [--clips 16] [--frames 120]

The clips: the first ``--frames`` frames of the real small-picture test clips (tai chi,
arm wrestling, weightlifting, basketball gym; re-encoded, each copy distinct so the engine
does not treat two as one), cycled to ``--clips``. Each configuration first runs the
``probe`` stage (not timed), then the ``poses`` stage alone is timed on a local Ray
instance with 1 CPU and with 2 CPUs, the process pinned to as many cores (one pose worker
alone uses more than one core when it can: the graph's own threads and the decode thread;
``--no-pin`` measures that way too) (Ray start-up excluded, worker start-up and the pose
model's start included, as a run pays them). Prints both and their ratio (target: 2 workers
at least 1.8x the throughput of 1, on an otherwise idle 2-core machine: each worker runs one
pose graph, about one core).
"""
from __future__ import annotations

import argparse
import os
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


SOURCES = ("tai_chi.mp4", "arm_wrestling.mp4", "weightlifting_clean_and_jerk.mp4",
           "basketball_gym.mp4")


def make_clips(folder: Path, n: int, frames: int) -> int:
    sys.path.insert(0, str(CLIPS.parents[2]))
    from tests.media_tools import encode_cfr  # noqa: PLC0415

    folder.mkdir(parents=True)
    cut = {}
    for name in SOURCES:
        cut[name] = folder.parent / f"cut_{name}"
        encode_cfr(CLIPS / name, cut[name], frames)
    for i in range(n):
        src = cut[SOURCES[i % len(SOURCES)]]
        dst = folder / f"{i:02d}_{src.name}"
        shutil.copy(src, dst)
        with open(dst, "ab") as fh:
            fh.write(b"\0" * (i + 1))
    return n * frames


def run(tmp: Path, name: str, cpus: int, pin: bool = True) -> float:
    from models.engine.ray_runner import RayRunner  # noqa: PLC0415

    def cfg(stages: dict):
        return parse_config({"run": {"manifest": "clips", "output": f"out{cpus}", "retries": 0},
                             "runner": {"workers": cpus}, "stages": stages}, tmp)

    allowed = os.sched_getaffinity(0)
    if pin:     # N workers get N cores: Ray and its workers inherit the driver's affinity
        os.sched_setaffinity(0, set(sorted(allowed)[:cpus]))
    runner = RayRunner(num_cpus=cpus)
    try:
        if name == "poses":
            run_dataset(cfg({"probe": {}}), runner)           # not timed
        t = time.perf_counter()
        status = run_dataset(cfg({name: {}}), runner, force=True)   # probe results kept
        secs = time.perf_counter() - t
    finally:
        runner.close()
        os.sched_setaffinity(0, allowed)
    st = status["stages"][-1]
    print(f"{cpus} worker(s): {st['name']} {secs:.1f} s, {st['done']} done, {st['failed']} failed")
    return secs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--no-pin", action="store_true",
                    help="let both runs use every core (one pose worker alone already uses more "
                         "than one: the graph's own threads and the decode thread)")
    args = ap.parse_args()
    name = stage_name()
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_clips(Path(tmp) / "clips", args.clips, args.frames)
        print(f"stage {name}: {args.clips} clips, {frames} frames")
        one = run(Path(tmp), name, 1, not args.no_pin)
        two = run(Path(tmp), name, 2, not args.no_pin)
    print(f"throughput 2 workers / 1 worker: {one / two:.2f} (target >= 1.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
