"""Probe speed: frame times from the container's index vs decoding every frame.

    .venv/bin/python bench/bench_probe.py [--frames 1800] [--width 1280] [--src tai_chi.mp4]

Writes a longer MP4 (``--frames`` frames of a real test clip, looped and scaled to
``--width``, with OpenCV's VideoWriter), then prints, measured in this one run on the same
machine: ``probe()`` reading the times from the MP4 index, ``probe(check=True)`` decoding
every frame (what opening a clip cost before), their ratio, and whether both tables agree
within 1 ms. The decode time depends on the shared CPU; the index time hardly does.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import models.video as video  # noqa: E402
from models.container_index import read_index  # noqa: E402

CLIPS = Path(__file__).resolve().parent.parent / "tests" / "data" / "clips"


def make_clip(src: Path, dst: Path, frames: int, width: int) -> tuple[int, int]:
    import cv2  # noqa: PLC0415

    cap = cv2.VideoCapture(str(src), cv2.CAP_FFMPEG)
    source = []
    while (got := cap.read())[0]:
        source.append(got[1])
    cap.release()
    h, w = source[0].shape[:2]
    size = (width, int(round(h * width / w / 2)) * 2)
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
    for k in range(frames):   # forwards then backwards, so the motion stays smooth
        period = 2 * len(source) - 2
        i = k % period
        frame = source[i if i < len(source) else period - i]
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR))
    writer.release()
    return size


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1800)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--src", default="tai_chi.mp4")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.mp4"
        size, made = timed(make_clip, CLIPS / args.src, path, args.frames, args.width)
        print(f"clip: {args.frames} frames {size[0]}x{size[1]} mp4v, "
              f"{path.stat().st_size / 1e6:.1f} MB (written in {made:.1f} s)")
        runs = []
        for _ in range(5):
            video._SCANS.clear()
            fast, t = timed(video.probe, path)
            runs.append(t)
        t_index = float(np.median(runs))
        _, t_parse = timed(read_index, path)
        video._SCANS.clear()
        full, t_scan = timed(video.probe, path, check=True)
        assert not fast.times.checked and full.times.checked
        same = (fast.times.listed == full.times.decoded
                and float(np.abs(fast.times.pts - full.times.pts).max()) < 1e-3)
        print(f"probe, index   : {t_index * 1000:8.1f} ms  (median of 5; the index parse alone "
              f"{t_parse * 1000:.1f} ms, the rest is opening the file and its first frame)")
        print(f"probe, decode  : {t_scan * 1000:8.1f} ms  ({args.frames / t_scan:.0f} frames/s)")
        print(f"ratio          : {t_scan / t_index:8.1f}x faster")
        print(f"same times     : {same} ({fast.times.listed} frames, within 1 ms)")


if __name__ == "__main__":
    main()
