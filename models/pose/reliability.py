"""Is the skeleton on a frame a person's real pose? One judgement per frame, with reasons.

MediaPipe always returns a full 33-landmark skeleton once it decides a person is there,
even when it sees only a face, a hand, a person behind a table or a guitar body. Such a
"ghost" skeleton must not be described, compared, counted as motion or turned into QA.
This module judges every frame of a ``PoseTrack`` from cues the track already holds:

* ``damaged``: the decoded picture is wrecked by decoding artefacts (the track's per-frame
  ``damage`` score from ``models.pose.damage``, kept at extraction; tracks without it have
  no such cue). The skeleton on such a frame can look perfectly human;
* ``no_pose``: no skeleton at all;
* ``torso_hidden``: shoulders or hips barely visible (close-ups, body behind furniture);
* ``hips_hidden``: the hips are not clearly seen (seated behind a table, covered);
* ``cut_by_edge``: the nose, a shoulder or a hip lies outside the frame;
* ``too_small``: the torso spans only a few pixels;
* ``proportions``: the image and 3-D skeletons disagree on bone lengths. Foreshortening
  only shortens a bone in the image, so every bone's image-length / 3-D-length scale stays
  close to the largest one for a real body; a ghost spreads them widely;
* ``world_contradiction``: the 3-D pose is upside down or mirrored against the image
  (``models.pose.consistency``);
* ``jump``: the skeleton's torso jumped or changed size between consecutive frames
  (usually the tracker switched to another person).

Thresholds live in ``resources/reliability.json`` (with comments). Everything is vectorised
over frames; no Qt, no MediaPipe.

API
---
``judge(track) -> Reliability``: ``ok`` (frames,) bool, ``codes[i]`` / ``texts[i]`` the
    reason codes and human phrases of frame i (empty when reliable), ``share``,
    ``reason(i)`` (the first phrase), ``reasons(i)`` (list of {"code", "text"}).
``unreliable_frames(track_or_world) -> (bad, phrases) | None``: what the describer needs;
    None for bare world arrays (no image landmarks to judge against).
``one_frame(track, frame)``: a one-frame view of ``track`` that keeps frame ``frame``'s
    judgement (temporal cues need the whole track).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .skeleton import blazepose

NOSE, L_SH, R_SH, L_HIP, R_HIP = 0, 11, 12, 23, 24
BONES = ((11, 12), (23, 24), (11, 23), (12, 24), (11, 13), (13, 15), (12, 14), (14, 16),
         (23, 25), (25, 27), (24, 26), (26, 28))
CODES = ("damaged", "no_pose", "torso_hidden", "hips_hidden", "cut_by_edge", "too_small", "proportions",
         "world_contradiction", "jump")


def thresholds() -> dict:
    from .. import resources  # noqa: PLC0415
    return {k: v for k, v in resources.load_json("reliability.json").items()
            if not k.startswith("_")}


@dataclass
class Reliability:
    ok: np.ndarray              # (frames,) bool
    codes: list                 # per frame: tuple of reason codes (empty = reliable)
    texts: list                 # per frame: tuple of human phrases, same order

    def __len__(self) -> int:
        return len(self.ok)

    @property
    def share(self) -> float:
        """Reliable frames over all frames (0 for an empty track)."""
        return float(self.ok.mean()) if len(self.ok) else 0.0

    def reason(self, i: int) -> str:
        """The main reason frame ``i`` is unreliable ("" when it is reliable)."""
        return self.texts[i][0] if self.texts[i] else ""

    def reasons(self, i: int) -> list[dict]:
        return [{"code": c, "text": t} for c, t in zip(self.codes[i], self.texts[i])]

    def summary(self) -> str:
        n, k = len(self.ok), int(self.ok.sum())
        return f"{k} of {n} frames reliable ({100 * self.share:.0f}%)" if n else "no frames"

    def take(self, i: int) -> "Reliability":
        return Reliability(self.ok[i:i + 1].copy(), [self.codes[i]], [self.texts[i]])


def _frame_size(track) -> np.ndarray:
    return np.array([float(getattr(track, "width", 0) or 0), float(getattr(track, "height", 0) or 0)])


def judge(track) -> Reliability:
    """Every frame of ``track`` (needs ``image`` and ``world``, (frames, joints, 4)) judged."""
    image, world = np.ascontiguousarray(track.image), np.ascontiguousarray(track.world)
    damage = _damage(track, len(image))
    cache_key = (image.shape, zlib.adler32(image), zlib.adler32(world),  # type: ignore[arg-type]
                 None if damage is None else zlib.adler32(damage),  # type: ignore[arg-type]
                 getattr(track, "fps", None),
                 getattr(track, "width", None), getattr(track, "height", None))
    cached = getattr(track, "_reliability_cache", None)
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    out = _judge(track)
    try:
        track._reliability_cache = (cache_key, out)
    except AttributeError:          # objects without a __dict__: no caching
        pass
    return out


def _damage(track, frames: int):
    """The track's per-frame picture damage scores (float32), or None when it has none."""
    damage = getattr(track, "damage", None)
    if damage is None:
        return None
    damage = np.ascontiguousarray(damage, dtype=np.float32)
    return damage if damage.shape == (frames,) else None


def _damaged(track, frames: int, limit: float) -> np.ndarray:
    damage = _damage(track, frames)
    if damage is None:
        return np.zeros(frames, dtype=bool)
    with np.errstate(invalid="ignore"):
        return damage > limit           # NaN (not measured): no cue


def _judge(track) -> Reliability:
    t = thresholds()
    img = np.asarray(track.image, dtype=np.float64)
    world = np.asarray(track.world, dtype=np.float64)
    n = len(img)
    size = _frame_size(track)
    if not (size > 0).all():
        size = np.array([1.0, 1.0])
    vis = np.nan_to_num(img[..., 3], nan=0.0) if img.shape[-1] > 3 else np.ones(img.shape[:2])
    no_pose = np.isnan(img[:, :, 0]).all(axis=1)
    if img.shape[1] != blazepose().n or world.shape != img.shape:      # not BlazePose: presence only
        return Reliability(~no_pose, [("no_pose",) if b else () for b in no_pose],
                           [("no person detected",) if b else () for b in no_pose])
    xy = img[..., :2] * size
    fired: dict[str, np.ndarray] = {}
    texts: dict[str, list] = {}

    fired["damaged"] = _damaged(track, n, float(t["damage_max"]))
    fired["no_pose"] = no_pose
    torso_vis = vis[:, [L_SH, R_SH, L_HIP, R_HIP]].min(axis=1)
    fired["torso_hidden"] = ~no_pose & (torso_vis < t["torso_min_visibility"])
    hip_vis = vis[:, [L_HIP, R_HIP]].min(axis=1)
    fired["hips_hidden"] = ~no_pose & ~fired["torso_hidden"] & (hip_vis < t["hips_min_visibility"])
    texts["hips_hidden"] = [f"hips hidden or unclear (visibility {v:.2f})" for v in hip_vis]

    m = float(t["edge_margin"])
    core = img[:, list(t["edge_joints"]), :2]
    with np.errstate(invalid="ignore"):
        outside = ((core < -m) | (core > 1 + m)).any(axis=2).any(axis=1)
    fired["cut_by_edge"] = ~no_pose & outside

    centre = xy[:, [L_SH, R_SH, L_HIP, R_HIP]].mean(axis=1)
    torso_px = np.linalg.norm(xy[:, [L_SH, R_SH]].mean(axis=1) - xy[:, [L_HIP, R_HIP]].mean(axis=1), axis=1)
    with np.errstate(invalid="ignore"):
        fired["too_small"] = ~no_pose & ~fired["torso_hidden"] & (torso_px < t["min_torso_px"])
    texts["too_small"] = [f"person too small in the frame ({v:.0f} px)" if np.isfinite(v) else ""
                          for v in torso_px]

    fired["proportions"] = ~no_pose & _proportions_bad(xy, world, vis, t)

    from .consistency import inconsistent_frames  # noqa: PLC0415
    bad = inconsistent_frames(SimpleNamespace(image=img, world=world, width=size[0], height=size[1]))
    fired["world_contradiction"] = ~no_pose & (bad if bad is not None else np.zeros(n, dtype=bool))

    fps = float(getattr(track, "fps", 0) or 0)
    fired["jump"] = ~no_pose & _jumps(centre, torso_px, no_pose, fps, t)

    phrases = {"damaged": "picture damaged (decoding artefacts)",
               "no_pose": "no person detected", "torso_hidden": "torso not visible",
               "cut_by_edge": "skeleton cut by the frame edge",
               "proportions": "limb proportions not human (image vs 3-D)",
               "world_contradiction": "3-D pose contradicts the image",
               "jump": "skeleton jumped (another person?)"}
    stack = np.stack([fired[c] for c in CODES], axis=1)
    ok = ~stack.any(axis=1)
    codes: list[tuple[str, ...]] = []
    words: list[tuple[str, ...]] = []
    for i in range(n):
        if ok[i]:
            codes.append(())
            words.append(())
            continue
        cs = tuple(c for c, hit in zip(CODES, stack[i]) if hit)
        codes.append(cs)
        words.append(tuple(texts[c][i] if c in texts else phrases[c] for c in cs))
    return Reliability(ok, codes, words)


def _proportions_bad(xy, world, vis, t) -> np.ndarray:
    a = np.array([b[0] for b in BONES])
    b = np.array([b[1] for b in BONES])
    img_len = np.linalg.norm(xy[:, a] - xy[:, b], axis=2)
    w_len = np.linalg.norm(world[:, a, :3] - world[:, b, :3], axis=2)
    seen = (vis[:, a] >= t["visible"]) & (vis[:, b] >= t["visible"]) & (w_len > 1e-3)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(seen, img_len / np.where(w_len > 1e-3, w_len, 1.0), np.nan)
    count = np.isfinite(scale).sum(axis=1)
    out = np.zeros(len(xy), dtype=bool)
    rows = count >= int(t["proportion_min_bones"])
    if rows.any():
        s = scale[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.nanmax(s, axis=1) / np.nanmedian(s, axis=1)
        out[np.flatnonzero(rows)] = spread > t["proportion_max_spread"]
    return out


def _jumps(centre, torso_px, no_pose, fps, t) -> np.ndarray:
    n = len(centre)
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    both = ~no_pose[1:] & ~no_pose[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.fmax(torso_px[1:], torso_px[:-1])
        moved = np.linalg.norm(centre[1:] - centre[:-1], axis=1) / ref
        grow = np.fmax(torso_px[1:], torso_px[:-1]) / np.fmin(torso_px[1:], torso_px[:-1])
        hit = both & ((moved > t["jump_torso"]) | (grow > t["jump_size_ratio"]))
    starts = np.flatnonzero(hit) + 1
    hold = max(1, int(round(float(t["jump_hold_s"]) * fps))) if fps > 0 else 1
    for s in starts:
        out[s:s + hold] = True
    return out


def unreliable_frames(track_or_world):
    """(bad (frames,) bool, phrase per frame) for the describer, or None when the input has
    no image landmarks (a bare world array). A one-frame view from ``one_frame`` carries
    the judgement made on the whole track."""
    rel = getattr(track_or_world, "reliability", None)
    if rel is None:
        image = getattr(track_or_world, "image", None)
        world = getattr(track_or_world, "world", None)
        if image is None or world is None:
            return None
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[1] != blazepose().n or image.shape[2] < 4:
            return None
        rel = judge(track_or_world)
    return ~rel.ok, [rel.reason(i) for i in range(len(rel))]


def one_frame(track, frame: int):
    """Frame ``frame`` of ``track`` alone (world, image, size) with its judgement."""
    rel = judge(track)
    return SimpleNamespace(world=np.asarray(track.world[frame:frame + 1]),
                           image=np.asarray(track.image[frame:frame + 1]),
                           width=getattr(track, "width", 1), height=getattr(track, "height", 1),
                           fps=getattr(track, "fps", 0), reliability=rel.take(frame))


def frame_reliability(track, frame: int) -> tuple[bool, list[dict]]:
    """(reliable, reasons) of one frame; a bare world array is always reliable."""
    if getattr(track, "image", None) is None:
        return True, []
    rel = judge(track)
    return bool(rel.ok[frame]), rel.reasons(frame)
