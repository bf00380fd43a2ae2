"""Accuracy: PCK@0.2 of the default pose backend against the real COCO ground truth.

For every annotated person (num_keypoints > 0) of ``keypoints/coco/test_coco.json`` the
estimator runs in static-image mode on the person's bounding box grown by 25 % per side
(clipped to the image); landmarks are mapped back to image pixels. A labelled joint
(v = 1 or 2) counts as correct when the prediction lies within 0.2 x max(bbox w, bbox h)
pixels of the ground truth ("bbox size" normaliser; COCO bboxes are tight boxes around the
person). A person the estimator misses counts every labelled joint as wrong. All 17
COCO-17 joints exist in BlazePose-33 and are matched by name.

    .venv/bin/python bench/bench_pck.py [COCO_JSON]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.pose.backends.mediapipe_pose import uncrop  # noqa: E402
from models.pose.coco import load_coco  # noqa: E402
from models.pose.registry import DEFAULT_BACKEND, get  # noqa: E402
from models.pose.skeleton import blazepose, coco17  # noqa: E402

DEFAULT_JSON = REPO / "tests" / "data" / "keypoints" / "coco" / "test_coco.json"
MARGIN = 0.25
ALPHA = 0.2


def crop_box(bbox, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = bbox
    return (int(max(0, x - MARGIN * w)), int(max(0, y - MARGIN * h)),
            int(min(width, x + w * (1 + MARGIN))), int(min(height, y + h * (1 + MARGIN))))


def predict(estimator, rgb: np.ndarray, bbox) -> np.ndarray | None:
    """(33, 2) predicted pixel x, y for the person in ``bbox``, or None."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = crop_box(bbox, w, h)
    found = estimator.process(np.ascontiguousarray(rgb[y0:y1, x0:x1]), 0)
    if found is None:
        return None
    full = uncrop(found[0], (x0, y0, x1, y1), w, h)
    return full[:, :2].astype(np.float64) * (w, h)


def read_rgb(path) -> np.ndarray:
    import cv2  # noqa: PLC0415

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def evaluate(json_path) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per COCO joint: correct counts, labelled counts; persons found, persons total."""
    ds = load_coco(json_path)
    idx = [blazepose().index(n) for n in coco17().joints]
    correct, labelled = np.zeros(len(idx)), np.zeros(len(idx))
    found = total = 0
    est = get(DEFAULT_BACKEND).create({"static_image_mode": True})
    try:
        for image in ds.images:
            rgb = read_rgb(image.path)
            for person in image.persons:
                gt = person.keypoints[idx]
                lab = gt[:, 2] > 0
                if not lab.any():
                    continue
                total += 1
                labelled += lab
                pred = predict(est, rgb, person.bbox)
                if pred is None:
                    continue
                found += 1
                dist = np.linalg.norm(pred[idx] - gt[:, :2], axis=1)
                correct += lab & (dist <= ALPHA * max(person.bbox[2], person.bbox[3]))
    finally:
        est.close()
    return correct, labelled, found, total


def main(argv: list[str]) -> int:
    json_path = Path(argv[0]) if argv else DEFAULT_JSON
    correct, labelled, found, total = evaluate(json_path)
    print(f"PCK@{ALPHA} (threshold {ALPHA} x max(bbox w, h)), backend {DEFAULT_BACKEND}, "
          f"{json_path.name}: {found}/{total} persons detected")
    for name, c, n in zip(coco17().joints, correct, labelled):
        pck = f"{c / n:.3f}" if n else "  n/a"
        print(f"  {name:<15} {pck}  ({int(c)}/{int(n)})")
    print(f"  overall         {correct.sum() / labelled.sum():.3f}  "
          f"({int(correct.sum())}/{int(labelled.sum())} labelled joints)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
