"""Synthetic BlazePose poses from known geometry (tests, benchmarks, demos).

API
---
``SynthPose()``: a person standing upright facing the camera, arms hanging, in the body
frame (x = person's left, y = up, z = forward; metres, hips centre at the origin).
``p.set(joint, xyz)`` moves one joint (wrists/ankles carry their hand/foot points);
``p.bend(joint, degrees)`` sets an elbow/knee angle by swinging the distal segment in the
sagittal plane; ``p.raise_arm(side)`` points the whole arm straight up;
``p.world(yaw=0, shift=(0,0,0))`` returns (joints, 4) MediaPipe world landmarks (y down,
z away from the camera, visibility 0.99), optionally turned by ``yaw`` degrees to the
person's left and translated. ``track(poses)`` stacks worlds into (frames, joints, 4).
"""
from __future__ import annotations

import numpy as np

from ..body import rotate_about_vertical
from ..pose.skeleton import blazepose

_BASE = {
    "nose": (0, 0.72, 0.08), "left_eye_inner": (0.015, 0.75, 0.075), "left_eye": (0.03, 0.75, 0.07),
    "left_eye_outer": (0.045, 0.75, 0.065), "right_eye_inner": (-0.015, 0.75, 0.075),
    "right_eye": (-0.03, 0.75, 0.07), "right_eye_outer": (-0.045, 0.75, 0.065),
    "left_ear": (0.075, 0.73, 0.0), "right_ear": (-0.075, 0.73, 0.0),
    "mouth_left": (0.02, 0.68, 0.07), "mouth_right": (-0.02, 0.68, 0.07),
    "left_shoulder": (0.18, 0.5, 0), "right_shoulder": (-0.18, 0.5, 0),
    "left_elbow": (0.18, 0.22, 0), "right_elbow": (-0.18, 0.22, 0),
    "left_wrist": (0.18, -0.04, 0), "right_wrist": (-0.18, -0.04, 0),
    "left_pinky": (0.2, -0.12, 0), "right_pinky": (-0.2, -0.12, 0),
    "left_index": (0.18, -0.13, 0.02), "right_index": (-0.18, -0.13, 0.02),
    "left_thumb": (0.16, -0.09, 0.03), "right_thumb": (-0.16, -0.09, 0.03),
    "left_hip": (0.1, 0, 0), "right_hip": (-0.1, 0, 0),
    "left_knee": (0.105, -0.45, 0), "right_knee": (-0.105, -0.45, 0),
    "left_ankle": (0.11, -0.9, 0), "right_ankle": (-0.11, -0.9, 0),
    "left_heel": (0.11, -0.95, -0.05), "right_heel": (-0.11, -0.95, -0.05),
    "left_foot_index": (0.11, -0.97, 0.12), "right_foot_index": (-0.11, -0.97, 0.12),
}
_CARRY = {"wrist": ("pinky", "index", "thumb"), "ankle": ("heel", "foot_index")}
_CHAIN = {"elbow": ("shoulder", "wrist", 1.0), "knee": ("hip", "ankle", -1.0)}


class SynthPose:
    def __init__(self) -> None:
        sk = blazepose()
        self.sk = sk
        self.p = np.array([_BASE[n] for n in sk.joints], dtype=np.float64)
        self.vis = np.full(sk.n, 0.99)

    def copy(self) -> "SynthPose":
        out = SynthPose()
        out.p, out.vis = self.p.copy(), self.vis.copy()
        return out

    def get(self, name: str) -> np.ndarray:
        return self.p[self.sk.index(name)].copy()

    def set(self, name: str, xyz) -> "SynthPose":
        i = self.sk.index(name)
        delta = np.asarray(xyz, dtype=np.float64) - self.p[i]
        self.p[i] += delta
        side, _, kind = name.partition("_")
        for c in _CARRY.get(kind, ()):
            self.p[self.sk.index(f"{side}_{c}")] += delta
        return self

    def move(self, name: str, delta) -> "SynthPose":
        return self.set(name, self.get(name) + np.asarray(delta, dtype=np.float64))

    def bend(self, joint: str, degrees: float) -> "SynthPose":
        """Set the angle at an elbow/knee, swinging the distal segment forward (elbow) or
        back (knee) in the plane of the proximal segment and the z axis."""
        side, kind = joint.split("_", 1)
        prox, dist, sign = _CHAIN[kind]
        b = self.get(joint)
        u = self.get(f"{side}_{prox}") - b
        length = np.linalg.norm(self.get(f"{side}_{dist}") - b)
        u /= np.linalg.norm(u)
        w = np.array([0, 0, sign]) - u * (u[2] * sign)
        w /= np.linalg.norm(w)
        a = np.radians(degrees)
        return self.set(f"{side}_{dist}", b + length * (np.cos(a) * u + np.sin(a) * w))

    def raise_arm(self, side: str) -> "SynthPose":
        s = self.get(f"{side}_shoulder")
        self.set(f"{side}_elbow", s + (0, 0.28, 0))
        return self.set(f"{side}_wrist", s + (0, 0.54, 0))

    def world(self, yaw: float = 0.0, shift=(0, 0, 0)) -> np.ndarray:
        p = rotate_about_vertical(self.p[None], yaw)[0] if yaw else self.p.copy()
        p = p + np.asarray(shift, dtype=np.float64)
        p[:, 1] *= -1
        p[:, 2] *= -1
        return np.concatenate([p, self.vis[:, None]], axis=1)


def track(poses) -> np.ndarray:
    return np.stack([p.world() if isinstance(p, SynthPose) else p for p in poses])
