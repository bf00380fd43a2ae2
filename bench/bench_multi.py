"""Cost of every person: multi-person extraction vs single-person, and the tracker alone.

On ``tests/data/clips/two_people_room.mp4`` (1920x1080, 72 frames, two people) the frames are
decoded once into memory, then, in alternating rounds within this one run:

* single person: the default backend's ``process`` on every frame (a fresh estimator per
  round, timestamps of the clip);
* every person: ``mediapipe-multi``'s ``process_all`` on every frame (``--num-poses``).

It prints frames/s of each (best round) and the ratio multi ÷ single, then the tracker's
cost per frame (``models.pose.tracking.track`` + assembling ``People`` over the multi-person
detections, best of ``--track-rounds``) in milliseconds. Numbers are printed, not asserted.

    .venv/bin/python bench/bench_multi.py [--clip PATH] [--rounds 2] [--num-poses 4]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.pose.registry import DEFAULT_BACKEND, get  # noqa: E402
from models.pose.tracking import track, track_people  # noqa: E402
from models.video import VideoReader  # noqa: E402

CLIP = REPO / "tests" / "data" / "clips" / "two_people_room.mp4"


def decode(path: Path, limit):
    with VideoReader(path) as reader:
        info = reader.info
        frames = [rgb for _, rgb in reader.frames(0, limit)]
    return info, frames


def single(frames, fps: float) -> float:
    spec = get(DEFAULT_BACKEND)
    est = spec.create(spec.settings())
    try:
        t0 = time.perf_counter()
        for i, rgb in enumerate(frames):
            est.process(rgb, int(i * 1000 / fps))
        return time.perf_counter() - t0
    finally:
        est.close()


def multi(frames, num_poses: int) -> tuple[float, list]:
    est = get("mediapipe-multi").create({"num_poses": num_poses})
    try:
        t0 = time.perf_counter()
        dets = [est.process_all(rgb) for rgb in frames]
        return time.perf_counter() - t0, dets
    finally:
        est.close()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--frames", type=int, default=None, help="first N frames only")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--track-rounds", type=int, default=5)
    ap.add_argument("--num-poses", type=int, default=4)
    args = ap.parse_args(argv)
    info, frames = decode(args.clip, args.frames)
    n = len(frames)
    print(f"{args.clip.name}: {n} frames {info.width}x{info.height} decoded in memory; "
          f"{args.rounds} alternating rounds")
    t_single, t_multi, dets = [], [], []
    for r in range(args.rounds):
        t_single.append(single(frames, info.fps))
        dt, dets = multi(frames, args.num_poses)
        t_multi.append(dt)
        print(f"  round {r + 1}: single {n / t_single[-1]:.2f} frames/s, "
              f"multi {n / t_multi[-1]:.2f} frames/s")
    fps_single, fps_multi = n / min(t_single), n / min(t_multi)
    counts = [len(d) for d in dets]
    print(f"single person ({DEFAULT_BACKEND}): {fps_single:.2f} frames/s")
    print(f"every person (mediapipe-multi, num_poses {args.num_poses}): {fps_multi:.2f} "
          f"frames/s; detections per frame min {min(counts)} / max {max(counts)}")
    print(f"ratio multi / single: {fps_multi / fps_single:.3f}")
    best_track = best_people = float("inf")
    for _ in range(args.track_rounds):
        t0 = time.perf_counter()
        ids = track(dets, info.width, info.height)
        t1 = time.perf_counter()
        people = track_people(dets, info.fps, info.width, info.height)
        t2 = time.perf_counter()
        best_track, best_people = min(best_track, t1 - t0), min(best_people, t2 - t1)
    kept = len({int(i) for row in ids for i in row if i >= 0})
    print(f"tracking: {1000 * best_track / n:.3f} ms/frame (track), "
          f"{1000 * best_people / n:.3f} ms/frame (track + People); {kept} tracks, "
          f"{len(people.persons())} people; share of a multi-person frame "
          f"{best_track / min(t_multi):.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
