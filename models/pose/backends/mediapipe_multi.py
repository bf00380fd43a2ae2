"""Multi-person BlazePose through mediapipe's Tasks API ``PoseLandmarker``.

No model download: the ``.task`` bundle is assembled in memory from the two TFLite files
the wheel ships for the legacy API (``pose_detection.tflite`` -> ``pose_detector.tflite``,
``pose_landmark_full.tflite`` -> ``pose_landmarks_detector.tflite``), after adding the
image-normalisation metadata the Tasks graph requires, written with mediapipe's own
metadata writer. The landmarker runs in IMAGE mode on every frame: in VIDEO mode this
mediapipe release returned only one pose per frame, alternating between people.

``process_all`` returns every person; ``process`` returns the main subject (the largest
person on the first frame, then the person nearest the subject's last position, gated by
``SubjectGate`` so the track never jumps to somebody else).
"""
from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .mediapipe_pose import TORSO, SubjectGate, pose_box, torso_centre

# (wheel file, name inside the bundle, input normalisation mean, std)
_PARTS = (("pose_detection/pose_detection.tflite", "pose_detector.tflite", 127.5, 127.5),
          ("pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector.tflite", 0.0, 255.0))


def _with_image_metadata(model: bytes, mean: float, std: float) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer as mw  # noqa: PLC0415
    from mediapipe.tasks.python.metadata.metadata_writers import writer_utils  # noqa: PLC0415

    buf = bytearray(model)
    writer = mw.MetadataWriter.create(buf).add_general_info(
        "BlazePose", "Assembled by ActionArt Studio from the mediapipe wheel's own model")
    writer.add_image_input(norm_mean=[mean] * 3, norm_std=[std] * 3)
    for name in writer_utils.get_output_tensor_names(buf):
        writer.add_feature_output(name=name)
    out, _ = writer.populate()
    return bytes(out)


@lru_cache(maxsize=1)
def task_bundle() -> bytes:
    """The PoseLandmarker ``.task`` (a zip) built from the wheel's TFLite files."""
    import mediapipe as mp  # noqa: PLC0415

    modules = Path(mp.__file__).parent / "modules"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
        for src, name, mean, std in _PARTS:
            bundle.writestr(name, _with_image_metadata((modules / src).read_bytes(), mean, std))
    return out.getvalue()


def _array(landmarks) -> np.ndarray:
    return np.array([[p.x, p.y, p.z, p.visibility] for p in landmarks], dtype=np.float32)


class MediaPipeMultiPose:
    def __init__(self, settings: dict) -> None:
        import mediapipe as mp  # noqa: PLC0415
        from mediapipe.tasks.python import BaseOptions, vision  # noqa: PLC0415

        self._mp = mp
        self.settings = dict(settings)
        self.name = "mediapipe-multi"
        self.version = f"mediapipe {mp.__version__} / tasks PoseLandmarker (pose_landmark_full)"
        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=task_bundle()),
            running_mode=vision.RunningMode.IMAGE,
            num_poses=int(settings.get("num_poses", 4)),
            min_pose_detection_confidence=float(settings.get("min_detection_confidence", 0.5)),
            min_pose_presence_confidence=float(settings.get("min_presence_confidence", 0.5)))
        self._landmarker = vision.PoseLandmarker.create_from_options(opts)
        self.lock_subject = bool(settings.get("subject_lock", True))
        self.gate = SubjectGate(float(settings.get("subject_jump", 0.35)),
                                float(settings.get("subject_speed", 0.25)),
                                float(settings.get("subject_reacquire_s", 2.0)))

    def process_all(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list:
        """Every person on the frame: [(image (joints, 4), world (joints, 4)), ...]."""
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=np.ascontiguousarray(rgb))
        res = self._landmarker.detect(image)
        return [(_array(img), _array(world))
                for img, world in zip(res.pose_landmarks, res.pose_world_landmarks)]

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0):
        people = self.process_all(rgb, timestamp_ms)
        h, w = rgb.shape[:2]
        chosen = self._choose(people, w, h, timestamp_ms)
        if chosen is not None:
            self.gate.update(chosen[0], w, h, timestamp_ms)
        return chosen

    def _choose(self, people: list, w: int, h: int, timestamp_ms: int):
        if not people:
            return None
        if not self.lock_subject or self.gate.expired(timestamp_ms):
            areas = [np.prod(np.diff(pose_box(p[0], w, h).reshape(2, 2), axis=0)) for p in people]
            return people[int(np.argmax(areas))]
        assert self.gate.state is not None  # expired() is True while no subject is followed
        dists = [np.linalg.norm(torso_centre(p[0], w, h) - self.gate.state.centre) for p in people]
        best = people[int(np.argmin(dists))]
        return best if self.gate.accepts(best[0], w, h, timestamp_ms) else None

    def set_subject(self, image_pose: np.ndarray, width: int, height: int,
                    timestamp_ms: int) -> None:
        if not np.isnan(image_pose[list(TORSO), :2]).any():
            self.gate.update(image_pose, width, height, timestamp_ms)

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
        self._landmarker = None


def create(settings: dict) -> MediaPipeMultiPose:
    return MediaPipeMultiPose(settings)
