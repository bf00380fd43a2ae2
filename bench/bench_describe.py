"""Speed of pose facts: vectorised whole-track pass vs a per-frame Python loop.

    .venv/bin/python bench/bench_describe.py [--frames 18000] [--loop-frames 600]

Prints (one run, same machine): frames/s of ``track_facts`` on an N-frame track (target:
18,000 frames in < 1 s), frames/s of the per-frame loop (``pose_facts`` frame by frame,
measured on ``--loop-frames`` frames of the same track), their ratio (target >= 20x), and
the median time to describe one frame (``pose_facts`` + ``describe``; target < 5 ms) as
well as the panel's path (cached ``TrackFacts.facts_at`` + ``describe``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.describe import describe, pose_facts, track_facts  # noqa: E402
from models.describe.synth import SynthPose  # noqa: E402


def make_track(frames: int) -> np.ndarray:
    """A squatting / arm-waving person with landmark noise, turning slowly."""
    rng = np.random.default_rng(0)
    t = np.arange(frames) / 30.0
    keys = []
    for k in range(60):
        p = SynthPose().bend("left_knee", 110 + 60 * np.cos(k / 9))\
            .bend("right_knee", 115 + 55 * np.cos(k / 9))
        p.bend("left_elbow", 100 + 70 * np.sin(k / 5)).bend("right_elbow", 90 + 60 * np.cos(k / 7))
        keys.append(p.world(yaw=(k * 6) % 360 - 180))
    keys = np.stack(keys)
    w = keys[(np.arange(frames) // 5) % len(keys)].copy()
    w[..., :3] += rng.normal(0, 0.01, w[..., :3].shape)
    w[..., 3] = rng.uniform(0.3, 1.0, w[..., 3].shape)
    w[(t % 37) < 0.5] = np.nan   # some frames without a pose
    return w


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=18000)
    ap.add_argument("--loop-frames", type=int, default=600)
    a = ap.parse_args()
    w = make_track(a.frames)
    track_facts(w[:10])                                            # warm caches
    vec = timed(lambda: track_facts(w))
    sub = w[:a.loop_frames]
    loop = timed(lambda: [pose_facts(sub, i) for i in range(len(sub))], repeat=1)
    vec_fps, loop_fps = a.frames / vec, len(sub) / loop
    print(f"vectorised track_facts: {a.frames} frames in {vec:.3f} s = {vec_fps:,.0f} frames/s")
    print(f"per-frame loop (pose_facts x {len(sub)}): {loop:.3f} s = {loop_fps:,.0f} frames/s")
    print(f"ratio vectorised / loop: {vec_fps / loop_fps:.1f}x (target >= 20x)")
    from models.pose.track import PoseTrack  # noqa: PLC0415

    img = w.astype(np.float32)
    img[..., 0], img[..., 1] = 0.5 + 0.25 * w[..., 0], 0.5 + 0.33 * w[..., 1]
    pt = PoseTrack(img, w.astype(np.float32), 30.0, 1920, 1080)
    with_check = timed(lambda: track_facts(pt))
    print(f"same track as a PoseTrack (adds the world-vs-image check): {with_check:.3f} s "
          f"= {a.frames / with_check:,.0f} frames/s")
    one = []
    for i in range(200):
        t0 = time.perf_counter()
        describe(pose_facts(w, i * 7 % a.frames))
        one.append(time.perf_counter() - t0)
    tf = track_facts(w)
    panel = []
    for i in range(200):
        t0 = time.perf_counter()
        describe(tf.facts_at(i * 7 % a.frames))
        panel.append(time.perf_counter() - t0)
    print(f"describe one frame (pose_facts + describe): median {1000 * np.median(one):.2f} ms "
          "(target < 5 ms)")
    print(f"describe one frame from cached track facts: median {1000 * np.median(panel):.2f} ms")


if __name__ == "__main__":
    main()
