"""The context declares its shared controllers; partial events of a model run are typed."""
from __future__ import annotations

import pytest


@pytest.fixture
def ctx(project, tmp_path, qtbot):
    from app.context import AppContext
    from app.settings import UserSettings

    c = AppContext(project, settings=UserSettings(tmp_path / "s.json"))
    yield c
    c.shutdown()


def test_context_makes_each_shared_controller_once(ctx):
    from app.controllers.describe import DescribeController, describe_controller
    from app.controllers.vlm import VLMController, vlm_controller

    assert isinstance(ctx.vlm, VLMController) and ctx.vlm is vlm_controller(ctx) is ctx.vlm
    assert isinstance(ctx.describe, DescribeController)
    assert describe_controller(ctx) is ctx.describe
    assert ctx.vlm.parent() is ctx and ctx.describe.parent() is ctx


def test_partial_events_reach_the_signals_of_the_current_run(ctx, qtbot):
    from app.controllers.vlm import AnswerEvent, ChunkEvent

    ctrl = ctx.vlm
    chunks, answers = [], []
    ctrl.chunk.connect(lambda *a: chunks.append(a))
    ctrl.answerReady.connect(lambda *a: answers.append(a))
    ctrl._rid = 3
    ctrl._on_partial(3, ChunkEvent(1, "The left"))
    ctrl._on_partial(2, ChunkEvent(0, "stale run"))          # an older run: dropped
    ctrl._on_partial(3, AnswerEvent(1, "answer object"))     # type: ignore[arg-type]
    assert chunks == [(3, 1, "The left")]
    assert answers == [(3, 1, "answer object")]
