"""Declarative registry of pose backends.

A backend is data: id, label, the module and factory that build it, the Python packages
it needs, capabilities, default settings and an install hint. Availability is checked
with ``importlib.util.find_spec`` so nothing heavy is imported until a backend is used.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Optional, Protocol

import numpy as np

from ..errors import BackendUnavailable


class PoseEstimator(Protocol):
    """One opened estimator; used from one thread at a time."""

    name: str
    version: str

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """Return (image (joints, 4), world (joints, 4)) for the main subject, or None if no pose."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class PoseBackendSpec:
    id: str
    label: str
    module: str
    factory: str
    requires: tuple[str, ...]
    capabilities: frozenset = frozenset()
    defaults: dict = field(default_factory=dict)
    install_hint: str = ""

    def availability(self) -> tuple[bool, str]:
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"{self.label} needs {', '.join(missing)}: {self.install_hint}"
        return True, "available"

    def settings(self, overrides: Optional[dict] = None) -> dict:
        merged = dict(self.defaults)
        merged.update(overrides or {})
        return merged

    def create(self, settings: Optional[dict] = None) -> PoseEstimator:
        ok, why = self.availability()
        if not ok:
            raise BackendUnavailable(why)
        module = importlib.import_module(self.module)
        return getattr(module, self.factory)(self.settings(settings))


BACKENDS: dict[str, PoseBackendSpec] = {}


def register(spec: PoseBackendSpec) -> PoseBackendSpec:
    BACKENDS[spec.id] = spec
    return spec


DEFAULT_BACKEND = "mediapipe-full"

register(PoseBackendSpec(
    id="mediapipe-full",
    label="MediaPipe BlazePose (full)",
    module="models.pose.backends.mediapipe_pose",
    factory="create",
    requires=("mediapipe",),
    capabilities=frozenset({"single_person", "world_landmarks", "video_tracking"}),
    defaults={"model_complexity": 1, "min_detection_confidence": 0.5,
              "min_tracking_confidence": 0.5, "smooth_landmarks": True,
              "subject_lock": True},
    install_hint="pip install mediapipe==0.10.21",
))


register(PoseBackendSpec(
    id="mediapipe-multi",
    label="MediaPipe BlazePose multi-person (Tasks API, full model from the wheel)",
    module="models.pose.backends.mediapipe_multi",
    factory="create",
    requires=("mediapipe",),
    capabilities=frozenset({"multi_person", "world_landmarks"}),
    defaults={"num_poses": 4, "min_detection_confidence": 0.5,
              "min_presence_confidence": 0.5, "subject_lock": True},
    install_hint="pip install mediapipe==0.10.21",
))


def get(backend_id: str) -> PoseBackendSpec:
    try:
        return BACKENDS[backend_id]
    except KeyError:
        raise BackendUnavailable(f"Unknown pose backend '{backend_id}'; "
                                 f"known: {', '.join(sorted(BACKENDS))}") from None
