"""Tracking people across frames: per-frame detections in, one persistent id per person out.

A step of its own over what a multi-person estimator returns per frame (a list of
(joints, 4) image poses, or ``(image, world)`` pairs as ``process_all`` gives them):

* Detections are matched to tracks with ``scipy.optimize.linear_sum_assignment`` on a
  normalised keypoint distance: the mean pixel distance of the joints seen in both poses,
  divided by the person's size (the diagonal of the box around its joints).
* A gate: a pair farther apart than ``gate`` never matches; the detection starts a new track.
* Short gaps are bridged: a track unmatched for up to ``max_gap`` frames keeps its id and
  can be re-acquired near where its constant-velocity motion puts it. All live tracks take
  part in one assignment; a small penalty per missed frame lets, among equally near
  tracks, the one seen most recently win.
* Tracks matched on fewer than ``min_length`` frames are dropped as noise (id -1).
* Ids are deterministic: numbered from 0 in order of first appearance, then by x position.
* Bad joints are joints not found (``clean_detection``): a joint with a NaN or infinite
  value, or placed more than ``FAR_OUTSIDE`` pictures beyond the frame's edge (a broken
  estimate that would blow the person's size up until every detection looks near), is NaN
  in what is compared and in the ``People`` that ``track_people`` assembles.

``identity_switches`` counts CLEAR-MOT identity switches against ground truth, and
``match_to_truth`` pairs ground-truth poses with detections for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from .people import People, split_detection

NOISE = -1  # id of a detection that belongs to no kept track
_BIG = 1e9
FAR_OUTSIDE = 1.0     # normalised image units beyond the frame's edge a joint may lie
WORLD_LIMIT = 100.0   # metres from the hips a world joint may lie
DUPLICATE = 0.2       # two poses of one frame closer than this (normalised) ...
SAME_HEAD = 0.05      # ... whose noses (joint 0 in BlazePose and COCO) are this close are one body


@dataclass(frozen=True)
class TrackerParams:
    gate: float = 0.5            # largest normalised distance of a match
    gap_growth: float = 0.05     # the gate widens by this fraction per missed frame
    max_gap: int = 15            # frames a track may go unmatched and still be re-acquired
    min_length: int = 3          # tracks matched on fewer frames are noise
    gap_penalty: float = 0.02    # added to the distance per frame a track went unmatched
    min_visibility: float = 0.3  # joints below this visibility are not compared ...
    min_common: int = 3          # ... unless fewer than this many visible joints are shared
    smoothing: float = 0.5       # weight of the newest step in the velocity estimate

    def __post_init__(self) -> None:
        if not (self.gate > 0 and self.gap_growth >= 0 and self.max_gap >= 0
                and self.min_length >= 1 and self.gap_penalty >= 0
                and 0 < self.smoothing <= 1 and self.min_common >= 1):
            raise ValueError(f"invalid tracker parameters: {self}")


@dataclass
class _Track:
    key: int                 # internal number (order of creation)
    first: int               # frame of the first match
    first_x: float           # mean x (pixels) of the first detection
    last: int                # frame of the latest match
    xy: np.ndarray           # (joints, 2) pixel positions at the latest match (NaN: unseen)
    seen: np.ndarray         # (joints,) bool: visible at the latest match
    scale: float             # person size (box diagonal, pixels), smoothed
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # pixels per frame
    hits: int = 1

    def predict(self, frame: int) -> np.ndarray:
        return self.xy + self.velocity * (frame - self.last)


def clean_detection(det):
    """A copy of one detection (an image pose or an ``(image, world)`` pair, same form
    back) with every joint that cannot be a real estimate set to NaN: any infinite value,
    a NaN coordinate, or a place farther than ``FAR_OUTSIDE`` beyond the picture (image)
    / ``WORLD_LIMIT`` metres (world). NaN visibility alone is kept (unknown)."""
    img, wld = split_detection(det)
    img = np.array(img, dtype=np.float32, copy=True)
    if img.ndim != 2 or img.shape[1] < 2:
        raise ValueError(f"a detection must be (joints, 4), got {img.shape}")
    with np.errstate(invalid="ignore"):
        bad = (np.isinf(img).any(axis=1) | np.isnan(img[:, :2]).any(axis=1)
               | ~(np.abs(img[:, :2] - 0.5) <= 0.5 + FAR_OUTSIDE).all(axis=1))
    img[bad] = np.nan
    if wld is None:
        return (img, None) if isinstance(det, (tuple, list)) else img
    wld = np.array(wld, dtype=np.float32, copy=True)
    if wld.ndim == 2 and wld.shape[1] >= 3:
        with np.errstate(invalid="ignore"):
            wbad = (np.isinf(wld).any(axis=1) | np.isnan(wld[:, :3]).any(axis=1)
                    | ~(np.abs(wld[:, :3]) <= WORLD_LIMIT).all(axis=1))
        wld[wbad] = np.nan
    return img, wld


def _pixels(image_pose: np.ndarray, width: float, height: float,
            min_visibility: float) -> tuple[np.ndarray, np.ndarray]:
    """(joints, 2) pixel positions and (joints,) visible mask of one image pose."""
    pose = np.asarray(image_pose, dtype=np.float64)
    if pose.ndim != 2 or pose.shape[1] < 2:
        raise ValueError(f"a detection must be (joints, 4), got {pose.shape}")
    xy = pose[:, :2] * (width, height)
    finite = np.isfinite(xy).all(axis=1)
    vis = pose[:, 3] if pose.shape[1] >= 4 else np.full(len(pose), np.nan)
    visible = finite & ~(np.nan_to_num(vis, nan=1.0) < min_visibility)
    xy[~finite] = np.nan
    return xy, visible


def _size(xy: np.ndarray, mask: np.ndarray) -> float:
    """Diagonal of the box around the masked joints (0 when fewer than two)."""
    pts = xy[mask & np.isfinite(xy).all(axis=1)]
    if len(pts) < 2:
        return 0.0
    return float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))


def _shared(a_xy, a_seen, b_xy, b_seen, min_common: int) -> np.ndarray:
    both = a_seen & b_seen
    if both.sum() < min_common:  # few confident joints in common: use every joint both have
        both = np.isfinite(a_xy).all(axis=1) & np.isfinite(b_xy).all(axis=1)
    return both


def _distance(a_xy, a_seen, a_scale, b_xy, b_seen, b_scale, min_common: int) -> float:
    both = _shared(a_xy, a_seen, b_xy, b_seen, min_common)
    scale = max(a_scale, b_scale)
    if not both.any() or scale <= 0:
        return np.inf
    return float(np.linalg.norm(a_xy[both] - b_xy[both], axis=1).mean() / scale)


def pose_distance(a: np.ndarray, b: np.ndarray, width: float = 1.0, height: float = 1.0,
                  params: Optional[TrackerParams] = None) -> float:
    """Normalised keypoint distance of two image poses (inf when they share no joint)."""
    p = params or TrackerParams()
    a_xy, a_seen = _pixels(a, width, height, p.min_visibility)
    b_xy, b_seen = _pixels(b, width, height, p.min_visibility)
    return _distance(a_xy, a_seen, _size(a_xy, a_seen), b_xy, b_seen, _size(b_xy, b_seen),
                     p.min_common)


def _assign(cost: np.ndarray, limits: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost pairs (row, col) with cost within each row's limit."""
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    if cost.size == 0:
        return []
    ok = cost <= limits[:, None]
    rows, cols = linear_sum_assignment(np.where(ok, cost, _BIG))
    return [(int(r), int(c)) for r, c in zip(rows, cols) if ok[r, c]]


def track(detections: Sequence[Sequence], width: float = 1.0, height: float = 1.0,
          params: Optional[TrackerParams] = None) -> list[np.ndarray]:
    """Track ids of every detection: ``out[f][k]`` is the id of detection k on frame f.

    ``detections[f]`` lists frame f's poses (normalised image coordinates, NaN for joints
    not found), each a (joints, 4) array or an ``(image, world)`` pair. ``width`` and
    ``height`` (pixels) keep distances isotropic. Detections of dropped tracks get -1.
    """
    p = params or TrackerParams()
    tracks: list[_Track] = []
    owner: list[list[int]] = []  # per frame: internal track key of each detection
    for f, dets in enumerate(detections):
        seen = [_pixels(split_detection(clean_detection(d))[0], width, height,
                        p.min_visibility) for d in dets]
        sizes = [_size(xy, vis) for xy, vis in seen]
        keys = [-1] * len(seen)
        twins = _duplicates(seen, sizes, p.min_common)
        alive = [t for t in tracks if f - t.last - 1 <= p.max_gap]
        if alive and seen:
            missed = np.array([f - t.last - 1 for t in alive], dtype=np.float64)
            cost = np.array([[_distance(t.predict(f), t.seen, t.scale, xy, vis, size,
                                        p.min_common) for (xy, vis), size in zip(seen, sizes)]
                             for t in alive])
            # among equally near tracks, the one seen most recently wins
            penalty = p.gap_penalty * missed
            limits = p.gate * (1 + p.gap_growth * missed) + penalty
            cost[:, sorted(twins)] = np.inf
            for r, d in _assign(cost + penalty[:, None], limits):
                _update(alive[r], f, seen[d][0], seen[d][1], sizes[d], p)
                keys[d] = alive[r].key
        free = [d for d in range(len(seen)) if keys[d] < 0 and d not in twins]
        for d in sorted(free, key=lambda d: (_mean_x(seen[d][0]), d)):
            xy, vis = seen[d]
            t = _Track(len(tracks), f, _mean_x(xy), f, xy, vis, sizes[d])
            tracks.append(t)
            keys[d] = t.key
        owner.append(keys)
    kept = sorted((t for t in tracks if t.hits >= p.min_length),
                  key=lambda t: (t.first, t.first_x, t.key))
    final = {t.key: i for i, t in enumerate(kept)}
    return [np.array([final.get(k, NOISE) for k in keys], dtype=np.int64) for keys in owner]


def _duplicates(seen: list, sizes: list, min_common: int) -> set[int]:
    """Detections of one frame that repeat another's body (the landmarker sometimes returns
    one person twice: the same head, the limbs placed twice): of each such pair the one with
    fewer visible joints (then the smaller) is dropped, so one body never becomes two
    people. Two people never share a head: without both noses seen nothing is dropped."""
    out: set[int] = set()

    def same_head(a: int, b: int) -> bool:
        (xa, va), (xb, vb) = seen[a], seen[b]
        scale = max(sizes[a], sizes[b])
        return bool(va[0] and vb[0] and scale > 0
                    and np.linalg.norm(xa[0] - xb[0]) < SAME_HEAD * scale)

    order = sorted(range(len(seen)), key=lambda d: (-int(seen[d][1].sum()), -sizes[d], d))
    for i, a in enumerate(order):
        if a in out:
            continue
        for b in order[i + 1:]:
            if b not in out and same_head(a, b) and _distance(
                    seen[a][0], seen[a][1], sizes[a], seen[b][0], seen[b][1], sizes[b],
                    min_common) < DUPLICATE:
                out.add(b)
    return out


def _mean_x(xy: np.ndarray) -> float:
    xs = xy[:, 0][np.isfinite(xy[:, 0])]
    return float(xs.mean()) if len(xs) else np.inf


def _update(t: _Track, frame: int, xy: np.ndarray, seen: np.ndarray, size: float,
            p: TrackerParams) -> None:
    both = _shared(t.xy, t.seen, xy, seen, p.min_common)
    if both.any():  # the step of the joints seen in both: robust to joints leaving the frame
        step = (xy[both] - t.xy[both]).mean(axis=0) / (frame - t.last)
        t.velocity = step if t.hits == 1 else p.smoothing * step + (1 - p.smoothing) * t.velocity
    if size > 0:
        t.scale = size if t.scale <= 0 else 0.5 * size + 0.5 * t.scale
    # joints not seen now keep their predicted place, so a partly hidden person still compares
    predicted = t.predict(frame)
    keep = ~np.isfinite(xy).all(axis=1) & np.isfinite(predicted).all(axis=1)
    new_xy = xy.copy()
    new_xy[keep] = predicted[keep]
    t.xy, t.seen, t.last = new_xy, seen, frame
    t.hits += 1


def track_people(detections: Sequence[Sequence], fps: float, width: int, height: int,
                 params: Optional[TrackerParams] = None, skeleton: str = "blazepose33",
                 **meta) -> People:
    """Track the detections and assemble the clip's ``People`` (noise dropped; joints that
    ``clean_detection`` rejects are NaN)."""
    cleaned = [[clean_detection(d) for d in dets] for dets in detections]
    ids = track(cleaned, width, height, params)
    return People.from_frames(cleaned, ids, fps, width, height, skeleton=skeleton, **meta)


# --- evaluation ------------------------------------------------------------------------------
def match_to_truth(truth: Sequence[np.ndarray], detections: Sequence, width: float = 1.0,
                   height: float = 1.0, gate: float = 0.5) -> list[int]:
    """For each ground-truth pose of one frame, the index of its detection (-1: missed).

    Pairs minimise the summed normalised keypoint distance; pairs beyond ``gate`` are
    not made.
    """
    p = TrackerParams(gate=gate)
    cost = np.array([[pose_distance(g, split_detection(d)[0], width, height, p)
                      for d in detections] for g in truth]).reshape(len(truth), len(detections))
    out = [-1] * len(truth)
    for r, c in _assign(cost, np.full(len(truth), gate)):
        out[r] = c
    return out


def identity_switches(gt_ids_per_frame: Sequence[Sequence[int]],
                      pred: Sequence[Sequence[Optional[int]]]) -> int:
    """CLEAR-MOT identity switches.

    ``gt_ids_per_frame[f][k]`` is the ground-truth id of the k-th annotated person on frame
    f and ``pred[f][k]`` the track id matched to that person (None or negative: missed).
    A switch is counted whenever a ground-truth person is matched to a different track id
    than at its previous match (misses in between do not reset it).
    """
    if len(gt_ids_per_frame) != len(pred):
        raise ValueError(f"{len(gt_ids_per_frame)} frames of truth but {len(pred)} of tracks")
    last: dict = {}
    switches = 0
    for f, (gts, ps) in enumerate(zip(gt_ids_per_frame, pred)):
        if len(gts) != len(ps):
            raise ValueError(f"frame {f}: {len(gts)} ground-truth ids but {len(ps)} matches")
        for g, q in zip(gts, ps):
            if q is None or int(q) < 0:
                continue
            if g in last and last[g] != int(q):
                switches += 1
            last[g] = int(q)
    return switches
