"""Dataset runs panel on real runs of the real engine: a finished run with a failure is
listed with its stages and the failure's reason; a run started from the panel (a job of the
job service) reaches done; a run of a slow stage is cancelled and resumed to completion;
bad configs and unreadable run folders give dialogs; nothing is polled while hidden."""
from __future__ import annotations

import json
import shutil
import os
import threading
import time
from pathlib import Path

import pytest

from models.engine.stage import Stage, register
from tests.gui_support import ctx, dialogs_seen  # noqa: F401

T = 60000
GATE = threading.Event()          # the slow stage's tasks finish once this is set


def _file_size(task, ctx):
    return {"bytes": os.path.getsize(task.item.video)}


def _gated(task, ctx):
    """Waits for GATE (checking for a cancel) up to the ``timeout`` parameter."""
    deadline = time.monotonic() + task.params["timeout"]
    while not GATE.wait(0.05):
        ctx.check()
        if time.monotonic() > deadline:
            raise TimeoutError("the gate never opened")
    return {"bytes": os.path.getsize(task.item.video)}


register(Stage("gui_file_size", "1", _file_size, describe="the file's size in bytes"))
register(Stage("gui_gated", "1", _gated, defaults={"timeout": 120.0}))


def make_clips(folder: Path, clip) -> Path:
    """Three copies of a test clip (each a byte longer: three contents) and a text file,
    listed in a CSV manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    src = clip("tai_chi.mp4").read_bytes()
    names = []
    for i in range(3):
        name = f"copy_{i}.mp4"
        (folder / name).write_bytes(src + b"\0" * i)
        names.append(name)
    (folder / "notes.txt").write_text("not a video\n")
    names.append("notes.txt")
    manifest = folder / "list.csv"
    manifest.write_text("video\n" + "".join(f"{n}\n" for n in names))
    return manifest


def write_config(path: Path, manifest: Path, output: Path, stage: str) -> Path:
    path.write_text(f'[run]\nmanifest = "{manifest}"\noutput = "{output}"\nretries = 1\n'
                    f"flush_rows = 1\n\n[stages.{stage}]\n")
    return path


@pytest.fixture
def runs_root(tmp_path, ctx):  # noqa: F811
    root = tmp_path / "runs"
    root.mkdir()
    ctx.settings.set("dataset_runs_folder", str(root))
    return root


@pytest.fixture
def panel(qtbot, ctx, runs_root, dialogs_seen):  # noqa: F811
    from widgets.dataset_runs.panel import DatasetRunsPanel

    p = DatasetRunsPanel(ctx)
    qtbot.addWidget(p)
    p.resize(1200, 420)
    p.show()
    qtbot.waitExposed(p)
    yield p
    GATE.set()
    for handle in list(p.controller._jobs.values()):
        handle.cancel()
        handle.wait(30)


def cells(table, row: int) -> list[str]:
    return [table.item(row, c).text() if table.item(row, c) else ""
            for c in range(table.columnCount())]


def run_row(panel, name: str):
    for r in range(panel.runs_table.rowCount()):
        if cells(panel.runs_table, r)[0] == name:
            return r
    return None


def state_of(panel, name: str) -> str:
    r = run_row(panel, name)
    return "" if r is None else cells(panel.runs_table, r)[2]


def stage_cells(panel, stage: str):
    for r in range(panel.stage_table.rowCount()):
        row = cells(panel.stage_table, r)
        if row[0] == stage:
            return row
    return None


def test_a_finished_run_lists_its_stages_and_failures_with_reasons(qtbot, panel, tmp_path,
                                                                   runs_root, clip):
    from models.engine.run import run_config_file

    manifest = make_clips(tmp_path / "clips", clip)
    cfg = write_config(tmp_path / "run.toml", manifest, runs_root / "sizes", "gui_file_size")
    final = run_config_file(cfg)
    assert final["state"] == "done"

    panel.controller.refresh()
    qtbot.waitUntil(lambda: state_of(panel, "sizes") == "done", timeout=T)
    row = cells(panel.runs_table, run_row(panel, "sizes"))
    assert row[1] == final["run_id"]
    assert row[4] == "2/2"           # probe (the text file) and the size stage: both finished
    assert row[5] == "1"             # one failure: the text file
    panel.runs_table.selectRow(run_row(panel, "sizes"))
    size = stage_cells(panel, "gui_file_size")
    assert size[1:4] == ["3", "0", "0"]          # 3 done, 0 failed, 0 pending
    assert stage_cells(panel, "probe")[2] == "1"
    qtbot.waitUntil(lambda: panel.failure_table.rowCount() == 1, timeout=T)
    video, stage, error, attempts = cells(panel.failure_table, 0)
    assert (video, stage, attempts) == ("notes.txt", "probe", "1")
    assert "not a video file" in error
    assert not panel.controller.polling          # nothing alive: no polling
    assert panel.resume_btn.isEnabled()          # done with a failure: it can be retried
    assert not panel.cancel_btn.isEnabled()


def test_a_run_started_from_the_panel_reaches_done(qtbot, panel, tmp_path, runs_root, clip,
                                                   dialogs_seen):  # noqa: F811
    manifest = make_clips(tmp_path / "clips", clip)
    cfg = write_config(tmp_path / "run.toml", manifest, runs_root / "from_panel",
                       "gui_file_size")
    dialogs_seen_answer = str(cfg)
    from widgets import dialogs
    previous = dialogs.set_handler(
        lambda kind, title, text, parent: dialogs_seen_answer if kind == "open_file"
        else dialogs_seen.append((kind, title, text)))
    try:
        with qtbot.waitSignal(panel.controller.runFinished, timeout=T) as finished:
            panel.new_btn.click()
    finally:
        dialogs.set_handler(previous)
    assert finished.args[1]["state"] == "done"
    qtbot.waitUntil(lambda: state_of(panel, "from_panel") == "done", timeout=T)
    qtbot.waitUntil(lambda: not panel.controller._jobs, timeout=T)
    assert stage_cells(panel, "gui_file_size")[1] == "3"
    assert dialogs_seen == []
    # the config folder is remembered for the next file dialog
    assert panel.ctx.settings.get("dataset_runs_config_folder") == str(tmp_path)


def test_cancel_a_running_run_then_resume_completes_it(qtbot, panel, tmp_path, runs_root, clip,
                                                       dialogs_seen):  # noqa: F811
    GATE.clear()
    manifest = make_clips(tmp_path / "clips", clip)
    cfg = write_config(tmp_path / "slow.toml", manifest, runs_root / "slow", "gui_gated")
    out = panel.start_config(str(cfg))
    assert out == str(runs_root / "slow")
    qtbot.waitUntil(lambda: state_of(panel, "slow") == "running", timeout=T)
    assert panel.controller.polling              # a live run, panel shown: polling
    assert panel.cancel_btn.isEnabled() and not panel.resume_btn.isEnabled()
    panel.cancel_btn.click()
    qtbot.waitUntil(lambda: state_of(panel, "slow") == "cancelled", timeout=T)
    qtbot.waitUntil(lambda: not panel.controller._jobs, timeout=T)
    qtbot.waitUntil(lambda: not panel.controller.polling, timeout=T)
    assert stage_cells(panel, "gui_gated")[1] == "0"      # nothing finished
    assert panel.resume_btn.isEnabled()

    GATE.set()
    with qtbot.waitSignal(panel.controller.runFinished, timeout=T) as finished:
        panel.resume_btn.click()
    assert finished.args[1]["state"] == "done"
    qtbot.waitUntil(lambda: state_of(panel, "slow") == "done", timeout=T)
    qtbot.waitUntil(lambda: not panel.controller._jobs, timeout=T)
    assert stage_cells(panel, "gui_gated")[1:4] == ["3", "0", "0"]
    assert run_row(panel, "slow") is not None and panel.runs_table.rowCount() == 1
    assert [d for d in dialogs_seen if d[0] == "error"] == []


def test_no_polling_while_the_panel_is_hidden(qtbot, panel, tmp_path, runs_root, clip):
    GATE.clear()
    manifest = make_clips(tmp_path / "clips", clip)
    cfg = write_config(tmp_path / "slow.toml", manifest, runs_root / "hidden", "gui_gated")
    panel.start_config(str(cfg))
    qtbot.waitUntil(lambda: state_of(panel, "hidden") == "running", timeout=T)
    assert panel.controller.polling
    panel.hide()
    assert not panel.controller.polling
    panel.show()
    assert panel.controller.polling
    GATE.set()
    qtbot.waitUntil(lambda: state_of(panel, "hidden") == "done", timeout=T)


def test_a_bad_config_shows_the_config_error(qtbot, panel, tmp_path, runs_root, dialogs_seen):  # noqa: F811
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[run]\nmanifest = "{tmp_path}"\noutput = "{runs_root / "x"}"\n'
                   "colour = 3\n[stages.gui_file_size]\n")
    assert panel.start_config(str(cfg)) is None
    assert dialogs_seen and dialogs_seen[-1][0] == "error"
    assert "colour" in dialogs_seen[-1][2]          # the engine's ConfigError names the key
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"run": {"manifest": str(tmp_path), "output": "o"},
                                   "stages": {"no_such_stage": {}}}))
    assert panel.start_config(str(unknown)) is None
    assert "no_such_stage" in dialogs_seen[-1][2]
    assert not panel.controller._jobs


def test_an_unreadable_run_is_listed_and_explained(qtbot, panel, runs_root, dialogs_seen):  # noqa: F811
    broken = runs_root / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")
    panel.controller.refresh()
    qtbot.waitUntil(lambda: state_of(panel, "broken") == "unreadable", timeout=T)
    panel.selected_path = None
    panel.runs_table.clearSelection()
    panel.runs_table.selectRow(run_row(panel, "broken"))
    assert dialogs_seen and dialogs_seen[-1][0] == "error"
    assert "broken" in dialogs_seen[-1][2]
    assert "cannot be read" in panel.detail.text()
    assert not panel.resume_btn.isEnabled() and not panel.merge_btn.isEnabled()


def test_the_runs_folder_is_remembered(qtbot, ctx, panel, tmp_path):  # noqa: F811
    from app.controllers.dataset_runs import DatasetRunsController

    other = tmp_path / "elsewhere"
    other.mkdir()
    from widgets import dialogs
    previous = dialogs.set_handler(lambda kind, *_: str(other) if kind == "open_folder" else None)
    try:
        panel.change_root_btn.click()
    finally:
        dialogs.set_handler(previous)
    assert panel.root_label.path() == str(other)
    assert DatasetRunsController(ctx).root == str(other)


def test_default_runs_folder_is_under_the_app_home(ctx, monkeypatch, _isolated_home):  # noqa: F811
    from app.controllers.dataset_runs import DatasetRunsController

    ctx.settings.set("dataset_runs_folder", None)
    assert DatasetRunsController(ctx).root == str(_isolated_home / "runs")


def test_merge_is_offered_only_when_the_engine_can_merge(qtbot, panel, tmp_path, runs_root, clip):
    from app.controllers.dataset_runs import merge_function
    from models.engine.run import run_config_file

    manifest = make_clips(tmp_path / "clips", clip)
    run_config_file(write_config(tmp_path / "run.toml", manifest, runs_root / "m",
                                 "gui_file_size"))
    panel.controller.refresh()
    qtbot.waitUntil(lambda: state_of(panel, "m") == "done", timeout=T)
    panel.runs_table.selectRow(run_row(panel, "m"))
    assert not panel.curation_btn.isEnabled()       # nothing merged yet
    if merge_function() is None:
        assert not panel.merge_btn.isEnabled()
        assert "models.engine.merge" in panel.merge_btn.toolTip()
    else:
        assert panel.merge_btn.isEnabled(), panel.merge_btn.toolTip()
        with qtbot.waitSignal(panel.controller.merged, timeout=T):
            panel.merge_btn.click()
        assert panel.curation_btn.isEnabled()


def test_screenshot_of_the_panel_in_the_window(qtbot, ctx, tmp_path, runs_root, clip,  # noqa: F811
                                               dialogs_seen):  # noqa: F811
    """The panel at the window's default size with a finished run and a failure, saved to
    /tmp/dataset_runs_panel.png (looked at by a person): every button, column and row is on
    screen."""
    from PySide6.QtWidgets import QApplication

    from models.engine.run import run_config_file
    from tests.widgets.test_window_layout_help import shown_whole
    from widgets.main_window import MainWindow
    from widgets.theme import apply_theme

    manifest = make_clips(tmp_path / "clips", clip)
    run_config_file(write_config(tmp_path / "run.toml", manifest, runs_root / "demo",
                                 "gui_file_size"))
    app = QApplication.instance()
    style, palette, sheet = app.style().name(), app.palette(), app.styleSheet()
    apply_theme(app, "dark")
    try:
        win = MainWindow(ctx)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        win.resize(1440, 900)                    # the window's default size
        qtbot.waitUntil(lambda: win.width() == 1440 and win.height() == 900, timeout=T)
        win.show_panel("dataset_runs")
        panel = win.panels["dataset_runs"]
        qtbot.waitUntil(lambda: state_of(panel, "demo") == "done", timeout=T)
        qtbot.waitUntil(lambda: panel.failure_table.rowCount() == 1, timeout=T)
        qtbot.wait(100)
        assert win.grab().save("/tmp/dataset_runs_panel.png")
    finally:
        app.setStyle(style)
        app.setPalette(palette)
        app.setStyleSheet(sheet)
    for w in (panel.new_btn, panel.cancel_btn, panel.resume_btn, panel.merge_btn,
              panel.curation_btn, panel.refresh_btn, panel.change_root_btn):
        assert shown_whole(win, w), w.text()
    for table in (panel.runs_table, panel.stage_table, panel.failure_table):
        header = table.horizontalHeader()
        for c in range(table.columnCount()):
            title = table.horizontalHeaderItem(c).text()
            assert header.sectionSize(c) >= header.fontMetrics().horizontalAdvance(title), title
            right = header.sectionViewportPosition(c) + header.sectionSize(c)
            assert 0 <= header.sectionViewportPosition(c) and right <= table.viewport().width(), \
                title                                # the column is on screen, not scrolled off
        rows = table.rowCount()
        assert shown_whole(win, table)
        assert table.viewport().height() >= rows * table.verticalHeader().defaultSectionSize()


def test_the_panel_is_in_the_view_menu(qtbot, ctx, dialogs_seen):  # noqa: F811
    from widgets.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert "dataset_runs" in win.panels
    titles = [a.text() for a in win._view_menu.actions()]
    assert "Dataset runs" in titles


def test_resume_runs_a_moved_run_where_it_is_now(qtbot, panel, tmp_path, runs_root, clip,
                                                 dialogs_seen):  # noqa: F811
    GATE.clear()
    manifest = make_clips(tmp_path / "clips", clip)
    panel.start_config(str(write_config(tmp_path / "slow.toml", manifest, runs_root / "moved",
                                        "gui_gated")))
    qtbot.waitUntil(lambda: state_of(panel, "moved") == "running", timeout=T)
    panel.cancel_btn.click()
    qtbot.waitUntil(lambda: state_of(panel, "moved") == "cancelled", timeout=T)
    qtbot.waitUntil(lambda: not panel.controller._jobs, timeout=T)
    new_root = tmp_path / "archive"
    shutil.move(str(runs_root), str(new_root))
    panel.controller.set_root(str(new_root))
    qtbot.waitUntil(lambda: state_of(panel, "moved") == "cancelled", timeout=T)
    panel.runs_table.selectRow(run_row(panel, "moved"))
    GATE.set()
    with qtbot.waitSignal(panel.controller.runFinished, timeout=T) as finished:
        panel.resume_btn.click()
    assert finished.args[0] == str(new_root / "moved")
    qtbot.waitUntil(lambda: state_of(panel, "moved") == "done", timeout=T)
    assert stage_cells(panel, "gui_gated")[1] == "3"
    assert not (runs_root / "moved").exists()        # nothing written where it used to be


def test_a_run_outside_the_runs_folder_switches_the_folder(qtbot, panel, tmp_path, runs_root,
                                                           clip):
    manifest = make_clips(tmp_path / "clips", clip)
    other = tmp_path / "other_runs"
    with qtbot.waitSignal(panel.controller.runFinished, timeout=T):
        panel.start_config(str(write_config(tmp_path / "run.toml", manifest, other / "r1",
                                            "gui_file_size")))
    assert panel.controller.root == str(other)
    qtbot.waitUntil(lambda: state_of(panel, "r1") == "done", timeout=T)


def test_open_in_curation_shows_the_merged_items(qtbot, ctx, runs_root, dialogs_seen):  # noqa: F811
    """After a merge whose result names the items' source, Open in curation raises the
    curation panel filtered to that source (items of the project, real SQLite)."""
    from models.qa.record import QARecord
    from widgets.main_window import MainWindow

    ctx.repo.add_qa_items(
        [QARecord(f"m{i}", "body_part_pose", f"c{i}.mp4", f"Merged {i}?", ["a", "b"], 0,
                  source="run:abc") for i in range(3)]
        + [QARecord(f"o{i}", "body_part_pose", f"c{i}.mp4", f"Other {i}?", ["a", "b"], 1)
           for i in range(4)])
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    qtbot.waitExposed(win)
    win.show_panel("dataset_runs")
    panel, curation = win.panels["dataset_runs"], win.panels["curation"]
    panel.selected_path = str(runs_root / "r")
    assert not panel.curation_btn.isEnabled()            # nothing merged yet
    panel.controller.merged.emit(str(runs_root / "r"), {"source": "run:abc", "qa_ids": ["m1"]})
    assert panel.curation_btn.isEnabled()
    panel.curation_btn.click()
    qtbot.waitUntil(lambda: win.docks["curation"].isVisible(), timeout=T)
    assert curation.controller.filters.get("source") == "run:abc"
    assert curation.source_box.currentData() == "run:abc"
    assert sorted(curation.controller.ids()) == ["m0", "m1", "m2"]
    assert curation.controller.current == "m1"
    assert dialogs_seen == []
