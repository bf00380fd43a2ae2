"""Ask panel and Compare models view offscreen with tiny real checkpoints on a real clip."""
from __future__ import annotations

import numpy as np
import pytest

from app.context import AppContext
from app.controllers.vlm import vlm_controller
from models.describe.synth import SynthPose, track
from models.pose.track import PoseTrack
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401
from tests.gui_support import picture_of


@pytest.fixture
def ctx(qtbot, tmp_path, clip):
    from models.store import Repository

    c = AppContext(Repository(tmp_path / "vlm.aastudio"))
    c.poses.auto_extract = False          # these tests bring their own (synthetic) poses
    with qtbot.waitSignal(c.player.frameChanged, timeout=15000):
        c.player.open(str(clip("arm_wrestling.mp4")))
    yield c
    vlm_controller(c).unload_all()
    c.shutdown()


def _synthetic_track(ctx) -> None:
    up = SynthPose()
    up.raise_arm("right")
    n = ctx.player.frame_count
    w = track([SynthPose().world() if i < n // 2 else up.world() for i in range(n)])
    ctx.player.set_track(PoseTrack(picture_of(w, 1920, 1080), w.astype(np.float32), ctx.player.fps,
                                   340, 256, backend="mediapipe"))


def test_compare_view_two_models_and_rule_baseline_saved_and_reopened(ctx, qtbot, tiny_ckpt):
    from widgets.vlm.compare_view import CompareView

    _synthetic_track(ctx)
    view = CompareView(ctx)
    qtbot.addWidget(view)
    ctrl = view.controller
    labels = [ctrl.add_choice(str(tiny_ckpt(f)), device="cpu").label for f in ("smolvlm", "qwen2_5_vl")]
    assert view.pickers[0].select_label(labels[0]) and view.pickers[1].select_label(labels[1])
    assert view.pickers[2].select_label("Rule-based describer")
    view.form.question.setText("Which arm is raised?")
    view.form.set_template("mcq_letter")
    view.form.options.setText("left arm | right arm")
    view.form.answer.setValue(1)
    view.form.count.setValue(2)
    view.form.max_tokens.setValue(6)
    with qtbot.waitSignal(ctrl.finished, timeout=60000) as done:
        view.run_button.click()
    answers = done.args[1]
    assert [a.status for a in answers] == ["ok", "ok", "ok"]
    assert [a.info.kind for a in answers] == ["transformers", "transformers", "rule"]
    for col, a in zip(view.columns[:2], answers):
        assert col.raw == a.text and col.title()
        assert ("right" in col.mark.text() or "wrong" in col.mark.text()) or a.chosen_index is None
    # the rule baseline cannot answer this MCQ from poses: an explicit abstention, "n/a"
    assert answers[2].abstained and answers[2].correct is None and "pose alone" in answers[2].text
    assert view.columns[2].mark.text().startswith("n/a")
    assert "frames [70, 210]" in view.frames_label.text()
    view.save_button.click()
    kind, cid = ctrl.last_saved
    rec = ctx.repo.comparison(cid)
    assert kind == "comparison" and rec["frame_indices"] == [70, 210]
    assert rec["template_id"] == "mcq_letter" and rec["options"] == ["left arm", "right arm"]
    assert len(rec["answers"]) == 3
    for row, a in zip(rec["answers"], answers):
        assert row["answer"] == a.text and row["frame_indices"] == [70, 210]
        assert row["model_id"] == a.info.model_id and row["template_version"] == "1"
        assert row["generation_params"]["max_new_tokens"] == 6 and row["seed"] == 0
        assert row["ttft_s"] is not None and row["prompt_tokens"] is not None
        assert row["content_hash"] and row["video"].endswith("arm_wrestling.mp4")
    assert rec["answers"][0]["peak_mem_bytes"] > 0 and rec["answers"][0]["model_revision"]
    fresh = CompareView(ctx)                      # reopen later in a new view
    qtbot.addWidget(fresh)
    assert fresh.saved_box.count() == 1
    fresh.open_selected()
    assert [c.raw for c in fresh.columns[:3]] == [a.text for a in answers]
    assert fresh.columns[2].mark.text().startswith("n/a")
    assert fresh.columns[3].isHidden() and "frames [70, 210]" in fresh.frames_label.text()


def test_ask_panel_streams_cancels_and_saves(ctx, qtbot, tiny_ckpt):
    from widgets.vlm.ask_panel import AskPanel

    panel = AskPanel(ctx)
    qtbot.addWidget(panel)
    panel.add_edit.setText(str(tiny_ckpt("qwen2_5_vl")))
    panel.add_button.click()
    panel.form.question.setText("What happens?")
    panel.form.count.setValue(4)
    panel.form.max_tokens.setValue(8)
    ctrl = panel.controller
    with qtbot.waitSignal(ctrl.finished, timeout=60000) as done:
        panel.ask_button.click()
    answer = done.args[1][0]
    assert answer.status == "ok" and panel.answer.toPlainText() == answer.text
    assert "TTFT" in panel.status.text() and panel.save_button.isEnabled()
    panel.save_button.click()
    saved = ctx.repo.answer(ctrl.last_saved[1])
    assert saved["answer"] == answer.text and saved["frame_indices"] == [35, 105, 175, 245]
    panel.form.max_tokens.setValue(4000)
    ctrl.chunk.connect(lambda *a: panel.cancel_button.isEnabled() and panel.cancel_button.click())
    with qtbot.waitSignal(ctrl.failed, timeout=60000) as failed:
        panel.ask_button.click()
    assert "Cancelled" in failed.args[1] and panel.ask_button.isEnabled()


def test_ask_panel_bad_input_messages(ctx, qtbot, tmp_path):
    from widgets.vlm.ask_panel import AskPanel

    panel = AskPanel(ctx)
    qtbot.addWidget(panel)
    panel.add_edit.setText(str(tmp_path))          # a folder that is not a checkpoint
    panel.add_button.click()
    panel.form.question.setText("")
    panel.ask_button.click()
    assert "question is empty" in panel.status.text()
    panel.form.question.setText("Why?")
    panel.form.set_mode("window")
    panel.form.start.setValue(900)
    panel.form.end.setValue(950)
    with qtbot.waitSignal(panel.controller.failed, timeout=30000):
        panel.ask_button.click()
    assert "No frames in the chosen interval" in panel.status.text()
    panel.form.set_mode("clip")
    with qtbot.waitSignal(panel.controller.finished, timeout=30000) as done:
        panel.ask_button.click()
    assert "no config.json" in done.args[1][0].error and "no config.json" in panel.status.text()


def test_ask_panel_saves_and_forgets_servers(ctx, qtbot):
    from widgets.vlm.ask_panel import AskPanel

    panel = AskPanel(ctx)
    qtbot.addWidget(panel)
    ctrl = panel.controller
    panel.add_edit.setText("http://127.0.0.1:9/v1#served-model")
    with qtbot.waitSignal(ctrl.choicesChanged, timeout=10000):
        panel.save_server_button.click()
    assert ctx.repo.endpoint("127.0.0.1:9")["model"] == "served-model"
    assert panel.picker.select_label("127.0.0.1:9 (server)")
    with qtbot.waitSignal(ctrl.choicesChanged, timeout=10000):
        panel.forget_button.click()
    assert ctx.repo.endpoints() == [] and panel.picker.findText("127.0.0.1:9 (server)") < 0
    panel.add_edit.setText("/not/a/url")
    panel.save_server_button.click()
    assert "Only http(s)" in panel.status.text()


def test_panels_registered_in_main_window(ctx, qtbot):
    from widgets.main_window import MainWindow
    from widgets.vlm.ask_panel import AskPanel
    from widgets.vlm.compare_view import CompareView

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert isinstance(win.panels["ask"], AskPanel)
    assert isinstance(win.panels["compare_models"], CompareView)
    assert win.panels["ask"].controller is win.panels["compare_models"].controller


def test_ask_panel_shows_memory_needed_before_loading(ctx, qtbot, tiny_ckpt, tmp_path):
    from widgets.vlm.ask_panel import AskPanel

    panel = AskPanel(ctx)
    qtbot.addWidget(panel)
    panel.add_edit.setText(str(tiny_ckpt("qwen2_5_vl")))
    panel.add_button.click()
    text = panel.status.text()
    assert "Qwen2.5-VL" in text and "K parameters" in text and "needs about" in text
    assert "in bf16" in text and "RAM free" in text
    panel.add_edit.setText(str(tmp_path))                 # not a checkpoint: said at once
    panel.add_button.click()
    assert "cannot run" in panel.status.text() and "config.json" in panel.status.text()


def test_prompt_form_samples_at_a_frame_rate(ctx, qtbot):
    from models.video import probe
    from models.vlm.frames import sample_indices
    from widgets.vlm.prompt_form import PromptForm

    form = PromptForm(ctx)
    qtbot.addWidget(form)
    form.question.setText("What happens?")
    form.set_mode("rate")
    form.rate.setValue(2.0)
    form.count.setValue(64)
    spec = form.spec()
    idx = sample_indices(probe(spec.video), spec.selection)
    assert spec.selection.mode == "rate" and idx[:3] == [0, 14, 28] and len(idx) == 20
    form.start.setValue(100)
    form.end.setValue(160)
    assert sample_indices(probe(spec.video), form.spec().selection) == [100, 114, 128, 142, 156]
