#!/usr/bin/env python3
"""Pictures of the app's views (the README's docs/*.png and before/after checks).

Opens the real main window on a project and a clip, waits for the clip and its poses,
then for each requested view puts it in front, fills it with the project's data and saves
a PNG of it (``<out>/<name>.png``). Run it on a real display (or under Xvfb)::

    xvfb-run -a -s '-screen 0 1920x1200x24' env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python scripts/gui_pictures.py --project P.aastudio --out DIR CLIP

Views: window (1920x1200, frame --frame), evaluation (the panel, runs shown and two
compared), curation (the window with the QA curation tab and Compare frames), motion
(the panel with the clip's whole range analysed); evaluation-docked (the window with
the Evaluation tab in front at the bottom); compare-frames (the Compare frames panel,
1400x720, on two reliable frames of the clip that differ most, or ``--pair A,B``);
compare-models (the window at 1700x1050 with the Compare models panel: two tiny local
checkpoints built by ``models/vlm/tiny.py`` and the rule-based describer answering a
multiple-choice question of the project's QA items on the clip); dataset-runs (the window
at its default 1440x900 with the Dataset runs panel in front on a real finished run: the
clip, a copy of it and a text file through probe, poses, rule QA and P1 with the rule-based
describer, in ``<out>/runs``); people (the window at 1560x940 in Poses > Every Person
mode, every person of the clip drawn with their number, the People panel in front, on a
frame where the two people seen most are both posed); finetune (the Fine-tune panel,
floating at 1500x640, after a short LoRA run of a tiny random Qwen2.5-VL whose output layer
is scaled up so it can learn, on the project's accepted items with their videos beside the
clip: the loss curve, the numbers, Evaluate base vs tuned enabled). With ``--root`` each
view is also grabbed from the X server (``import -window root``) as ``<name>-root.png``.

The README's compare pictures: a project with the clip's QA items
(``main.py synth-qa tests/data/clips/tai_chi.mp4 --extract-poses --per-clip 20 --seed 0
--project P.aastudio``), then ``--views compare-frames,compare-models --pair 180,262``
on tests/data/clips/tai_chi.mp4. The README's people picture (docs/people_example.png):
``--views people`` on tests/data/clips/two_people_room.mp4 (the people are extracted into
the project when it has none).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
VIEWS = ("window", "evaluation-docked", "evaluation", "curation", "motion", "compare-frames",
         "compare-models", "dataset-runs", "people", "finetune")
TINY_FAMILIES = ("smolvlm", "qwen2_5_vl")


def wait(signal, timeout_ms: int = 60000, condition=None) -> None:
    """Run the event loop until ``signal`` (or any of a list of signals) fires with
    ``condition`` true, or ``timeout_ms`` passes."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition is not None and condition():
        return
    loop = QEventLoop()
    signals = signal if isinstance(signal, (list, tuple)) else [signal]

    def check(*_):
        if condition is None or condition():
            loop.quit()
    for s in signals:
        s.connect(check)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    for s in signals:
        s.disconnect(check)


def settle(ms: int = 400) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    QApplication.processEvents()


def save(widget, out: Path, name: str, root: bool) -> None:
    settle()
    path = out / f"{name}.png"
    if not widget.grab().save(str(path), "PNG"):
        raise SystemExit(f"error: cannot write {path}")
    print(path)
    if root and os.environ.get("DISPLAY"):
        subprocess.run(["import", "-window", "root", str(out / f"{name}-root.png")], check=False)


def pick_pair(track) -> tuple[int, int]:
    """Two reliable frames with a visible difference: A is the first reliable frame, B the
    reliable frame whose body joints are farthest (mean, in metres) from A's."""
    import numpy as np

    from models.pose.reliability import judge

    ok = np.flatnonzero(judge(track).ok & track.has_pose)
    if len(ok) < 2:
        raise SystemExit("error: the clip has fewer than two reliable frames")
    body = np.asarray(track.world[:, 11:, :3], dtype=float)
    a = int(ok[0])
    dist = np.nanmean(np.linalg.norm(body[ok] - body[a], axis=-1), axis=-1)
    return a, int(ok[int(np.nanargmax(dist))])


def pick_question(repo, video: str):
    """A multiple-choice QA item on ``video``, preferring one about a body part's pose
    (the rule-based describer answers those from the poses)."""
    name = Path(video).name       # items name their clip relative to the project's folders
    records = [r for r in repo.qa_records() if Path(r.video).name == name and len(r.options) >= 2]
    if not records:
        raise SystemExit(f"error: no QA items on {video}; run main.py synth-qa on it first")
    return next((r for r in records if r.task == "body_part_pose"), records[0])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip")
    p.add_argument("--project", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--frame", type=int, default=40)
    p.add_argument("--views", default=",".join(VIEWS))
    p.add_argument("--pair", default="", help="compare-frames: frames A,B (default: chosen)")
    p.add_argument("--root", action="store_true", help="also grab the X screen")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import app  # noqa: F401 (the PySide6 guard first)
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext
    from app.settings import UserSettings
    from models.store import Repository
    from widgets import dialogs
    from widgets.main_window import MainWindow
    from widgets.theme import apply_theme

    qapp = QApplication.instance() or QApplication(["gui_pictures"])
    apply_theme(qapp)
    dialogs.set_handler(lambda kind, title, text, parent: print(f"{kind}: {text}", file=sys.stderr))
    ctx = AppContext(Repository(args.project), settings=UserSettings(out / "settings.json"))
    win = MainWindow(ctx)
    win.resize(1920, 1200)
    win.show()
    player = ctx.player
    win.open_path(os.path.abspath(args.clip))
    wait(player.trackChanged, condition=lambda: player.track is not None and player.track.complete)
    player.seek(args.frame)
    wait(player.frameChanged, condition=lambda: player.current_frame == args.frame)
    for name in args.views.split(","):
        if name == "window":
            save(win, out, "window", args.root)
        elif name == "evaluation-docked":      # in its bottom tab, as the window opens it
            panel, dock = win.panels["evaluation"], win.docks["evaluation"]
            dock.show()
            dock.raise_()
            runs = [r["id"] for r in panel.controller.runs()][:2]
            panel.select_runs(runs)
            panel.show_runs(runs)
            save(win, out, "evaluation-docked", args.root)
        elif name == "evaluation":
            panel, dock = win.panels["evaluation"], win.docks["evaluation"]
            dock.setFloating(True)
            dock.show()
            dock.resize(1700, 700)
            runs = [r["id"] for r in panel.controller.runs()][:2]
            panel.select_runs(runs)
            panel.show_runs(runs)
            panel.compare_selected()
            save(dock, out, "evaluation", args.root)
            dock.hide()
        elif name == "curation":
            panel = win.panels["curation"]
            win.docks["curation"].show()
            win.docks["curation"].raise_()
            win.docks["compare"].show()
            rows = [r for r in range(panel.model.rowCount())
                    if (panel.model._row(r) or {}).get("task") == "spatial_difference"]
            panel.select_row(rows[0] if rows else 0)
            settle(1500)
            win.panels["compare"]._on_marks()
            win.docks["compare"].raise_()
            from PySide6.QtWidgets import QSplitter  # noqa: PLC0415

            panel.findChild(QSplitter).setSizes([300, 640])   # the editor and its facts table
            settle(1500)
            save(win, out, "curation", args.root)
            win.docks["compare"].hide()
        elif name == "motion":
            panel, dock = win.panels["motion"], win.docks["motion"]
            dock.setFloating(True)
            dock.show()
            dock.resize(1300, 620)
            settle()
            panel.analyse()
            save(dock, out, "motion", args.root)
            dock.hide()
        elif name == "compare-frames":
            panel, dock = win.panels["compare"], win.docks["compare"]
            dock.setFloating(True)
            dock.show()
            dock.resize(1400, 750)       # the panel itself ~1400x720 under the title bar
            settle()
            a, b = (tuple(int(x) for x in args.pair.split(",")) if args.pair
                    else pick_pair(player.track))
            done = []
            panel.ctrl.pairReady.connect(done.append)
            panel.ctrl.pairFailed.connect(done.append)
            ctx.marks.mark_a(player.path, a)
            ctx.marks.mark_b(player.path, b)
            wait([panel.ctrl.pairReady, panel.ctrl.pairFailed], condition=lambda: bool(done))
            if not done or isinstance(done[0], str):
                raise SystemExit(f"error: no comparison of frames {a} and {b}: "
                                 f"{done[0] if done else 'timed out'}")
            save(panel, out, "compare-frames", args.root)
            dock.hide()
        elif name == "compare-models":
            from models.vlm.tiny import build_tiny_checkpoint  # noqa: PLC0415

            panel = win.panels["compare_models"]
            labels = []
            for family in TINY_FAMILIES:
                folder = out / "tiny" / family
                if not (folder / "config.json").is_file():
                    build_tiny_checkpoint(family, folder, seed=0)
                labels.append(panel.controller.add_choice(str(folder), remember=False).label)
            labels.append("Rule-based describer")
            size = win.size()
            win.resize(1700, 1050)
            dock = win.show_panel("compare_models")
            win.resizeDocks([dock], [660], Qt.Orientation.Vertical)    # the columns in full
            for picker, label in zip(panel.pickers, labels + ["(none)"] * len(panel.pickers)):
                if not picker.select_label(label):
                    raise SystemExit(f"error: no backend {label!r} to choose")
            rec = pick_question(ctx.repo, str(player.path))
            panel.form.set_template("mcq_letter")
            panel.form.question.setText(rec.question)
            panel.form.options.setText(" | ".join(rec.options))
            panel.form.answer.setValue(rec.answer_index)
            panel.form.max_tokens.setValue(16)
            settle()
            finished, failed = [], []
            panel.controller.finished.connect(lambda rid, _a: finished.append(rid))
            panel.controller.failed.connect(lambda rid, m: failed.append((rid, m)))
            panel.run_button.click()
            wait([panel.controller.finished, panel.controller.failed], 300000,
                 condition=lambda: panel.rid in finished or any(r == panel.rid for r, _ in failed))
            if panel.rid not in finished:
                why = "; ".join(m for r, m in failed if r == panel.rid) or "timed out"
                raise SystemExit(f"error: the comparison did not finish: {why}")
            settle(800)
            save(win, out, "compare-models", args.root)
            win.docks["compare_models"].hide()
            win.resize(size)
        elif name == "people":
            show_people(win, out, args.root)
        elif name == "finetune":
            show_finetune(win, out, Path(args.clip).resolve().parent, args.root)
        elif name == "dataset-runs":
            size = win.size()
            win.resize(1440, 900)
            root = (out / "runs").resolve()
            run_dir = make_demo_run(Path(args.clip).resolve(), out.resolve(), root)
            dock = win.show_panel("dataset_runs")
            panel = win.panels["dataset_runs"]
            panel.controller.set_root(str(root))
            panel.controller.refresh()
            panel.select_run(str(run_dir))
            settle(1000)
            save(win, out, "dataset-runs", args.root)
            dock.hide()
            win.resize(size)
    ctx.shutdown()
    return 0


def sharp_tiny_base(folder: Path, scale: float = 20.0) -> Path:
    """A tiny random Qwen2.5-VL whose output layer is ``scale`` times larger (a 32-wide
    random model barely moves its logits otherwise); built once under ``folder``."""
    from models.vlm.tiny import build_tiny_checkpoint  # noqa: PLC0415

    if (folder / "config.json").is_file():
        return folder
    build_tiny_checkpoint("qwen2_5_vl", folder, seed=0)
    from safetensors.torch import load_file, save_file  # noqa: PLC0415

    path = folder / "model.safetensors"
    weights = load_file(str(path))
    for k in [k for k in weights if k.endswith("lm_head.weight")]:
        weights[k] = (weights[k].float() * scale).to(weights[k].dtype)
    save_file(weights, str(path), metadata={"format": "pt"})
    return folder


def show_finetune(win, out: Path, videos: Path, root: bool) -> None:
    """The Fine-tune panel after a short run on the project's accepted items."""
    import shutil  # noqa: PLC0415

    base = sharp_tiny_base(out / "tiny" / "qwen2_5_vl-sharp")
    adapter = out / "finetune-adapter"
    shutil.rmtree(adapter, ignore_errors=True)
    panel, dock = win.panels["finetune"], win.docks["finetune"]
    dock.setFloating(True)
    dock.show()
    dock.resize(1500, 640)
    win.ctx.vlm.add_choice(str(base), remember=False)
    panel.set_base(str(base))
    panel.video_edit.setText(str(videos))
    panel.lr_edit.setText("2e-3")
    panel.epochs_spin.setValue(6)
    panel.frames_spin.setValue(2)
    panel.pixels_spin.setValue(56 * 56)
    panel.out_edit.setText(str(adapter))
    panel.extra = {"dropout": 0.0, "checkpoint_every": 0, "device": "cpu"}
    if not panel.start():
        raise SystemExit("error: the fine-tune did not start")
    wait([panel.controller.finished, panel.controller.failed], 600000,
         condition=lambda: not panel.controller.busy)
    if not panel.card:
        raise SystemExit("error: the fine-tune did not finish")
    settle(800)
    save(dock, out, "finetune", root)
    dock.hide()


def show_people(win, out: Path, root: bool) -> None:
    """The window with every person of the clip (extracted first when the project has
    none) and the People panel in front, on a frame where the two people seen most are
    both posed; back to single-person poses afterwards."""
    import numpy as np  # noqa: PLC0415

    ctx, player = win.ctx, win.ctx.player
    size = win.size()
    win.resize(1560, 940)
    ctx.poses.set_every_person(True)
    wait([player.trackChanged, ctx.poses.failed], 600000,
         condition=lambda: bool(player.people) or not ctx.poses.busy)
    if not player.people:
        raise SystemExit("error: nobody found in the clip")
    most = sorted(player.people, key=lambda p: -int(player.people[p].has_pose.sum()))[:2]
    seen = np.logical_and.reduce([player.people[p].has_pose for p in most])
    frames = np.flatnonzero(seen)
    frame = int(frames[len(frames) // 2]) if len(frames) else 0
    player.seek(frame)
    wait(player.frameChanged, condition=lambda: player.current_frame == frame)
    win.show_panel("people")
    win.show_panel("describe")
    settle(1000)
    save(win, out, "people", root)
    ctx.poses.set_every_person(False)
    win.resize(size)


def make_demo_run(clip: Path, out: Path, root: Path) -> Path:
    """A real run over the clip, a one-byte-different copy of it and a text file."""
    import shutil  # noqa: PLC0415

    from models.engine.run import run_config_file  # noqa: PLC0415

    src = out / "run_input"
    src.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, src / clip.name)
    copy = src / f"copy_of_{clip.name}"
    copy.write_bytes(clip.read_bytes() + b"\0")
    (src / "notes.txt").write_text("not a video\n")
    (src / "list.csv").write_text(f"video\n{clip.name}\n{copy.name}\nnotes.txt\n")
    cfg = out / "demo_run.toml"
    cfg.write_text(f'[run]\nmanifest = "{src / "list.csv"}"\noutput = "{root / "demo"}"\n'
                   '[stages.poses]\n[stages.qa]\n[stages.p1_describe]\nmodel = "rule"\n'
                   'windows = 2\n')
    if not (root / "demo" / "run.json").is_file():
        run_config_file(cfg)
    return root / "demo"


if __name__ == "__main__":
    sys.exit(main())
