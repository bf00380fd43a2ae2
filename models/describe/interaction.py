"""Facts between two people of the same clip, and the sentence that states them.

Each person is a ``PoseTrack`` of the clip. Image landmarks are normalised to the picture;
MediaPipe's world landmarks are each relative to that person's own hips, so everything
measured BETWEEN two people comes from the image, in pixels, divided by the pair's body
size. The body size of a person on a frame is their torso length in pixels without
foreshortening: the 3-D torso length (metres) times the largest image/3-D scale of the
torso's bones (foreshortening only shortens a bone in the picture). Distances are stated
in torso lengths (about half a metre for an adult).

Every fact has three states: ``True``, ``False`` or ``None`` (cannot tell, with the reason
in ``reason``). A person absent from a frame, a frame ``models.pose.reliability`` judges
unreliable, a joint below the visibility threshold, people at clearly different depths
(whose hands may overlap in the picture without meeting) or a value inside the band
between two answers all give ``None``: the facts never guess.

Facts (``PairFact.kind``):

* ``hands_distance``: the nearest pair of hands (A's and B's), in torso lengths;
* ``hands_touch``: a hand of A and a hand of B are within ``TOUCH`` torso lengths
  (``False`` beyond ``APART`` for every visible pair, and only when all four hands are seen);
* ``hand_on_body``: a hand of ``persons[0]`` reaches the torso or head of ``persons[1]``;
* ``facing``: both face each other (``label`` "face each other", "face away from each
  other" or "face the same way"). A person's facing is the horizontal (picture x) part of
  their body's forward direction (from the 3-D shoulder and hip lines); a person turned
  less than ``FACING`` from the camera axis (facing the camera or their back to it) has
  no clear side and the fact cannot be told;
* ``higher``: A's torso centre is higher in the picture than B's (``label`` "a", "b",
  or "level");
* ``approach``: over [start, end) the distance of the torso centres shrinks by at least
  ``MOVE`` torso lengths (``label`` "closer", "apart" or "same": a change below ``STILL``
  with no swing above ``STILL_SWING`` in between).

API
---
``pair_facts(ta, tb, frame, persons=(0, 1), min_visibility=None) -> list[PairFact]``
``approach_fact(ta, tb, start, end, persons=(0, 1), min_visibility=None) -> PairFact``
``part_distance(ta, tb, frame, part_a, part_b, min_visibility=None) -> (value, reason)``
    parts: "left_hand", "right_hand", "head", "torso" or a joint name of the skeleton.
``describe_pair(tracks, a, b, frame, min_visibility=None) -> str``
"""
from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np

TOUCH = 0.35        # torso lengths: hand centres this close touch
APART = 0.7         # beyond this they do not; between: cannot tell
BODY_TOUCH = 0.15   # hand to the other's torso outline or head
BODY_APART = 0.5
HEAD_RADIUS = 0.25  # torso lengths around the head's centre that count as the head
DEPTH_RATIO = 1.35  # body sizes differing more: the two stand at different depths
FACING = 0.5        # |sin(turn from the camera axis)| a clear side needs (30 degrees)
LEVEL = 0.15        # torso centres closer than this in height: level
HIGHER = 0.35       # further than this: one is higher; between: cannot tell
MOVE = 0.5          # change of the centre distance over a window: closer / further apart
STILL = 0.2         # change below this (and swing below STILL_SWING): keep their distance
STILL_SWING = 0.4
STEADY_S = 0.04     # a one-frame fact must hold this long on either side (at least 1 frame)
MIN_SEEN = 0.6      # share of a window's frames both people must be usable on
HAND_JOINTS = ("wrist", "index", "pinky", "thumb")
TORSO = ("left_shoulder", "right_shoulder", "right_hip", "left_hip")   # outline order
UNIT = "torso lengths"


@dataclass(frozen=True)
class PairFact:
    kind: str
    persons: tuple          # (a, b) person numbers
    start: int              # frames [start, end)
    end: int
    state: Optional[bool]   # True / False / None = cannot tell
    label: str = ""         # the determinate answer ("" when it cannot be told)
    value: float = math.nan  # the measurement, in ``unit`` (NaN when not measured)
    unit: str = UNIT
    reason: str = ""        # why it cannot be told ("" when it can)
    detail: dict = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.state is not None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "persons": [int(p) for p in self.persons],
                "start": int(self.start), "end": int(self.end), "state": self.state,
                "label": self.label,
                "value": None if not math.isfinite(self.value) else round(float(self.value), 4),
                "unit": self.unit, "reason": self.reason, "detail": dict(self.detail)}


def _min_vis(min_visibility) -> float:
    from .config import config  # noqa: PLC0415
    return float(config()["min_visibility"] if min_visibility is None else min_visibility)


def _skeleton(track):
    from ..pose.people import skeleton_of  # noqa: PLC0415
    return skeleton_of(getattr(track, "skeleton", "blazepose33"))


def _idx(track, name: str) -> int:
    return _skeleton(track).index(name)


# -- one person on one frame -------------------------------------------------------------
_scope = threading.local()


def judged_once(fn):
    """Runs ``fn`` with every track's reliability judged at most once: the facts look at
    many frames of the same tracks, and judging checks the whole track each time."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        if getattr(_scope, "judged", None) is not None:
            return fn(*args, **kwargs)
        _scope.judged = {}
        try:
            return fn(*args, **kwargs)
        finally:
            _scope.judged = None
    return run


def _reliability(track):
    from ..pose.reliability import judge  # noqa: PLC0415

    judged = getattr(_scope, "judged", None)
    if judged is None:
        return judge(track)
    got = judged.get(id(track))
    if got is None or got[0] is not track:
        got = judged[id(track)] = (track, judge(track))
    return got[1]


def usable(track, frame: int) -> str:
    """"" when ``track``'s pose on ``frame`` can be used, else why not."""
    if not 0 <= frame < len(track.image) or np.isnan(track.image[frame, :, 0]).all():
        return "absent"
    r = _reliability(track)
    if not r.ok[frame]:
        return f"unreliable pose ({r.reason(frame)})"
    return ""


def _px(track, frame: int) -> np.ndarray:
    """(joints, 2) image points in pixels of one frame."""
    size = np.array([float(track.width or 1), float(track.height or 1)])
    return np.asarray(track.image[frame, :, :2], dtype=np.float64) * size


def _vis(track, frame: int) -> np.ndarray:
    return np.nan_to_num(np.asarray(track.image[frame, :, 3], dtype=np.float64), nan=0.0)


def body_size(track, frame: int, min_visibility=None) -> float:
    """The person's torso length in pixels without foreshortening (NaN when the torso is
    not seen)."""
    mv = _min_vis(min_visibility)
    ls, rs, lh, rh = (_idx(track, n) for n in ("left_shoulder", "right_shoulder",
                                               "left_hip", "right_hip"))
    vis = _vis(track, frame)
    if (vis[[ls, rs, lh, rh]] < mv).any():
        return math.nan
    px = _px(track, frame)
    w = np.asarray(track.world[frame, :, :3], dtype=np.float64)
    scales = []
    for a, b in ((ls, rs), (lh, rh), (ls, lh), (rs, rh)):
        metres = float(np.linalg.norm(w[a] - w[b]))
        if metres > 1e-3 and np.isfinite(metres):
            scales.append(float(np.linalg.norm(px[a] - px[b])) / metres)
    torso_m = float(np.linalg.norm((w[ls] + w[rs]) / 2 - (w[lh] + w[rh]) / 2))
    if not scales or not np.isfinite(torso_m) or torso_m < 1e-3:
        return math.nan
    return max(scales) * torso_m


def point(track, frame: int, part: str, min_visibility=None) -> tuple[Optional[np.ndarray], str]:
    """(pixel point of ``part`` on ``frame``, "") or (None, why it is not seen)."""
    mv = _min_vis(min_visibility)
    sk = _skeleton(track)
    vis, px = _vis(track, frame), _px(track, frame)
    if part in ("left_hand", "right_hand"):
        side = part.split("_")[0]
        names = [f"{side}_{j}" for j in HAND_JOINTS if f"{side}_{j}" in sk.joints]
        if not names or vis[sk.index(names[0])] < mv:
            return None, f"{side} hand not visible"
        idx = [sk.index(n) for n in names if vis[sk.index(n)] >= mv]
        return px[idx].mean(axis=0), ""
    if part == "head":
        idx = [sk.index(n) for n in ("nose", "left_ear", "right_ear")
               if n in sk.joints and vis[sk.index(n)] >= mv]
        if not idx:
            return None, "head not visible"
        return px[idx].mean(axis=0), ""
    if part == "torso":
        idx = [sk.index(n) for n in TORSO]
        if (vis[idx] < mv).any():
            return None, "torso not visible"
        return px[idx].mean(axis=0), ""
    if part not in sk.joints:
        raise ValueError(f"unknown body part {part!r}")
    j = sk.index(part)
    if vis[j] < mv:
        return None, f"{part.replace('_', ' ')} not visible"
    return px[j], ""


def _outline(track, frame: int, min_visibility) -> Optional[np.ndarray]:
    mv = _min_vis(min_visibility)
    idx = [_idx(track, n) for n in TORSO]
    if (_vis(track, frame)[idx] < mv).any():
        return None
    return _px(track, frame)[idx]


def _to_polygon(p: np.ndarray, poly: np.ndarray) -> float:
    """Pixel distance from ``p`` to the polygon (0 inside)."""
    inside = False
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if (a[1] > p[1]) != (b[1] > p[1]):
            x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if p[0] < x:
                inside = not inside
    if inside:
        return 0.0
    best = math.inf
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        ab = b - a
        t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
        best = min(best, float(np.linalg.norm(p - (a + t * ab))))
    return best


def _heading(track, frame: int, min_visibility) -> tuple[float, str]:
    """Horizontal (picture x) part of the body's forward direction, in -1..1 (sin of the
    turn from facing the camera; positive = towards the picture's right), from the 3-D
    shoulder and hip lines; (NaN, why) when they are not seen or disagree on the side."""
    mv = _min_vis(min_visibility)
    vis = _vis(track, frame)
    w = np.asarray(track.world[frame, :, :3], dtype=np.float64)
    out = []
    for left, right in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
        li, ri = _idx(track, left), _idx(track, right)
        if min(vis[li], vis[ri]) < mv:
            return math.nan, "shoulders or hips not visible"
        across = w[li] - w[ri]       # MediaPipe world: x right, y down, z away
        dx, dz = float(across[0]), float(-across[2])   # z towards the camera
        if math.hypot(dx, dz) < 1e-6 or not math.isfinite(dx + dz):
            return math.nan, "shoulders or hips not measured"
        out.append(math.sin(math.atan2(-dz, dx)))
    if out[0] * out[1] < 0 and min(abs(out[0]), abs(out[1])) >= FACING / 2:
        return math.nan, "shoulders and hips turn different ways"
    return float(np.mean(out)), ""


# -- facts on one frame ------------------------------------------------------------------
def _unknown(kind, persons, frame, reason, **detail) -> PairFact:
    return PairFact(kind, tuple(persons), frame, frame + 1, None, reason=reason, detail=detail)


def _pair_state(ta, tb, frame, persons, min_visibility) -> tuple[float, str, dict]:
    """(pair unit in pixels, "" or why nothing can be told, detail)."""
    for p, t in zip(persons, (ta, tb)):
        why = usable(t, frame)
        if why:
            return math.nan, f"person {p}: {why}", {}
    sa, sb = body_size(ta, frame, min_visibility), body_size(tb, frame, min_visibility)
    if not (math.isfinite(sa) and math.isfinite(sb)) or min(sa, sb) <= 0:
        return math.nan, "body size not measured (torso not visible)", {}
    detail = {"size_px": [round(sa, 1), round(sb, 1)]}
    return (sa + sb) / 2, "", detail


def part_distance(ta, tb, frame: int, part_a: str, part_b: str,
                  min_visibility=None) -> tuple[float, str]:
    """Distance between A's ``part_a`` and B's ``part_b`` on ``frame`` in torso lengths
    (NaN and the reason when it cannot be measured)."""
    unit, why, _ = _pair_state(ta, tb, frame, ("A", "B"), min_visibility)
    if why:
        return math.nan, why
    pa, wa = point(ta, frame, part_a, min_visibility)
    pb, wb = point(tb, frame, part_b, min_visibility)
    if pa is None or pb is None:
        return math.nan, wa or wb
    return float(np.linalg.norm(pa - pb)) / unit, ""


def _depth_reason(detail: dict) -> str:
    sa, sb = detail["size_px"]
    if max(sa, sb) / min(sa, sb) > DEPTH_RATIO:
        return "they stand at different depths (body sizes %.0f and %.0f px)" % (sa, sb)
    return ""


def _hand_facts(ta, tb, frame, persons, unit, detail, mv) -> list[PairFact]:
    hands = ("left_hand", "right_hand")
    dists, missing = {}, []
    for ha in hands:
        pa, wa = point(ta, frame, ha, mv)
        if pa is None:
            missing.append(f"person {persons[0]}: {wa}")
            continue
        for hb in hands:
            pb, wb = point(tb, frame, hb, mv)
            if pb is None:
                missing.append(f"person {persons[1]}: {wb}")
                continue
            dists[(ha, hb)] = float(np.linalg.norm(pa - pb)) / unit
    missing = list(dict.fromkeys(missing))
    f0 = frame
    if not dists:
        return [_unknown("hands_distance", persons, f0, "; ".join(missing)),
                _unknown("hands_touch", persons, f0, "; ".join(missing))]
    (ha, hb), near = min(dists.items(), key=lambda kv: kv[1])
    d = dict(detail, hands=[ha, hb])
    out = [PairFact("hands_distance", tuple(persons), f0, f0 + 1, True, "measured", near,
                    detail=d)]
    depth = _depth_reason(detail)
    if near <= TOUCH and not depth:
        out.append(PairFact("hands_touch", tuple(persons), f0, f0 + 1, True, "touch", near,
                            detail=d))
    elif near >= APART and not missing:
        out.append(PairFact("hands_touch", tuple(persons), f0, f0 + 1, False, "apart", near,
                            detail=d))
    else:
        if near <= TOUCH:
            why = depth
        elif near >= APART:
            why = "; ".join(missing)
        else:
            why = f"the nearest hands are {near:.2f} {UNIT} apart, between touching and apart"
        out.append(PairFact("hands_touch", tuple(persons), f0, f0 + 1, None, value=near,
                            reason=why, detail=d))
    return out


def _hand_on_body(ta, tb, frame, persons, unit, detail, mv) -> PairFact:
    """A hand of ``ta`` on the torso or head of ``tb``."""
    outline = _outline(tb, frame, mv)
    head, _ = point(tb, frame, "head", mv)
    if outline is None:
        return _unknown("hand_on_body", persons, frame, f"person {persons[1]}: torso not visible")
    best, which, missing = math.inf, "", []
    for h in ("left_hand", "right_hand"):
        p, why = point(ta, frame, h, mv)
        if p is None:
            missing.append(f"person {persons[0]}: {why}")
            continue
        d = _to_polygon(p, outline) / unit
        if head is not None:
            d = min(d, max(0.0, float(np.linalg.norm(p - head)) / unit - HEAD_RADIUS))
        if d < best:
            best, which = d, h
    if not math.isfinite(best):
        return _unknown("hand_on_body", persons, frame, "; ".join(missing))
    det = dict(detail, hand=which)
    depth = _depth_reason(detail)
    if best <= BODY_TOUCH and not depth:
        return PairFact("hand_on_body", tuple(persons), frame, frame + 1, True, "touch", best,
                        detail=det)
    if best >= BODY_APART and not missing and head is not None:
        return PairFact("hand_on_body", tuple(persons), frame, frame + 1, False, "apart", best,
                        detail=det)
    if best <= BODY_TOUCH:
        why = depth
    elif best >= BODY_APART:
        why = "; ".join(missing) or f"person {persons[1]}: head not visible"
    else:
        why = f"the nearest hand is {best:.2f} {UNIT} from the body, between touching and apart"
    return PairFact("hand_on_body", tuple(persons), frame, frame + 1, None, value=best,
                    reason=why, detail=det)


def _facing(ta, tb, frame, persons, mv) -> PairFact:
    ca, _ = point(ta, frame, "torso", mv)
    cb, _ = point(tb, frame, "torso", mv)
    if ca is None or cb is None:
        return _unknown("facing", persons, frame, "torso not visible")
    side = float(np.sign(cb[0] - ca[0]))       # where B stands seen from A (+1: right)
    if side == 0:
        return _unknown("facing", persons, frame, "one stands right behind the other")
    heads = []
    for p, t in zip(persons, (ta, tb)):
        h, why = _heading(t, frame, mv)
        if not math.isfinite(h):
            return _unknown("facing", persons, frame, f"person {p}: {why}")
        heads.append(h)
    detail = {"heading": [round(h, 3) for h in heads], "b_side": "right" if side > 0 else "left"}
    for p, h in zip(persons, heads):
        if abs(h) < FACING:
            return _unknown("facing", persons, frame,
                            f"person {p} faces along the camera axis (towards or away from it), "
                            "so which side they face is unclear", **detail)
    toward_a, toward_b = heads[0] * side > 0, heads[1] * -side > 0
    if toward_a and toward_b:
        label, state = "face each other", True
    elif not toward_a and not toward_b:
        label, state = "face away from each other", False
    else:
        label, state = "face the same way", False
    return PairFact("facing", tuple(persons), frame, frame + 1, state, label,
                    min(abs(h) for h in heads), unit="sin", detail=detail)


def _higher(ta, tb, frame, persons, unit, mv) -> PairFact:
    ca, wa = point(ta, frame, "torso", mv)
    cb, wb = point(tb, frame, "torso", mv)
    if ca is None or cb is None:
        return _unknown("higher", persons, frame, wa or wb)
    diff = float(cb[1] - ca[1]) / unit     # picture y points down: positive = A higher
    if diff >= HIGHER:
        return PairFact("higher", tuple(persons), frame, frame + 1, True, "a", diff)
    if diff <= -HIGHER:
        return PairFact("higher", tuple(persons), frame, frame + 1, False, "b", diff)
    if abs(diff) <= LEVEL:
        return PairFact("higher", tuple(persons), frame, frame + 1, False, "level", diff)
    return PairFact("higher", tuple(persons), frame, frame + 1, None, value=diff,
                    reason=f"their heights differ by {abs(diff):.2f} {UNIT}, "
                           "between level and clearly higher")


KINDS = ("hands_distance", "hands_touch", "hand_on_body", "facing", "higher")


@judged_once
def pair_facts(ta, tb, frame: int, persons=(0, 1), min_visibility=None,
               steady: bool = True) -> list[PairFact]:
    """Every one-frame fact between A (``ta``) and B (``tb``) on ``frame``: hands distance
    and touch, A's hand on B's body, B's hand on A's body, facing, higher.

    With ``steady`` a determinate fact must come out the same on the frames within
    ``STEADY_S`` on either side (those the clip has); a joint that flickers into place
    for one frame (MediaPipe places hidden hands somewhere) makes it cannot-tell."""
    facts = _frame_facts(ta, tb, frame, persons, min_visibility)
    if not steady:
        return facts
    fps = float(getattr(ta, "fps", 0) or 0)
    k = max(1, int(round(STEADY_S * fps)))
    n = min(len(ta.image), len(tb.image))
    around = [_frame_facts(ta, tb, g, persons, min_visibility)
              for g in range(frame - k, frame + k + 1) if g != frame and 0 <= g < n]
    out = []
    for f in facts:
        if f.known and f.kind != "hands_distance":
            for other in around:
                g = find(other, f.kind, f.persons)
                if g is None or (g.state, g.label) != (f.state, f.label):
                    where = g.start if g is not None else frame
                    f = PairFact(f.kind, f.persons, f.start, f.end, None, value=f.value,
                                 unit=f.unit, detail=f.detail,
                                 reason=f"not steady: frame {where} "
                                        f"{'cannot tell' if g is None or not g.known else g.label}")
                    break
        out.append(f)
    return out


def _frame_facts(ta, tb, frame, persons, min_visibility) -> list[PairFact]:
    mv = _min_vis(min_visibility)
    persons = tuple(int(p) for p in persons)
    unit, why, detail = _pair_state(ta, tb, frame, persons, mv)
    if why:
        kinds = ("hands_distance", "hands_touch", "hand_on_body", "hand_on_body", "facing",
                 "higher")
        pairs = [persons, persons, persons, persons[::-1], persons, persons]
        return [_unknown(k, p, frame, why) for k, p in zip(kinds, pairs)]
    return [*_hand_facts(ta, tb, frame, persons, unit, detail, mv),
            _hand_on_body(ta, tb, frame, persons, unit, detail, mv),
            _hand_on_body(tb, ta, frame, persons[::-1], unit, detail, mv),
            _facing(ta, tb, frame, persons, mv),
            _higher(ta, tb, frame, persons, unit, mv)]


def find(facts, kind: str, persons=None) -> Optional[PairFact]:
    for f in facts:
        if f.kind == kind and (persons is None or tuple(f.persons) == tuple(persons)):
            return f
    return None


# -- a window ----------------------------------------------------------------------------
@judged_once
def centre_distances(ta, tb, start: int, end: int, min_visibility=None) -> np.ndarray:
    """Per frame of [start, end): torso-centre distance in torso lengths (NaN unusable)."""
    mv = _min_vis(min_visibility)
    out = np.full(max(0, end - start), np.nan)
    for i, f in enumerate(range(start, end)):
        unit, why, _ = _pair_state(ta, tb, f, ("A", "B"), mv)
        if why:
            continue
        ca, _ = point(ta, f, "torso", mv)
        cb, _ = point(tb, f, "torso", mv)
        if ca is not None and cb is not None:
            out[i] = float(np.linalg.norm(ca - cb)) / unit
    return out


@judged_once
def approach_fact(ta, tb, start: int, end: int, persons=(0, 1),
                  min_visibility=None) -> PairFact:
    """Do A and B move closer together over [start, end)?  True: closer; False: further
    apart or keep their distance (``label``); None: cannot tell."""
    persons = tuple(int(p) for p in persons)
    n = end - start
    if n < 4:
        return PairFact("approach", persons, start, end, None, reason="the window is too short")
    d = centre_distances(ta, tb, start, end, min_visibility)
    seen = np.isfinite(d)
    q = max(1, n // 4)
    if seen.mean() < MIN_SEEN or not seen[:q].any() or not seen[-q:].any():
        return PairFact("approach", persons, start, end, None,
                        reason=f"both people are usable on only {int(seen.sum())} of {n} frames")
    first, last = float(np.nanmedian(d[:q])), float(np.nanmedian(d[-q:]))
    change = last - first
    swing = float(np.nanpercentile(d, 90) - np.nanpercentile(d, 10))
    detail = {"first": round(first, 3), "last": round(last, 3), "swing": round(swing, 3),
              "seen": int(seen.sum())}
    if change <= -MOVE:
        return PairFact("approach", persons, start, end, True, "closer", change, detail=detail)
    if change >= MOVE:
        return PairFact("approach", persons, start, end, False, "apart", change, detail=detail)
    if abs(change) <= STILL and swing <= STILL_SWING:
        return PairFact("approach", persons, start, end, False, "same", change, detail=detail)
    return PairFact("approach", persons, start, end, None, value=change, detail=detail,
                    reason=f"the distance changes by {change:+.2f} {UNIT}, "
                           "too little to call a move and too much to call it kept")


def left_first(tracks: Mapping[int, object], a: int, b: int, start: int,
               end: int) -> tuple[int, int]:
    """(a, b) ordered so that the one further left in the picture over [start, end)
    comes first (as text names them)."""
    from .referents import centres  # noqa: PLC0415

    xs = centres({a: tracks[a], b: tracks[b]}, start, end)
    if np.isfinite(xs[a]).any() and np.isfinite(xs[b]).any() and \
            float(np.nanmean(xs[a])) > float(np.nanmean(xs[b])):
        return b, a
    return a, b


# -- text --------------------------------------------------------------------------------
def _hand_phrase(hand: str) -> str:
    return hand.replace("_", " ")


@judged_once
def describe_pair(tracks: Mapping[int, object], a: int, b: int, frame: int,
                  min_visibility=None) -> str:
    """What can be told about persons ``a`` and ``b`` on ``frame``, naming them by their
    place in the picture (``models.describe.referents``); a line saying why not when
    either cannot be named unambiguously."""
    from .referents import capitalised, referents  # noqa: PLC0415

    if a not in tracks or b not in tracks:
        missing = a if a not in tracks else b
        return f"Cannot tell: there is no person {missing} in this clip."
    names = referents(tracks, frame, frame + 1)
    na, nb = names.get(a), names.get(b)
    if na is None or nb is None:
        who = a if na is None else b
        return (f"Cannot tell which person is which: person {who} cannot be named by their "
                "place in the picture on this frame (not seen, too close to another person "
                "or crossing).")
    if left_first(tracks, a, b, frame, frame + 1) != (a, b):   # the left one is named first
        a, b, na, nb = b, a, nb, na
    facts = pair_facts(tracks[a], tracks[b], frame, (a, b), min_visibility)
    both = f"{na} and {nb}"
    said, unclear = [], []      # (clause opening the sentence, clause following another)
    f = find(facts, "facing")
    if f is not None and f.known:
        verb = {"face each other": "face each other",
                "face away from each other": "face away from each other",
                "face the same way": "face the same way"}[f.label]
        said.append((f"{both} {verb}", f"they {verb}"))
    elif f is not None:
        unclear.append(f"whether they face each other ({f.reason})")
    f = find(facts, "hands_touch")
    if f is not None and f.known:
        verb = "touch" if f.state else "do not touch"
        said.append((f"the hands of {both} {verb}", f"their hands {verb}"))
    elif f is not None:
        unclear.append(f"whether their hands touch ({f.reason})")
    for x, y, nx, ny in ((a, b, na, nb), (b, a, nb, na)):
        f = find(facts, "hand_on_body", (x, y))
        if f is not None and f.state:
            text = f"the {_hand_phrase(f.detail['hand'])} of {nx} touches {ny}"
            said.append((text, text))
    f = find(facts, "higher")
    if f is not None and f.known:
        text = {"a": f"{na} is higher in the picture than {nb}",
                "b": f"{nb} is higher in the picture than {na}",
                "level": f"{both} are at about the same height in the picture"}[f.label]
        said.append((text, text.replace(both, "they")))
    elif f is not None:
        unclear.append(f"who is higher in the picture ({f.reason})")
    lines = []
    if said:
        lines.append(capitalised("; ".join([said[0][0], *(s[1] for s in said[1:])])) + ".")
    f = find(facts, "hands_distance")
    if f is not None and f.known:
        lines.append(f"Their nearest hands are {f.value:.2f} {UNIT} apart.")
    if unclear:
        lines.append("Cannot tell " + "; ".join(unclear) + ".")
    return "\n".join(lines) if lines else \
        f"Nothing can be told about {both} on this frame."
