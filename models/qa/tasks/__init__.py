"""Per-task generators from pose facts; ``GENERATORS`` maps a taxonomy id to its module."""
from __future__ import annotations

from . import (body_part_pose, full_body_posture, movement_direction, relative_position,
               repetition_count, spatial_difference)

GENERATORS = {m.TASK: m for m in (body_part_pose, full_body_posture, relative_position,
                                  movement_direction, repetition_count, spatial_difference)}
