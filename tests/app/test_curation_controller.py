"""Curation controller with the real job service: background generation with progress,
the blind test on the model lane, caption import errors as one dialog line."""
from __future__ import annotations

import json

import pytest

from app.context import AppContext
from models.qa.record import QARecord
from tests.models.test_qa_text import VALID, ScriptedBackend


@pytest.fixture
def ctx(tmp_path, qtbot):
    from models.store import Repository

    c = AppContext(Repository(tmp_path / "c.aastudio"))
    c.poses.auto_extract = False
    yield c
    c.shutdown()


@pytest.mark.slow
def test_background_generation_reports_progress_and_reloads(ctx, qtbot, clip):
    from app.controllers.curation import CurationController
    from models.qa.synth import SynthSettings

    ctrl = CurationController(ctx)
    progress, reloads = [], []
    ctrl.generationProgress.connect(lambda d, t, m: progress.append((d, t)))
    ctrl.itemsChanged.connect(reloads.append)
    video = str(clip("street_pedestrians.mp4"))
    with qtbot.waitSignal(ctrl.posesMissing, timeout=60000) as missing:
        ctrl.generate([video], SynthSettings(per_clip=6))      # no poses yet: offer extraction
    assert missing.args[0] == [video] and ctx.repo.qa_count() == 0
    with qtbot.waitSignal(ctrl.generationDone, timeout=60000) as sig:
        ctrl.extract_and_generate(missing.args[0])
    summary = sig.args[0]
    assert summary.clips == 1 and summary.generated == ctx.repo.qa_count()
    assert progress and progress[-1] == (1, 1) and [] in reloads


def test_blind_test_and_text_generation_run_on_the_model_lane(ctx, qtbot):
    from app.controllers.curation import CurationController

    ctrl = CurationController(ctx)
    ctx.repo.add_qa_items([QARecord("q1", "body_part_pose", "v.mp4", "Knee?", ["bent", "straight"], 1)])
    with qtbot.waitSignal(ctrl.itemsChanged, timeout=10000):
        ctrl.run_blind_test(ScriptedBackend(["B"]))
    assert "blind" in ctx.repo.qa_flags("q1")
    assert any("blind" in f for f in ctrl.flags("q1"))
    assert ctrl.generate_from_text(ScriptedBackend([])) is None  # no captions yet
    ctrl.add_caption("cup.mp4", "A man lifts a cup with his right hand, then waves.")
    with qtbot.waitSignal(ctrl.itemsChanged, timeout=10000):
        ctrl.generate_from_text(ScriptedBackend([json.dumps(VALID)]))
    assert ctx.repo.qa_count({"source": "scripted-model"}) == 2


def test_caption_import_error_is_one_warning_and_imports_nothing(ctx, qtbot, tmp_path):
    from app.controllers.curation import CurationController

    ctrl = CurationController(ctx)
    bad = tmp_path / "bad.csv"
    bad.write_text("video,text\na.mp4,ok\nb.mp4,x,extra\n", encoding="utf-8")
    with qtbot.waitSignal(ctx.warning) as sig:
        assert ctrl.import_captions(str(bad)) == 0
    assert sig.args[1] == "bad.csv line 3: wrong number of columns. Nothing was imported."
    assert ctx.repo.captions() == []
