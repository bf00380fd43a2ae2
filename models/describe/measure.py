"""Vectorised measurements on body-frame points: one numpy pass per measurement type.

API
---
``Plan`` (cached via ``plan()``): index arrays compiled once from the configuration.
``measure(points, yaw) -> (values, vis)``: ``points`` (frames, joints, 4) in the body frame
(see ``models.body``), ``yaw`` (frames,). Returns ``values`` (frames, M) in the
measurement's unit and ``vis`` (frames, M) = the lowest visibility of the joints each
value rests on; M = ``len(config.measures())``, same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..geometry import angle_at
from ..pose.skeleton import blazepose
from .config import Measure, measures, part_joints

FEET = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index",
        "right_foot_index")


def n_joints() -> int:
    """Joints of the BlazePose skeleton the measures are defined on; the extended point
    array appends averaged parts after them."""
    return blazepose().n


def _feet() -> list[int]:
    return [blazepose().index(name) for name in FEET]

AXES = {"x": 0, "y": 1, "z": 2}


@dataclass
class Plan:
    specs: tuple[Measure, ...]
    part_index: dict            # part name -> column in the extended point array
    virtual: list               # (column, joint tuple) of parts that average joints
    by_type: dict               # type -> (measure positions, index arrays...)
    vis_idx: np.ndarray         # (M, k) extended columns each value rests on (padded)


def _col(plan_parts: dict, virtual: list, name: str) -> int:
    joints = part_joints(name)
    if len(joints) == 1:
        return joints[0]
    if name not in plan_parts:
        plan_parts[name] = n_joints() + len(virtual)
        virtual.append((plan_parts[name], joints))
    return plan_parts[name]


@lru_cache(maxsize=None)
def plan() -> Plan:
    specs = measures()
    parts: dict = {}
    virtual: list = []
    cols = {}
    for m in specs:
        cols[m.id] = [_col(parts, virtual, n) for n in m.names()]
    by_type: dict = {}
    for pos, m in enumerate(specs):
        by_type.setdefault(m.type, []).append(pos)
    by_type = {t: np.array(p) for t, p in by_type.items()}
    rest = [sorted(set(j for n in cols[m.id] for j in _joints_of(n, virtual))) for m in specs]
    k = max(len(r) for r in rest)
    vis_idx = np.array([r + [r[0]] * (k - len(r)) for r in rest])
    return Plan(specs, parts, virtual, by_type, vis_idx)


def _joints_of(col: int, virtual: list) -> tuple:
    if col < n_joints():
        return (col,)
    return dict(virtual)[col]


def _extend(points: np.ndarray, virtual: list) -> tuple[np.ndarray, np.ndarray]:
    """Append averaged virtual parts (xyz) and their visibility (min) as extra columns."""
    xyz = points[..., :3]
    vis = points[..., 3] if points.shape[-1] > 3 else np.ones(points.shape[:2])
    if not virtual:
        return xyz, vis
    extra = np.stack([xyz[:, list(j)].mean(axis=1) for _, j in virtual], axis=1)
    extra_v = np.stack([vis[:, list(j)].min(axis=1) for _, j in virtual], axis=1)
    return np.concatenate([xyz, extra], axis=1), np.concatenate([vis, extra_v], axis=1)


def _angles(p, specs, pos, col):
    a, b, c = (np.array([col(specs[i].joints[k]) for i in pos]) for k in range(3))
    inner = angle_at(p[:, a], p[:, b], p[:, c])
    signed = np.array([specs[i].group in SAGITTAL for i in pos])
    if not signed.any():
        return inner
    side = np.array([0 if specs[i].side == "left" else 1 for i in pos])
    hip, sh = np.array([L_HIP, R_HIP])[side], np.array([L_SH, R_SH])[side]
    phi, in_plane = sagittal_angle(p[:, sh], p[:, hip], p[:, c] - p[:, b])
    ext = in_plane & (phi <= -EXTENSION_MIN) & (phi >= -EXTENSION_MAX)
    out = np.where(signed & ext, 360.0 - inner, inner)
    # a hip bent mostly sideways (abduction) is neither flexed nor extended: no claim
    hips = np.array([specs[i].group == "hip_angle" for i in pos])
    unclear = hips & ~ext & ((np.abs(phi) < EXTENSION_MIN) | ~in_plane) & (inner < STRAIGHT)
    return np.where(unclear, np.nan, out)


# Hip and shoulder: flexion (the limb swings forward of the torso line) is told apart from
# extension (behind it) by the signed angle in the body's sagittal (y-z) plane.
SAGITTAL = ("hip_angle", "shoulder_angle")
EXTENSION_MIN, EXTENSION_MAX, STRAIGHT = 15.0, 150.0, 160.0
L_SH, R_SH, L_HIP, R_HIP = 11, 12, 23, 24


def sagittal_angle(shoulder, hip, limb):
    """Signed angle (deg) from the downward torso line (shoulder -> hip) to ``limb`` in the
    body's sagittal plane; + = forward (flexion), - = backward (extension). ``in_plane`` is
    False where the limb's sagittal projection is under half its length (it points sideways)."""
    ref = hip - shoulder
    ay, az, by, bz = ref[..., 1], ref[..., 2], limb[..., 1], limb[..., 2]
    with np.errstate(invalid="ignore"):
        phi = np.degrees(np.arctan2(az * by - ay * bz, az * bz + ay * by))
        in_plane = np.hypot(by, bz) >= 0.5 * np.linalg.norm(limb, axis=-1)
    return phi, in_plane


def shoulder_width(p, vis, min_vis):
    """3-D distance between the shoulders per frame (NaN unless both are visible)."""
    w = np.linalg.norm(p[:, L_SH] - p[:, R_SH], axis=-1)
    seen = np.minimum(vis[:, L_SH], vis[:, R_SH]) >= min_vis
    return np.where(seen & (w > 1e-6), w, np.nan)


def _distances(p, specs, pos, col, sw):
    a = np.array([col(specs[i].a) for i in pos])
    b = np.array([col(specs[i].b) for i in pos])
    with np.errstate(invalid="ignore"):
        return np.linalg.norm(p[:, a] - p[:, b], axis=-1) / sw[:, None]


def _relative(p, specs, pos, col):
    a = np.array([col(specs[i].a) for i in pos])
    b = np.array([col(specs[i].b) for i in pos])
    ax = np.array([AXES[specs[i].axis] for i in pos])
    return p[:, a, ax] - p[:, b, ax]


def _orientation(p, specs, pos, col):
    f = np.array([col(specs[i].frm) for i in pos])
    t = np.array([col(specs[i].to) for i in pos])
    v = p[:, t] - p[:, f]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = v[..., 1] / np.linalg.norm(v, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def _tilts() -> np.ndarray:
    """Candidate floor normals: up (+y) tilted by up to FLOOR_TILT_MAX about x and z."""
    t = np.radians(np.arange(-FLOOR_TILT_MAX, FLOOR_TILT_MAX + 1e-9, FLOOR_TILT_STEP))
    a, b = np.meshgrid(t, t, indexing="ij")
    n = np.stack([np.sin(b) * np.cos(a), np.cos(a) * np.cos(b), np.sin(a)], axis=-1).reshape(-1, 3)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    order = np.argsort((a ** 2 + b ** 2).ravel(), kind="stable")   # least tilt first
    return n[order]


FLOOR_TILT_MAX, FLOOR_TILT_STEP, FLOOR_CONTACT, FLOOR_TILT_BASE = 20.0, 5.0, 0.08, 1.0


def floor_heights(p, vis, min_vis):
    """Height (m) of every joint above the estimated floor, (frames, joints); NaN without a floor.

    The floor is the plane, tilted at most ``FLOOR_TILT_MAX`` degrees from the camera's
    horizontal (a tilted camera or a sloped mat), that lies under every visible joint and
    touches the most of them (within ``FLOOR_CONTACT``); ties go to the least tilt. It is
    only estimated when a foot is visible (a cropped person has no known floor). A tilted
    plane must rest on contacts at least ``FLOOR_TILT_BASE`` metres apart."""
    xyz = p[:, :n_joints(), :3]
    seen = vis[:, :n_joints()] >= min_vis
    n = _tilts()
    with np.errstate(invalid="ignore"):
        h = np.einsum("fjk,nk->fnj", np.nan_to_num(xyz), n)             # (frames, normals, joints)
    h = np.where(seen[:, None, :], h, np.inf)
    low = h.min(axis=2, keepdims=True)
    with np.errstate(invalid="ignore"):
        touch = (h - low) <= FLOOR_CONTACT                                # (frames, normals, joints)
    # a tilt is only believed when its contacts span a long base (a lying body, a wide
    # stance): two feet close together cannot tell a sloped floor from a lifted foot
    lo = np.where(touch[..., None], xyz[:, None], np.inf).min(axis=2)
    hi = np.where(touch[..., None], xyz[:, None], -np.inf).max(axis=2)
    with np.errstate(invalid="ignore"):
        base = np.linalg.norm(np.nan_to_num(hi - lo, posinf=0.0, neginf=0.0), axis=-1)
    contacts = np.where((base >= FLOOR_TILT_BASE) | (np.arange(len(n)) == 0), touch.sum(axis=2), -1)
    best = contacts.argmax(axis=1)                                        # first = least tilt
    rows = np.arange(len(xyz))
    out = np.einsum("fjk,fk->fj", xyz, n[best]) - low[rows, best]
    feet_seen = seen[:, _feet()].any(axis=1)
    return np.where(feet_seen[:, None] & np.isfinite(low[rows, best]), out, np.nan)


def _ground(p, vis, specs, pos, col, min_vis):
    """Height above the floor of each part's lowest visible joint (a foot rests on its heel
    or toe, the hips on the lower hip joint)."""
    h = floor_heights(p, vis, min_vis)
    h = np.where(vis[:, :n_joints()] >= min_vis, h, np.nan)
    out = np.full((len(p), len(pos)), np.nan)
    for k, i in enumerate(pos):
        joints = list(part_joints(specs[i].part))
        if specs[i].part.endswith("_foot"):
            joints = [j for j in joints if j not in (27, 28)] or joints    # heel and toe
        low = np.where(np.isnan(h[:, joints]), np.inf, h[:, joints]).min(axis=1)
        out[:, k] = np.where(np.isinf(low), np.nan, low)
    return out


def _torso(p, col, kind):
    sh = p[:, col("shoulders")]
    hips = p[:, col("hips")]
    t = sh - hips
    if kind in ("lean_fb", "lean_lr"):
        # an inverted torso has no lean
        t = np.where((t[:, 1] < -0.2 * np.linalg.norm(t, axis=1))[:, None], np.nan, t)
    if kind == "lean_fb":
        return np.degrees(np.arctan2(t[:, 2], t[:, 1]))
    if kind == "lean_lr":
        return np.degrees(np.arctan2(t[:, 0], t[:, 1]))
    s = p[:, 11] - p[:, 12]
    return np.degrees(np.arctan2(-s[:, 2], s[:, 0]))


def measure(points: np.ndarray, yaw: np.ndarray, min_visibility: float = 0.5):
    pl = plan()
    for name in ("shoulders", "hips"):
        _col(pl.part_index, pl.virtual, name)
    p, vis = _extend(np.asarray(points, dtype=np.float64), pl.virtual)
    col = lambda n: _col(pl.part_index, pl.virtual, n)  # noqa: E731
    frames, specs = p.shape[0], pl.specs
    values = np.full((frames, len(specs)), np.nan)
    sw = shoulder_width(p, vis, min_visibility)
    fns = {"angle": _angles, "distance": lambda p, s, pos, c: _distances(p, s, pos, c, sw),
           "relative": _relative,
           "orientation": _orientation}
    for kind, pos in pl.by_type.items():
        if kind in fns:
            values[:, pos] = fns[kind](p, specs, pos, col)
        elif kind == "ground":
            values[:, pos] = _ground(p, vis, specs, pos, col, min_visibility)
        elif kind == "turn":
            values[:, pos] = np.asarray(yaw, dtype=np.float64).reshape(-1, 1)
        else:
            values[:, pos] = _torso(p, col, kind)[:, None]
    return values, vis[:, pl.vis_idx].min(axis=2)
