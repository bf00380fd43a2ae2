"""Pose extraction speed on the real clips; prints ratios measured in this one run.

(a) pipeline fps (decode thread + pose + checkpoints into a fresh SQLite project, i.e. the
    whole ``extract_video`` call) / bare ``mediapipe Pose.process`` fps on the same frames
    decoded beforehand (graph construction excluded from the bare figure). Target >= 0.90.
(b) batch: clips/s over the clips folder with every core (this process + worker
    processes) / with one worker (inline). Target >= 1.7 on 2 cores. Measured on the real
    folder (4 clips, worker start-up weighs heavily) and on the folder replicated
    ``--replicate`` times (copies made distinct by an appended MP4 'free' box, so their
    content hashes differ and each copy really is extracted).

    .venv/bin/python bench/bench_pose.py [CLIPS_DIR] [--skip-pipeline] [--skip-batch] [--replicate N]
                                [--rounds R]

Batch figures are the best of R (default 2) runs per configuration, 1-worker and N-worker
runs interleaved, because other processes on this shared machine only ever slow a run.
"""
from __future__ import annotations

import os
import resource
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.engine.desktop import extract_many  # noqa: E402
from models.engine.workers import usable_cores  # noqa: E402
from models.pose.extract import extract_video  # noqa: E402
from models.store import Repository  # noqa: E402
from models.video import VideoReader, list_videos  # noqa: E402

DEFAULT_CLIPS = REPO / "tests" / "data" / "clips"


def bare_fps(path) -> tuple[int, float]:
    """Frames and seconds of bare Pose.process over pre-decoded frames."""
    import mediapipe as mp  # noqa: PLC0415

    with VideoReader(path) as reader:
        frames = [f for _, f in reader.frames()]
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        t0 = time.perf_counter()
        for f in frames:
            pose.process(f)
        return len(frames), time.perf_counter() - t0


def pipeline_fps(path, folder: str) -> tuple[int, float]:
    repo = Repository(os.path.join(folder, f"{Path(path).stem}.aastudio"))
    try:
        t0 = time.perf_counter()
        track = extract_video(path, repo)
        return len(track), time.perf_counter() - t0
    finally:
        repo.close()


def bench_pipeline(clips: list[Path]) -> None:
    print("(a) pipeline (decode+pose+store) vs bare Pose.process on pre-decoded frames")
    bare_fps(clips[0])  # warm-up: library load, first graph
    tot = {"bare_n": 0, "bare_s": 0.0, "pipe_n": 0, "pipe_s": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        for clip in clips:
            bn, bs = bare_fps(clip)
            pn, ps = pipeline_fps(clip, folder)
            tot["bare_n"] += bn
            tot["bare_s"] += bs
            tot["pipe_n"] += pn
            tot["pipe_s"] += ps
            print(f"  {clip.name:<24} {pn:4d} frames  bare {bn / bs:6.1f} fps  "
                  f"pipeline {pn / ps:6.1f} fps  ratio {(pn / ps) / (bn / bs):.3f}")
    bare = tot["bare_n"] / tot["bare_s"]
    pipe = tot["pipe_n"] / tot["pipe_s"]
    print(f"  overall: bare {bare:.1f} fps, pipeline {pipe:.1f} fps, "
          f"ratio {pipe / bare:.3f} (target >= 0.90)")


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def batch_rate(clips: list[Path], workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = extract_many(clips, os.path.join(folder, "batch.aastudio"), workers=workers,
                              open_repo=Repository)
        dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    bad = [r for r in result if r[1] != "extracted"]
    assert not bad, bad
    print(f"    {workers} worker(s): {dt:.1f} s wall, {cpu:.1f} s CPU "
          f"({cpu / dt:.2f} cores busy on average)")
    return len(clips) / dt


def replicate(clips: list[Path], times: int, folder: str) -> list[Path]:
    """``times`` byte-distinct copies of every clip (an MP4 'free' box appended)."""
    out = []
    for k in range(times):
        for clip in clips:
            target = Path(folder) / f"{clip.stem}_{k}{clip.suffix}"
            shutil.copyfile(clip, target)
            payload = f"actionart bench copy {k}".encode()
            with open(target, "ab") as fh:
                fh.write(struct.pack(">I", 8 + len(payload)) + b"free" + payload)
            out.append(target)
    return out


def bench_batch(clips: list[Path], times: int, rounds: int = 2) -> None:
    cores = usable_cores()
    with tempfile.TemporaryDirectory() as folder:
        for label, batch in (("real folder", clips),
                             (f"folder x{times}", replicate(clips, times, folder))):
            if label != "real folder" and times <= 1:
                continue
            print(f"(b) batch extraction, {label}: {len(batch)} clips, "
                  f"{cores} workers vs 1 worker, best of {rounds} interleaved runs each")
            one = many = 0.0
            for _ in range(rounds):  # interleaved: a load change on this shared machine
                one = max(one, batch_rate(batch, 1))  # hits both configurations alike
                many = max(many, batch_rate(batch, cores))
            print(f"  1 worker {one:.3f} clips/s, {cores} workers {many:.3f} clips/s, "
                  f"ratio {many / one:.2f} (target >= 1.7); load %.2f" % os.getloadavg()[0])


def main(argv: list[str]) -> int:
    print("load average before: %.2f %.2f %.2f (other processes skew every timing)"
          % os.getloadavg())
    times = int(argv[argv.index("--replicate") + 1]) if "--replicate" in argv else 4
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 2
    rest = [a for i, a in enumerate(argv) if not a.startswith("--")
            and (i == 0 or argv[i - 1] not in ("--replicate", "--rounds"))]
    clips = list_videos(Path(rest[0]) if rest else DEFAULT_CLIPS)
    if "--skip-pipeline" not in argv:
        bench_pipeline(clips)
    if "--skip-batch" not in argv:
        bench_batch(clips, times, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
