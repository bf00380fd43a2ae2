"""Multi-person pose accuracy against annotated pictures (COCO, PoseTrack18).

Matching. The annotated people of a picture are paired with the detections by
``tracking.match_to_truth`` (minimum summed normalised keypoint distance, pairs beyond
``gate`` not made). An annotated person with a partner is *found*; one without is *missed*.

PCK. A labelled joint (COCO flag v = 1 or 2) of a found person is correct when the detected
joint lies within ``alpha`` x the person's size of it, in pixels. The person's size is
max(width, height) of the annotation's box (``bbox``; COCO and PoseTrack18 boxes are tight
around the person; without a box, the box around the labelled joints). The bounding-box
size is used rather than the torso because many annotated people have no labelled hip or
shoulder pair (sitting in a crowd, cut by the edge). A missed person counts every labelled
joint as wrong, so PCK also pays for people not found. Joints are compared by name in the
BlazePose layout the importers give (``models.pose.coco``): a joint the dataset does not
annotate (COCO has no heels, PoseTrack18 no eyes) has no labelled instance and no score.

Identity. ``Identity`` follows annotated people with track ids through a tracked sequence
and counts CLEAR-MOT identity switches (``tracking.identity_switches``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from .people import split_detection
from .skeleton import Skeleton, blazepose
from .tracking import identity_switches, match_to_truth

ALPHA = 0.2
GATE = 0.5


def person_size(bbox, keypoints: np.ndarray) -> float:
    """max(box width, box height) in pixels; the box around the labelled joints when
    ``bbox`` is None or empty."""
    if bbox is not None and len(bbox) == 4 and max(bbox[2], bbox[3]) > 0:
        return float(max(bbox[2], bbox[3]))
    lab = keypoints[keypoints[:, 2] > 0, :2]
    if len(lab) < 2:
        return 0.0
    return float((lab.max(axis=0) - lab.min(axis=0)).max())


def normalised(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    """(joints, 3) pixel x, y, flag -> (joints, 4) normalised image pose (NaN unlabelled)."""
    out = np.full((len(keypoints), 4), np.nan, dtype=np.float64)
    lab = keypoints[:, 2] > 0
    out[lab, 0] = keypoints[lab, 0] / width
    out[lab, 1] = keypoints[lab, 1] / height
    out[lab, 2] = 0.0
    out[lab, 3] = np.where(keypoints[lab, 2] >= 2, 1.0, 0.5)
    return out


@dataclass
class PictureScore:
    """One picture: per annotated person, the detection matched (-1: missed) and the
    per-joint (labelled, correct) masks."""
    match: list
    labelled: np.ndarray   # (people, joints) bool
    correct: np.ndarray    # (people, joints) bool


def score_picture(truth: Sequence[np.ndarray], sizes: Sequence[float], detections: Sequence,
                  width: int, height: int, alpha: float = ALPHA,
                  gate: float = GATE) -> PictureScore:
    """Score one picture.

    ``truth[k]``: (joints, 3) pixel x, pixel y, flag of annotated person k (flag 0: not
    labelled); ``sizes[k]``: its size in pixels (``person_size``); ``detections``: the
    estimator's poses (normalised (joints, 4) arrays or (image, world) pairs)."""
    truth = [np.asarray(t, dtype=np.float64) for t in truth]
    if len(sizes) != len(truth):
        raise ValueError(f"{len(truth)} annotated people but {len(sizes)} sizes")
    joints = truth[0].shape[0] if truth else blazepose().n
    labelled = np.zeros((len(truth), joints), dtype=bool)
    correct = np.zeros_like(labelled)
    images = [split_detection(d)[0] for d in detections]
    match = match_to_truth([normalised(t, width, height) for t in truth], images, width,
                           height, gate) if truth else []
    for k, (t, m) in enumerate(zip(truth, match)):
        labelled[k] = t[:, 2] > 0
        if m < 0 or sizes[k] <= 0:
            continue
        pred = np.asarray(images[m], dtype=np.float64)[:, :2] * (width, height)
        with np.errstate(invalid="ignore"):
            dist = np.linalg.norm(pred - t[:, :2], axis=1)
            correct[k] = labelled[k] & np.isfinite(dist) & (dist <= alpha * sizes[k])
    return PictureScore(list(match), labelled, correct)


@dataclass
class PckTally:
    """Counts over many pictures: per joint, labelled and correct instances; annotated
    people and how many were found."""
    skeleton: Skeleton = field(default_factory=blazepose)
    alpha: float = ALPHA
    labelled: np.ndarray = field(init=False)   # (joints,) labelled instances
    correct: np.ndarray = field(init=False)    # (joints,) of them correct
    people: int = 0
    found: int = 0
    labelled_found: int = 0   # labelled joints of the found people ...
    correct_found: int = 0    # ... and how many of them were correct

    def __post_init__(self) -> None:
        self.labelled = np.zeros(self.skeleton.n, dtype=np.int64)
        self.correct = np.zeros(self.skeleton.n, dtype=np.int64)

    def add(self, score: PictureScore) -> None:
        scored = score.labelled.any(axis=1)   # people without a labelled joint do not count
        self.people += int(scored.sum())
        self.found += int(sum(1 for s, m in zip(scored, score.match) if s and m >= 0))
        self.labelled += score.labelled[scored].sum(axis=0)
        self.correct += score.correct[scored].sum(axis=0)
        hit = np.array([m >= 0 for m in score.match], dtype=bool)
        self.labelled_found += int(score.labelled[hit].sum())
        self.correct_found += int(score.correct[hit].sum())

    def per_joint(self) -> dict:
        """{joint name: PCK} for every joint with a labelled instance, skeleton order."""
        return {name: float(c / n) for name, c, n in
                zip(self.skeleton.joints, self.correct, self.labelled) if n > 0}

    def overall(self) -> float:
        """Correct over labelled joint instances (NaN when nothing was labelled)."""
        n = int(self.labelled.sum())
        return float(self.correct.sum() / n) if n else float("nan")

    def found_only(self) -> float:
        """PCK over the labelled joints of the people found (NaN when none was found)."""
        return self.correct_found / self.labelled_found if self.labelled_found else float("nan")

    def lines(self) -> list[str]:
        out = [f"PCK@{self.alpha:g} (threshold {self.alpha:g} x max(box w, h)): "
               f"{self.found}/{self.people} annotated people found, overall "
               f"{self.overall():.3f} ({int(self.correct.sum())}/{int(self.labelled.sum())} "
               f"labelled joints); over the people found {self.found_only():.3f} "
               f"({self.correct_found}/{self.labelled_found})"]
        for name, c, n in zip(self.skeleton.joints, self.correct, self.labelled):
            if n:
                out.append(f"  {name:<17} {c / n:.3f}  ({int(c)}/{int(n)})")
        return out


@dataclass
class Identity:
    """Annotated people with track ids followed through tracked frames."""
    gt_ids: list = field(default_factory=list)      # per frame: annotated track ids
    matched: list = field(default_factory=list)     # per frame: track id given to each (None)
    annotated: int = 0
    on_a_track: int = 0

    def add_frame(self, truth_ids: Sequence, truth_poses: Sequence[np.ndarray],
                  detections: Sequence, track_ids: Sequence, width: int, height: int,
                  gate: float = GATE) -> None:
        """One frame: ``truth_poses[k]`` normalised (joints, 4) pose of annotated person
        ``truth_ids[k]``; ``track_ids[d]`` the tracker's id of detection d (< 0: noise)."""
        if len(truth_ids) != len(truth_poses) or len(track_ids) != len(detections):
            raise ValueError("one id per annotated pose and one track id per detection")
        images = [split_detection(d)[0] for d in detections]
        match = match_to_truth(list(truth_poses), images, width, height, gate) \
            if len(truth_poses) else []
        got: list[Optional[int]] = [int(track_ids[m]) if m >= 0 and int(track_ids[m]) >= 0
                                    else None for m in match]
        self.gt_ids.append(list(truth_ids))
        self.matched.append(got)
        self.annotated += len(truth_ids)
        self.on_a_track += sum(g is not None for g in got)

    @property
    def switches(self) -> int:
        return identity_switches(self.gt_ids, self.matched)


# -- running an estimator over annotated pictures -------------------------------------------
def read_rgb(path) -> np.ndarray:
    """An image file as an RGB array; ValueError when it cannot be read."""
    import cv2  # noqa: PLC0415

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read the image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def score_images(detect, images: Sequence, alpha: float = ALPHA, gate: float = GATE,
                 tally: Optional[PckTally] = None) -> PckTally:
    """PCK and people found over annotated pictures (``models.pose.coco.CocoImage`` with a
    ``path``): ``detect(rgb)`` gives a picture's detections (e.g. an estimator's
    ``process_all`` on the whole picture)."""
    tally = tally or PckTally(alpha=alpha)
    for im in images:
        if not im.persons:
            continue
        dets = detect(read_rgb(im.path))
        truth = [p.keypoints for p in im.persons]
        sizes = [person_size(p.bbox, p.keypoints) for p in im.persons]
        tally.add(score_picture(truth, sizes, dets, im.width, im.height, alpha, gate))
    return tally
