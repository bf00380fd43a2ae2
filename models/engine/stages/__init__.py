"""The built-in stages of a dataset run, registered by name when first looked up.

Importing this package is cheap: it only adds loaders (``models.engine.stage.add_loader``);
``get_stage`` / ``registered`` run them, which imports the stage modules (and through them
numpy, OpenCV and the describer) only in the process that needs a stage.

``basic``: probe, poses, reliability, facts, describe, diff, motion and rule QA (no model).
``people``: every person of a clip, tracked with persistent ids (multi-person landmarker).
``proxy``: the three MLLM proxy tasks (P1 pose description, P2 spatial differences, P3 QA
synthesised from their texts).
"""
from __future__ import annotations

from ..stage import add_loader


def _basic() -> None:
    from . import basic  # noqa: F401,PLC0415 (its import registers the stages)


def _people() -> None:
    from . import people  # noqa: F401,PLC0415 (its import registers the stage)


def _proxy() -> None:
    from . import proxy  # noqa: F401,PLC0415 (its import registers the stages)


add_loader(_basic)
add_loader(_people)
add_loader(_proxy)
