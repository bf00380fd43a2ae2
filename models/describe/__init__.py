"""Deterministic pose description ("posecodes").

Public API (used by the CLI, the Describe panel and QA synthesis):

``pose_facts(track_or_world, frame=None, min_visibility=0.5) -> list[Fact]``
    Structured facts of one frame (world landmarks, MediaPipe axes).
``track_facts(world) -> TrackFacts``
    Vectorised values / bins / visibility for every measurement and frame, with
    hysteresis; ``TrackFacts.facts_at(i)`` gives the facts of frame i.
``describe(facts) -> str``
    Readable text: ordered by body region, plurals, implied facts pruned.
``prune(facts)``, ``Fact`` (``to_dict``/``from_dict``), ``DescribeError``.

Thresholds, bins and phrasing live in ``resources/posecodes.json``.
"""
from .build import DescribeError, pose_facts, track_facts
from .facts import Fact, TrackFacts
from .text import describe, prune

__all__ = ["DescribeError", "Fact", "TrackFacts", "describe", "pose_facts", "prune", "track_facts"]
