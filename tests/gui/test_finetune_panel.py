"""The Fine-tune panel driven like a user in the real main window: the learning run of
tests/finetune/test_learns.py (40 real synthesized items on the real clips, the sharpened
tiny random Qwen2.5-VL, the same recipe) started from the panel runs as a job of the app's
job service; the loss curve gets one point per step and falls; "Evaluate base vs tuned"
runs the app's evaluation of the base and ``local:<adapter>`` and the Evaluation panel
shows the comparison. Nothing is held out in this run (held-out fraction 0: a random tiny
model cannot generalise to unseen clips), so the items are their own evaluation set, as
the panel says. Also: cancel mid-run then Resume reaches the same final step, and bad
settings give a dialog."""
from __future__ import annotations

import time

import pytest

from models.evaluate import run_score
from tests.finetune.items import VIDEO_ROOT, learn_items, sharp_tiny_checkpoint
from tests.finetune.test_learns import RECIPE
from tests.gui_support import ctx, dialogs_seen, window  # noqa: F401

T = 600_000            # generous: 2 shared cores


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return sharp_tiny_checkpoint("qwen2_5_vl", tmp_path_factory.mktemp("ftgui") / "base")


def fill(panel, base, out, recipe=RECIPE, held_out=0.0):
    """Type the recipe into the panel; settings it has no field for go in ``extra``."""
    panel.ctx.vlm.add_choice(str(base), remember=False)
    i = panel.base_combo.findData(str(base))
    assert i >= 0, "the base is listed in the model picker"
    panel.base_combo.setCurrentIndex(i)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("project"))
    panel.video_edit.setText(VIDEO_ROOT)
    panel.rank_spin.setValue(recipe["rank"])
    panel.alpha_spin.setValue(recipe["alpha"])
    panel.lr_edit.setText(str(recipe["learning_rate"]))
    panel.epochs_spin.setValue(recipe["epochs"])
    panel.frames_spin.setValue(recipe["frames"])
    panel.pixels_spin.setValue(recipe["max_pixels"])
    panel.seed_spin.setValue(recipe["seed"])
    panel.held_spin.setValue(held_out)
    panel.out_edit.setText(str(out))
    panel.extra = {k: recipe[k] for k in ("dropout", "batch_size", "checkpoint_every", "device")}


@pytest.fixture
def panel(qtbot, window, project):  # noqa: F811
    window.show_panel("finetune")
    return window.panels["finetune"]


def test_learns_through_the_panel_and_compares_base_vs_tuned(qtbot, window, panel, project,  # noqa: F811
                                                             base, tmp_path, dialogs_seen):  # noqa: F811
    records = learn_items(40)
    assert project.add_qa_items(records) == 40
    fill(panel, base, tmp_path / "adapter")
    t0 = time.perf_counter()
    qtbot.mouseClick(panel.start_button, qtbot_left())
    assert panel.controller.busy and not panel.start_button.isEnabled()
    assert panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: bool(panel.card), timeout=T)
    train_s = time.perf_counter() - t0
    assert not dialogs_seen
    total = panel.card["result"]["steps"]
    assert total == 40 * RECIPE["epochs"]
    xs, ys = panel.points()
    assert xs == list(range(1, total + 1))                     # one point per step
    curve_x, curve_y = panel.curve.getData()
    assert list(curve_x) == xs and len(curve_y) == total        # drawn, not only stored
    first, last_epoch = ys[0], sum(ys[-40:]) / 40
    assert last_epoch < first / 4
    assert "Done:" in panel.stats.text() and f"{total} steps" in panel.stats.text()
    assert panel.eval_button.isEnabled() and not panel.resume_button.isEnabled()

    t1 = time.perf_counter()
    qtbot.mouseClick(panel.eval_button, qtbot_left())
    qtbot.waitUntil(lambda: getattr(panel, "last_eval", None) is not None, timeout=T)
    eval_s = time.perf_counter() - t1
    assert not dialogs_seen
    base_run, tuned_run = panel.last_eval
    b, t = run_score(project, base_run), run_score(project, tuned_run)
    print(f"\ntrain {train_s:.1f}s ({total} steps, loss {first:.3f} -> {last_epoch:.3f}), "
          f"eval {eval_s:.1f}s: base {b.correct}/{b.n}, tuned {t.correct}/{t.n}")
    assert b.n == t.n == 40
    assert b.overall <= 0.5 and t.overall >= 0.9
    run = project.eval_run(tuned_run)
    assert str(tmp_path / "adapter") in str(run)                # the adapter was evaluated
    evaluation = window.panels["evaluation"]
    assert window.docks["evaluation"].isVisible()
    assert sorted(evaluation.selected_runs()) == sorted([base_run, tuned_run])
    text = evaluation.compare_text.toPlainText()
    assert "training item(s)" in text and "40 items answered by both" in text
    overall = evaluation.compare_table.item(evaluation.compare_table.rowCount() - 1, 3).text()
    assert float(overall) == pytest.approx(100 * (t.overall - b.overall), abs=0.1)
    assert "wrong → right" in text


def test_cancel_then_resume_reaches_the_same_final_step(qtbot, panel, project, base, tmp_path,  # noqa: F811
                                                        dialogs_seen):  # noqa: F811
    records = learn_items(40)[::4]
    project.add_qa_items(records)
    recipe = dict(RECIPE, epochs=20)
    fill(panel, base, tmp_path / "adapter", recipe)
    total = len(records) * 20

    def cancel_at_three(info):
        if info["step"] == 3:
            qtbot.mouseClick(panel.cancel_button, qtbot_left())
    panel.controller.step.connect(cancel_at_three)
    with qtbot.waitSignal(panel.controller.cancelled, timeout=T) as sig:
        qtbot.mouseClick(panel.start_button, qtbot_left())
    panel.controller.step.disconnect(cancel_at_three)
    stopped = sig.args[0]
    assert 3 <= stopped < total and not panel.card
    qtbot.waitUntil(lambda: panel.resume_button.isEnabled(), timeout=5000)
    assert "Cancelled at step" in panel.stats.text()
    assert (tmp_path / "adapter" / "checkpoints").is_dir()
    qtbot.mouseClick(panel.resume_button, qtbot_left())
    qtbot.waitUntil(lambda: bool(panel.card), timeout=T)
    assert not dialogs_seen
    assert panel.card["result"]["steps"] == total
    assert panel.card["result"]["resumed_from"] >= stopped
    assert panel.points()[0] == list(range(1, total + 1))


def test_bad_settings_show_a_dialog(qtbot, panel, project, base, tmp_path, dialogs_seen):  # noqa: F811
    project.add_qa_items(learn_items(8))
    fill(panel, base, tmp_path / "adapter")
    panel.lr_edit.setText("2")
    qtbot.mouseClick(panel.start_button, qtbot_left())
    assert not panel.controller.busy
    assert dialogs_seen[-1][0] == "error" and "learning_rate must be in (0, 1]" in dialogs_seen[-1][2]
    panel.lr_edit.setText("fast")
    qtbot.mouseClick(panel.start_button, qtbot_left())
    assert "learning_rate" in dialogs_seen[-1][2]
    panel.lr_edit.setText("1e-3")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "mine.txt").write_text("keep me")
    qtbot.mouseClick(panel.start_button, qtbot_left())
    assert "is not empty" in dialogs_seen[-1][2]
    assert (tmp_path / "adapter" / "mine.txt").read_text() == "keep me"
    panel.base_combo.setEditText("")
    qtbot.mouseClick(panel.start_button, qtbot_left())
    assert "Choose a base model" in dialogs_seen[-1][2]
    assert not panel.controller.busy and len(dialogs_seen) == 4


def test_no_accepted_items_show_a_dialog(qtbot, panel, base, tmp_path, dialogs_seen):  # noqa: F811
    fill(panel, base, tmp_path / "adapter")
    qtbot.mouseClick(panel.start_button, qtbot_left())
    assert "no accepted QA items" in dialogs_seen[-1][2]


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
