"""Vectorised measurements on body-frame points: one numpy pass per measurement type.

API
---
``Plan`` (cached via ``plan()``): index arrays compiled once from the configuration.
``measure(points, yaw) -> (values, vis)``: ``points`` (frames, 33, 4) in the body frame
(see ``models.body``), ``yaw`` (frames,). Returns ``values`` (frames, M) in the
measurement's unit and ``vis`` (frames, M) = the lowest visibility of the joints each
value rests on; M = ``len(config.measures())``, same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..geometry import angle_at
from .config import Measure, measures, part_joints

N_JOINTS = 33
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
        plan_parts[name] = N_JOINTS + len(virtual)
        virtual.append((plan_parts[name], joints))
    return plan_parts[name]


@lru_cache(maxsize=None)
def plan() -> Plan:
    specs = measures()
    parts: dict = {}
    virtual: list = []
    cols = {}
    for m in specs:
        names = list(m.joints) + [n for n in (m.a, m.b, m.frm, m.to, m.part) if n]
        cols[m.id] = [_col(parts, virtual, n) for n in names]
    by_type: dict = {}
    for pos, m in enumerate(specs):
        by_type.setdefault(m.type, []).append(pos)
    by_type = {t: np.array(p) for t, p in by_type.items()}
    rest = [sorted(set(j for n in cols[m.id] for j in _joints_of(n, virtual))) for m in specs]
    k = max(len(r) for r in rest)
    vis_idx = np.array([r + [r[0]] * (k - len(r)) for r in rest])
    return Plan(specs, parts, virtual, by_type, vis_idx)


def _joints_of(col: int, virtual: list) -> tuple:
    if col < N_JOINTS:
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
    return angle_at(p[:, a], p[:, b], p[:, c])


def _distances(p, specs, pos, col):
    a = np.array([col(specs[i].a) for i in pos])
    b = np.array([col(specs[i].b) for i in pos])
    return np.linalg.norm(p[:, a] - p[:, b], axis=-1)


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


def _ground(p, vis, specs, pos, col, min_vis):
    y = np.where(vis[:, :N_JOINTS] >= min_vis, p[:, :N_JOINTS, 1], np.inf)
    low = y.min(axis=1)
    feet_seen = (vis[:, 27:33] >= min_vis).any(axis=1)   # no visible foot: ground unknown
    low = np.where(np.isinf(low) | ~feet_seen, np.nan, low)
    c = np.array([col(specs[i].part) for i in pos])
    return p[:, c, 1] - low[:, None]


def _torso(p, col, kind):
    sh = p[:, col("shoulders")]
    hips = p[:, col("hips")]
    t = sh - hips
    if kind in ("lean_fb", "lean_lr"):
        t = np.where((t[:, 1] < -0.2 * np.linalg.norm(t, axis=1))[:, None], np.nan, t)  # inverted torso: no lean
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
    fns = {"angle": _angles, "distance": _distances, "relative": _relative,
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
