"""Texts for the proxy tasks from pose tracks, through the rule-based describers:
``pose_descriptions`` (models/describe) for frames sampled evenly over each clip and
``spatial_differences`` (models/diff) for the items' frame pairs and consecutive samples.
Both return plain dicts for ``ExportOptions.extra`` (see proxy.py)."""
from __future__ import annotations

import numpy as np

NO_CHANGE = "No visible change."


def sample_pose_frames(track, per_clip: int) -> list[int]:
    present = np.flatnonzero(track.has_pose)
    if len(present) == 0:
        return []
    picks = np.linspace(0, len(present) - 1, num=min(per_clip, len(present))).round().astype(int)
    return [int(present[i]) for i in sorted(set(picks))]


def pose_descriptions(tracks, per_clip: int = 8) -> list[dict]:
    from ..describe import describe, pose_facts  # noqa: PLC0415

    out = []
    for video, track in tracks:
        for f in sample_pose_frames(track, per_clip):
            text = describe(pose_facts(track, f))
            if text and text != "No person is visible." and not text.startswith("The 3-D pose"):
                out.append({"video": video, "frame": f, "text": text})
    return out


def _pairs(video, track, records, per_clip: int) -> list[tuple[int, int]]:
    pairs = {(int(r.frame_a), int(r.frame_b)) for r in records
             if r.video == video and r.frame_a is not None and r.frame_b is not None}
    picks = sample_pose_frames(track, per_clip)
    pairs |= set(zip(picks[:-1], picks[1:]))
    ok = track.has_pose
    return sorted((a, b) for a, b in pairs if 0 <= a < len(ok) and 0 <= b < len(ok)
                  and ok[a] and ok[b] and a != b)


def spatial_differences(tracks, records=(), per_clip: int = 8) -> list[dict]:
    from ..diff import describe_diff, diff_facts  # noqa: PLC0415

    out = []
    for video, track in tracks:
        for a, b in _pairs(video, track, records, per_clip):
            text = describe_diff(diff_facts(track.world[a], track.world[b], a, b))
            if text and text != NO_CHANGE:
                out.append({"video": video, "frame_a": a, "frame_b": b, "text": text})
    return out
