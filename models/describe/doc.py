"""The document of one described frame: what ``describe --json`` prints, the dataset
engine's ``describe`` stage returns and the gold-set scorer (``models.truth``) judges.

``frame_doc(track, video, frame, min_visibility=None, subject="the person") -> (text, doc)``
(``subject``: how the text names the person, see ``text.describe``): every frame gets a
top-level ``reliable`` judgement and its ``reasons`` (``models.pose.reliability``); an
unreliable frame, one without a pose included, asserts no facts and its text says why.
An out-of-range frame raises ``DescribeError``.
"""
from __future__ import annotations

from typing import Optional


def time_s(track, frame: int) -> Optional[float]:
    """Presentation time of ``frame`` (seconds), None when the track has no clock."""
    if not track.fps and track.times is None:
        return None
    return round(track.time_of(frame), 3)


def frame_doc(track, video: str, frame: int, min_visibility=None,
              subject: str = "the person") -> tuple[str, dict]:
    """(text, JSON document) of one frame of ``track`` (see the module docstring)."""
    from ..pose.reliability import frame_reliability  # noqa: PLC0415
    from .build import DescribeError, pose_facts  # noqa: PLC0415
    from .text import describe, not_described  # noqa: PLC0415

    if not 0 <= frame < len(track):
        raise DescribeError(f"Frame {frame} is out of range: {video} has {len(track)} frames.")
    ok, reasons = frame_reliability(track, frame)
    doc = {"video": video, "frame": frame, "time_s": time_s(track, frame),
           "backend": track.backend, "reliable": ok, "reasons": reasons}
    if not ok:
        doc.update(unknown_parts=[], facts=[])
        return not_described(reasons[0]["text"], subject), doc
    facts = pose_facts(track, frame, min_visibility)
    doc["unknown_parts"] = [f.parts[0] for f in facts if f.kind == "unknown"]
    doc["facts"] = [f.to_dict() for f in facts]
    return describe(facts, subject), doc
