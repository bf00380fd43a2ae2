"""Every person in a clip, on real pictures: the multi-person estimator plus the tracker.

0. Accuracy against the real ground truth (``models.pose.accuracy``): ``process_all`` on
   the whole picture of every labelled PoseTrack18 frame and every COCO photo
   (``tests/data/keypoints/coco``); PCK@0.2 PER JOINT over all annotated people with a
   labelled joint (a joint is correct within 0.2 x max(box width, box height) of the
   annotation; a person not found counts all their joints wrong), how many annotated
   people were found (``tracking.match_to_truth`` within ``--gate``), and PCK over the
   found people only.
1. Each labelled PoseTrack18 frame (``tests/data/keypoints/posetrack18``): ``process_all``
   of the mediapipe-multi backend on the whole picture; an annotated person counts as
   found when a detection lies within the normalised keypoint distance ``--gate`` of it
   (``models.pose.tracking.match_to_truth``).
2. The same pictures seen through a panning camera: a window of 80 % of the picture slides
   across it over ``--pan`` frames; every crop goes through ``process_all``, the detections
   through the tracker, and the annotated people (moved with the window) are matched to
   the tracks on every frame to count CLEAR-MOT identity switches. (The PoseTrack18 files
   here label one frame per video, and the one clip is unlabelled: the pan is the only
   sequence with per-frame truth.)
3. The unlabelled PoseTrack18 clip (``videos/``) and any ``--clip``: people tracked over
   every frame (counts of tracks and how long each is seen; no ground truth, so no
   switches).

Numbers are printed, not asserted.

    .venv/bin/python bench/bench_people.py [--pan 20] [--gate 0.5] [--num-poses 20]
        [--clip tests/data/clips/two_people_room.mp4 ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.pose.accuracy import Identity, score_images  # noqa: E402
from models.pose.coco import load_coco, load_posetrack18  # noqa: E402
from models.pose.registry import get  # noqa: E402
from models.pose.tracking import match_to_truth, pose_distance, track, track_people  # noqa: E402
from models.video import VideoReader  # noqa: E402

ROOT = REPO / "tests" / "data" / "keypoints" / "posetrack18"
ANNOTATIONS = ROOT / "annotations" / "test_posetrack18_val.json"
CLIP = ROOT / "videos" / "000001_mpiinew_test" / "000001_mpiinew_test.mp4"
COCO_JSON = REPO / "tests" / "data" / "keypoints" / "coco" / "test_coco.json"


def read_rgb(path) -> np.ndarray:
    import cv2  # noqa: PLC0415

    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def labelled_frames():
    """[(image path, width, height, [(track id, (33, 4) normalised pose)])]."""
    raw = json.loads(ANNOTATIONS.read_text())
    track_of = {a["id"]: a["track_id"] for a in raw["annotations"]}
    # PoseTrack's file names are relative to the dataset folder, not to the JSON file
    return [(ROOT / im.file_name, im.width, im.height,
             [(track_of[p.id], p.image_pose(im.width, im.height)) for p in im.persons])
            for im in load_coco(ANNOTATIONS).images]


def to_window(pose: np.ndarray, box, width: int, height: int) -> np.ndarray:
    """A full-picture normalised pose in the normalised coordinates of crop ``box``;
    joints outside the crop become NaN (not annotated there)."""
    x0, y0, x1, y1 = box
    out = pose.copy()
    out[:, 0] = (pose[:, 0] * width - x0) / (x1 - x0)
    out[:, 1] = (pose[:, 1] * height - y0) / (y1 - y0)
    outside = (out[:, 0] < 0) | (out[:, 0] > 1) | (out[:, 1] < 0) | (out[:, 1] > 1)
    out[outside] = np.nan
    return out


def accuracy(est, gate: float) -> None:
    print(f"0. accuracy against the annotations, process_all on whole pictures (gate {gate}):")
    posetrack = [f.image for v in load_posetrack18(ANNOTATIONS) for f in v.frames]
    for name, images in (("PoseTrack18 labelled frames", posetrack),
                         ("COCO photos", load_coco(COCO_JSON).images)):
        t0 = time.perf_counter()
        tally = score_images(est.process_all, images, gate=gate)
        print(f"   {name} ({len(images)} pictures, {time.perf_counter() - t0:.1f} s): ", end="")
        print("\n   ".join(tally.lines()))


def still_pictures(est, frames, gate: float) -> None:
    print(f"1. labelled frames, process_all on the whole picture (gate {gate}):")
    found = total = 0
    for path, w, h, persons in frames:
        t0 = time.perf_counter()
        dets = est.process_all(read_rgb(path))
        dt = time.perf_counter() - t0
        truth = [p for _, p in persons]
        match = match_to_truth(truth, dets, w, h, gate)
        dist = [pose_distance(truth[k], dets[m][0], w, h) for k, m in enumerate(match) if m >= 0]
        hit = sum(m >= 0 for m in match)
        found += hit
        total += len(truth)
        print(f"   {path.parent.name}: {len(dets)} detections, {hit}/{len(truth)} annotated "
              f"people found (mean distance {np.mean(dist) if dist else float('nan'):.3f}), "
              f"{dt:.2f} s")
    print(f"   total: {found}/{total} annotated people found")


def panning(est, frames, steps: int, gate: float) -> None:
    print(f"2. panning window (80 % of the picture, {steps} frames), tracker on the crops:")
    for path, w, h, persons in frames:
        rgb = read_rgb(path)
        cw, ch = int(w * 0.8), int(h * 0.8)
        dets_per_frame, truth_per_frame = [], []
        for f in range(steps):
            x0 = round((w - cw) * f / max(steps - 1, 1))
            y0 = round((h - ch) * f / max(steps - 1, 1))
            box = (x0, y0, x0 + cw, y0 + ch)
            dets_per_frame.append(est.process_all(rgb[y0:y0 + ch, x0:x0 + cw]))
            seen = [(tid, to_window(p, box, w, h)) for tid, p in persons]
            seen = [(tid, p) for tid, p in seen if np.isfinite(p[:, 0]).sum() >= 3]
            truth_per_frame.append(seen)
        ids = track(dets_per_frame, cw, ch)
        ident = Identity()
        for f, seen in enumerate(truth_per_frame):
            ident.add_frame([tid for tid, _ in seen], [p for _, p in seen], dets_per_frame[f],
                            ids[f], cw, ch, gate)
        tracks = {int(i) for row in ids for i in row if i >= 0}
        noise = sum(int((row < 0).sum()) for row in ids)
        print(f"   {path.parent.name}: {len(persons)} annotated people, {len(tracks)} tracks, "
              f"{ident.on_a_track}/{ident.annotated} annotated person-frames on a track, "
              f"{noise} detections dropped as noise, identity switches {ident.switches}")


def clip(est, path: Path, limit: int) -> None:
    print(f"3. unlabelled clip {path.name}:")
    per_frame = []
    with VideoReader(path) as reader:
        info = reader.info
        for i, rgb in reader.frames(0, limit):
            per_frame.append(est.process_all(rgb, int(i * 1000 / info.fps)))
    people = track_people(per_frame, info.fps, info.width, info.height,
                          backend=est.name, backend_version=est.version)
    counts = [len(d) for d in per_frame]
    print(f"   {len(per_frame)} frames ({info.width}x{info.height}), detections per frame "
          f"min {min(counts)} / mean {np.mean(counts):.1f} / max {max(counts)}; "
          f"{len(people.persons())} tracks kept")
    cover = sorted(((int(people.coverage(p).sum()), p) for p in people.persons()), reverse=True)
    print("   frames seen per track (id: frames): "
          + ", ".join(f"{p}: {n}" for n, p in cover))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pan", type=int, default=20)
    ap.add_argument("--gate", type=float, default=0.5)
    ap.add_argument("--num-poses", type=int, default=20)
    ap.add_argument("--clip-frames", type=int, default=None)
    ap.add_argument("--clip", type=Path, action="append", default=[],
                    help="more clips for part 3 (default: the PoseTrack18 clip only)")
    args = ap.parse_args(argv)
    frames = labelled_frames()
    est = get("mediapipe-multi").create({"num_poses": args.num_poses})
    try:
        accuracy(est, args.gate)
        still_pictures(est, frames, args.gate)
        panning(est, frames, args.pan, args.gate)
        for path in [CLIP, *args.clip]:
            clip(est, path, args.clip_frames)
    finally:
        est.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
