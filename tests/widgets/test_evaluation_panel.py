"""Evaluation panel and export dialog offscreen: a background run of the rule-based
reference fills the table and the bar chart, runs reopen and compare; the export dialog
lists the registry, exports in the background and asks before replacing a folder."""
from __future__ import annotations

import json

import pytest

from app.context import AppContext
from models.evaluate import EvalSettings
from models.export import export
from models.store import Repository
from tests.models.export_samples import sample_records
from tests.models.test_evaluate import synth_records
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401


@pytest.fixture
def ctx(qtbot, tmp_path, clip):
    from models.video import probe

    repo = Repository(tmp_path / "gui.aastudio")
    repo.upsert_clip(probe(clip("arm_wrestling.mp4")))
    recs = synth_records()[:6] + sample_records()[:1]
    for r in recs:
        r.review.status = "accepted"
    repo.add_qa_items(recs)
    c = AppContext(repo)
    yield c
    c.shutdown()


@pytest.fixture
def panel(qtbot, ctx):
    from widgets.evaluation.panel import EvaluationPanel

    w = EvaluationPanel(ctx)
    qtbot.addWidget(w)
    w.show()
    return w


def test_reference_run_fills_table_and_chart_and_reopens(panel, qtbot):
    with qtbot.waitSignal(panel.controller.finished, timeout=60000) as sig:
        assert panel.start()
    (run_id,) = sig.args[0]
    assert panel.runs_table.rowCount() == 1
    assert panel.runs_table.item(0, 2).text() == "done"
    labels = [panel.results.verticalHeaderItem(i).text() for i in range(panel.results.rowCount())]
    assert "mean over sub-tasks" in labels and "overall (micro)" in labels
    overall = panel.results.item(labels.index("overall (micro)"), 0).text()
    assert overall == "100.0"
    assert len(panel.bars) == 1 and max(panel.bars[0].opts["height"]) == 100.0
    panel.show_runs([])
    assert panel.results.rowCount() == 0
    panel.select_runs([run_id])           # reopen a past run
    assert panel.results.item(labels.index("overall (micro)"), 0).text() == "100.0"
    with qtbot.waitSignal(panel.controller.finished, timeout=60000):
        panel.controller.start(["rule"], EvalSettings(frames=2))
    panel.select_runs([1, 2])
    panel.compare_selected()
    assert panel.compare_text.toPlainText().startswith("A = #1 ")
    assert ": 6 items answered by both" in panel.compare_text.toPlainText()


def test_two_runs_chosen_show_difference_interval_and_flips(panel, ctx):
    """Two stored runs (base, tuned) on the project's items: choosing both shows per
    sub-task A, B, B - A with its bootstrap interval and the flip counts, and lists the
    flipped items with their questions."""
    repo = ctx.repo
    recs = repo.qa_records({"status": ["accepted"]})
    ids = []
    for name, right in (("base", lambda k: k % 2 == 0), ("tuned", lambda k: True)):
        run = repo.create_eval_run(name, "transformers", name, {"frames": 4}, recs)
        for k, r in enumerate(recs):
            ok = right(k)
            repo.save_eval_answer(run, r.qa_id, "A", r.answer_index if ok else
                                  (r.answer_index + 1) % len(r.options), ok)
        ids.append(run)
    panel.refresh_runs()
    panel.select_runs(ids)                  # choosing two runs compares them
    t = panel.compare_table
    rows = {t.verticalHeaderItem(i).text(): [t.item(i, j).text() for j in range(t.columnCount())]
            for i in range(t.rowCount())}
    n = len(recs)
    flipped = [r for k, r in enumerate(recs) if k % 2]
    overall = rows["overall (micro)"]
    assert overall[0] == str(n) and overall[2] == "100.0"
    assert overall[3] == f"{100 * len(flipped) / n:+.1f}"
    low, high = (float(x) for x in overall[4].strip("[]").split(","))
    assert 0 < low <= float(overall[3]) <= high           # better, the interval above 0
    assert overall[5:] == ["0", str(len(flipped))]
    assert set(rows) == {r.task for r in recs} | {"overall (micro)"}
    text = panel.compare_text.toPlainText()
    assert f"wrong → right ({len(flipped)}):" in text and "right → wrong (0):" in text
    for r in flipped:
        assert f"  {r.qa_id} [{r.task}] " in text
    panel.select_runs(ids[:1])
    panel.compare_selected()
    assert t.rowCount() == 0 and "exactly two" in panel.compare_text.toPlainText()


def test_export_dialog_exports_and_asks_before_overwrite(panel, qtbot, tmp_path):
    dlg = panel.open_export()
    qtbot.addWidget(dlg)
    assert dlg.format_list.count() == 7
    dlg.select_format("jsonl")
    out = tmp_path / "bench"
    dlg.out_edit.setText(str(out))
    with qtbot.waitSignal(panel.controller.exportDone, timeout=60000):
        assert dlg.start_export()
    rows = (out / "actionart.jsonl").read_text().splitlines()
    assert len(rows) == 7 and json.loads(rows[0])["review"]["status"] == "accepted"
    asked = []
    dlg.confirm = lambda text: asked.append(text) or False
    assert not dlg.start_export()
    assert "holds an earlier export" in asked[0] and "cancelled" in dlg.status.text()
    dlg.confirm = lambda text: True
    dlg.select_format("hf-dataset")
    with qtbot.waitSignal(panel.controller.exportDone, timeout=60000):
        assert dlg.start_export()
    assert (out / "README.md").is_file() and not (out / "actionart.jsonl").exists()


def test_main_window_has_the_panel_and_the_file_menu_action(qtbot, ctx):
    from widgets.export.dialog import ExportDialog
    from widgets.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert "evaluation" in win.panels
    win.actions_by_id["file.export"].trigger()
    dialogs = win.findChildren(ExportDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()


def test_export_dialog_filters_sub_tasks_and_passes_options(panel, qtbot, tmp_path):
    dlg = panel.open_export()
    qtbot.addWidget(dlg)
    tasks = dlg.task_list.values()
    assert len(tasks) >= 2 and dlg.task_list.selected() is None
    dlg.task_list.set_checked([])
    dlg.out_edit.setText(str(tmp_path / "none"))
    assert not dlg.start_export() and "sub-task" in dlg.status.text()
    dlg.task_list.set_checked([tasks[0]])
    dlg.select_format("jsonl")
    dlg.cut_check.setChecked(False)
    dlg.root_edit.setText("/nowhere")
    opts = dlg.options()
    assert not opts.cut_clips and opts.video_root == "/nowhere"
    dlg.root_edit.setText("")
    out = tmp_path / "one_task"
    export("jsonl", sample_records(), out)        # an earlier export: replaced as a whole
    dlg.out_edit.setText(str(out))
    dlg.overwrite_check.setChecked(True)      # replaces without asking
    dlg.confirm = lambda text: pytest.fail("asked although overwriting was allowed")
    with qtbot.waitSignal(panel.controller.exportDone, timeout=60000) as sig:
        assert dlg.start_export()
    assert sig.args[0].out_dir == str(out)
    rows = [json.loads(ln) for ln in (out / "actionart.jsonl").read_text().splitlines()]
    want = panel.ctx.repo.qa_count({"status": ["accepted"], "task": [tasks[0]]})
    assert len(rows) == want and {r["task"] for r in rows} == {tasks[0]}
    assert sorted(p.name for p in out.iterdir()) == [".actionart-export.json", "actionart.jsonl"]


def tree(folder):
    return {p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*")) if not p.name.startswith("gui.aastudio")}


def test_export_dialog_never_replaces_the_users_folders(panel, qtbot, tmp_path):
    """A folder that is no earlier export is refused with a dialog before anything runs,
    without asking; the project's own folder is refused by the model even when replacing
    without asking is on; nothing is touched either way."""
    from widgets import dialogs

    dlg = panel.open_export()
    qtbot.addWidget(dlg)
    dlg.select_format("jsonl")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (tmp_path / "notes.txt").write_text("beside the project")
    shown = []
    previous = dialogs.set_handler(lambda kind, title, text, parent: shown.append((kind, text)))
    dlg.confirm = lambda text: pytest.fail("asked to replace a folder that is no export")
    try:
        before = tree(tmp_path)
        dlg.out_edit.setText(str(mine))
        assert not dlg.start_export()
        assert shown[-1][0] == "error" and "holds no earlier export" in shown[-1][1]
        dlg.overwrite_check.setChecked(True)
        assert not dlg.start_export() and len(shown) == 2
        (tmp_path / ".actionart-export.json").write_text(json.dumps(   # a forged manifest
            {"tool": "ActionArt Studio export",
             "files": sorted(p.relative_to(tmp_path).as_posix()
                             for p in tmp_path.rglob("*") if p.is_file())}))
        before = tree(tmp_path)
        dlg.out_edit.setText(str(tmp_path))                            # the project's folder
        with qtbot.waitSignal(panel.controller.exportFailed, timeout=60000):
            assert dlg.start_export()
        assert shown[-1][0] == "error" and "project's own data" in shown[-1][1]
        assert "project's own data" in dlg.status.text()
        assert tree(tmp_path) == before and (tmp_path / "gui.aastudio").is_file()
    finally:
        dialogs.set_handler(previous)


def test_panel_evaluates_a_qa_file_with_the_chosen_prompt_and_models(panel, qtbot, tmp_path, clips_dir):
    qa = tmp_path / "set.jsonl"
    recs = synth_records()[:4]
    qa.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    panel.controller.vlm.add_choice(str(tmp_path / "some_checkpoint"))
    assert panel.model_list.values() == [str(tmp_path / "some_checkpoint")]
    panel.model_list.set_checked(panel.model_list.values())
    assert panel.specs() == [str(tmp_path / "some_checkpoint"), "rule"]
    panel.model_list.set_checked([])
    panel.set_combo.setCurrentIndex(panel.set_combo.count() - 1)      # QA file
    panel.file_edit.setText(str(qa))
    panel.refresh_tasks()
    panel.template_combo.setCurrentText("mcq-plain-v1")
    with qtbot.waitSignal(panel.controller.finished, timeout=60000) as sig:
        assert panel.start()
    (run_id,) = sig.args[0]
    run = panel.ctx.repo.eval_run(run_id)
    assert run["items"] == 4 and run["correct"] == 4
    assert run["settings"]["template"] == "mcq-plain-v1"
    panel.set_combo.setCurrentIndex(3)                                 # imported: none here
    with qtbot.waitSignal(panel.controller.failed, timeout=5000):
        assert not panel.start()


def test_export_dialog_asks_before_leaving_out_missing_videos(panel, qtbot, tmp_path):
    import dataclasses

    from widgets import dialogs

    repo = panel.ctx.repo
    gone = dataclasses.replace(repo.qa_records({"status": ["accepted"]})[0], qa_id="q_gone",
                               video="gone/missing.mp4")
    repo.add_qa_items([gone])
    dlg = panel.open_export()
    qtbot.addWidget(dlg)
    dlg.select_format("lmms-eval")
    dlg.out_edit.setText(str(tmp_path / "refused"))
    shown = []
    previous = dialogs.set_handler(lambda kind, title, text, parent: shown.append(text))
    try:
        dlg.confirm = lambda text: False
        with qtbot.waitSignal(panel.controller.exportFailed, timeout=60000):
            assert dlg.start_export()
        assert "q_gone" in dlg.status.text() and shown and not (tmp_path / "refused").exists()
        asked = []
        dlg.confirm = lambda text: asked.append(text) or True
        dlg.out_edit.setText(str(tmp_path / "kept"))
        with qtbot.waitSignal(panel.controller.exportDone, timeout=60000) as sig:
            assert dlg.start_export()
    finally:
        dialogs.set_handler(previous)
    assert "missing videos" in asked[0] and "q_gone" in asked[0]
    assert [q for q, _ in sig.args[0].skipped] == ["q_gone"]
    rows = "".join(p.read_text() for p in (tmp_path / "kept" / "data").glob("*.jsonl"))
    assert "q_gone" not in rows and rows.count("\n") == sig.args[0].items


def test_panel_cancels_a_model_run_and_resumes_it(panel, qtbot, tiny_ckpt):
    ckpt = str(tiny_ckpt("qwen2_5_vl"))
    more = synth_records()[6:]                       # 13 items: room to cancel mid-run
    for r in more:
        r.review.status = "accepted"
    panel.ctx.repo.add_qa_items(more)
    panel.reference_check.setChecked(False)
    panel.model_edit.setText(ckpt)
    panel.frames_spin.setValue(2)
    stop = panel.cancel_button.click
    panel.controller.answer.connect(stop)            # cancel once the first answer is in
    with qtbot.waitSignal(panel.controller.failed, timeout=120000) as sig:
        assert panel.start()
    assert "ancel" in sig.args[0]
    run = panel.controller.runs()[0]
    assert run["status"] == "cancelled" and 1 <= run["answered"] < run["items"]
    panel.controller.answer.disconnect(stop)
    asked = []
    panel.controller.answer.connect(asked.append)
    with qtbot.waitSignal(panel.controller.finished, timeout=120000) as done:
        assert panel.start()
    assert done.args[0] == [run["id"]]                      # the same run, resumed
    again = panel.controller.runs()[0]
    assert again["status"] == "done" and again["answered"] == again["items"]
    assert len(asked) == again["items"] - run["answered"]   # only the unanswered were asked


def test_export_warns_when_few_items_are_accepted_and_opens_the_folder(panel, qtbot, tmp_path,
                                                                       monkeypatch):
    from PySide6.QtGui import QDesktopServices

    from models.qa.record import QARecord

    panel.ctx.repo.add_qa_items([QARecord(f"cand{i}", "body_part_pose", "arm_wrestling.mp4",
                                          f"Is the elbow bent {i}?", ["yes", "no"], 0,
                                          frame_a=i) for i in range(40)])
    dlg = panel.open_export()
    qtbot.addWidget(dlg)
    dlg.select_format("jsonl")
    out = tmp_path / "few"
    dlg.out_edit.setText(str(out))
    asked = []
    dlg.confirm = lambda text: asked.append(text) or False
    assert not dlg.start_export()
    assert "Only 7 of the 47 items are accepted" in asked[0]
    assert "cancelled" in dlg.status.text() and not out.exists()
    assert not dlg.open_button.isVisible()
    dlg.confirm = lambda text: asked.append(text) or True
    with qtbot.waitSignal(panel.controller.exportDone, timeout=60000):
        assert dlg.start_export()
    assert len((out / "actionart.jsonl").read_text().splitlines()) == 7
    assert dlg.open_button.isVisible()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    dlg.open_button.click()
    assert [u.toLocalFile() for u in opened] == [str(out.resolve())]
    dlg.status_combo.setCurrentIndex(2)          # every item: no question asked
    asked.clear()
    dlg.overwrite_check.setChecked(True)
    with qtbot.waitSignal(panel.controller.exportDone, timeout=60000):
        assert dlg.start_export()
    assert asked == []


def _two_runs(panel, qtbot):
    for frames in (2, 3):
        with qtbot.waitSignal(panel.controller.finished, timeout=60000):
            panel.controller.start(["rule"], EvalSettings(frames=frames))
    runs = [r["id"] for r in panel.controller.runs()]
    panel.select_runs(runs)
    return runs


def test_results_are_readable_in_a_short_wide_dock(panel, qtbot):
    panel.resize(1800, 330)                     # a bottom dock of a 1920x1200 window
    _two_runs(panel, qtbot)
    qtbot.wait(20)
    runs, results = panel.runs_table, panel.results
    assert runs.viewport().height() >= 3 * runs.rowHeight(0)      # every run row visible
    assert results.viewport().height() >= 4 * results.rowHeight(0)
    assert panel.chart.height() >= 150
    bg = panel.chart.backgroundBrush().color()
    assert bg.lightness() < 60                                    # dark, like the app
    assert panel.chart.getPlotItem().legend is None               # no legend over the bars
    assert "Rule-based reference" in panel.legend.text() and panel.legend.isVisible()
    assert not panel.chart.geometry().intersects(panel.legend.geometry())


def test_splitter_positions_are_remembered(qtbot, ctx):
    from PySide6.QtWidgets import QSplitter

    from widgets.evaluation.panel import EvaluationPanel

    first = EvaluationPanel(ctx)
    qtbot.addWidget(first)
    first.resize(1600, 600)
    first.show()
    qtbot.waitExposed(first)
    wanted = []
    for split in first.findChildren(QSplitter):
        total = sum(split.sizes())
        sizes = [total // 5] + [(total - total // 5) // (split.count() - 1)] * (split.count() - 1)
        split.setSizes(sizes)
        wanted.append(split.sizes())
        split.splitterMoved.emit(sizes[0], 1)    # as a drag of the handle reports it
    second = EvaluationPanel(ctx)                 # the next launch
    qtbot.addWidget(second)
    second.resize(1600, 600)
    second.show()
    qtbot.waitExposed(second)
    got = [s.sizes() for s in second.findChildren(QSplitter)]
    assert len(got) == len(wanted) >= 1
    for g, w in zip(got, wanted):
        assert all(abs(a - b) <= 3 for a, b in zip(g, w)), (got, wanted)
