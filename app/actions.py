"""Declarative table of the window's actions: menus, shortcuts and handlers are data.

``handler`` is "target.method" or "target.method:arg" where target is one of the objects
the window exposes (window, player, marks, poses) and ``arg`` is a JSON literal passed as
the single argument. Actions sharing a ``group`` are exclusive choices (radio items): each
runs its handler when chosen, and the window keeps the checked one in step with the
state it stands for. Keyboard shortcuts follow video tools: Space, Left/Right (frame),
Shift+Left/Right (1 s), Home/End, A/B (mark frames), L (A-B loop), [ ] = (speed), Ctrl+G
(go to a frame or a time).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    menu: str
    handler: str
    shortcut: str = ""
    tip: str = ""
    checkable: bool = False
    separator_before: bool = False
    group: str = ""          # exclusive choice among the actions of the same group


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("file.open_video", "&Open Video…", "&File", "window.open_video_dialog", "Ctrl+O",
               "Open a video file (mp4, avi, mov, mkv, webm)"),
    ActionSpec("file.open_folder", "Open &Folder…", "&File", "window.open_folder_dialog",
               "Ctrl+Shift+O", "Open a folder of videos as a dataset"),
    ActionSpec("file.import_coco", "Import &COCO Keypoints…", "&File", "window.import_coco_dialog",
               "", "Show the images and skeletons of a COCO keypoints JSON",
               separator_before=True),
    ActionSpec("file.export", "&Export Benchmark…", "&File", "export.open_dialog", "Ctrl+Shift+E",
               "Export the QA set to lmms-eval, VLMEvalKit, Hugging Face, training data ..."),
    ActionSpec("file.finetune", "&Fine-tune a Model…", "&File", 'window.show_panel:"finetune"', "",
               "Train a LoRA adapter on the accepted QA items and compare it with its base"),
    ActionSpec("file.preferences", "&Preferences…", "&File", "help.preferences", "Ctrl+,",
               "Default project, model folders, servers, device, theme",
               separator_before=True),
    ActionSpec("file.quit", "&Quit", "&File", "window.close", "Ctrl+Q", separator_before=True),
    ActionSpec("play.toggle", "&Play / Pause", "&Playback", "player.toggle", "Space"),
    ActionSpec("play.prev", "Previous Frame", "&Playback", "player.step:-1", "Left",
               separator_before=True),
    ActionSpec("play.next", "Next Frame", "&Playback", "player.step:1", "Right"),
    ActionSpec("play.back_1s", "Back 1 s", "&Playback", "player.jump:-1.0", "Shift+Left"),
    ActionSpec("play.fwd_1s", "Forward 1 s", "&Playback", "player.jump:1.0", "Shift+Right"),
    ActionSpec("play.start", "First Frame", "&Playback", "player.seek_start", "Home"),
    ActionSpec("play.end", "Last Frame", "&Playback", "player.seek_end", "End"),
    ActionSpec("play.goto", "&Go to Frame or Time…", "&Playback", "window.focus_goto", "Ctrl+G",
               "Type a frame number (120) or a time (4.5 s, 0:04.5) in the transport bar"),
    ActionSpec("play.slower", "Slower", "&Playback", "player.slower", "[", separator_before=True),
    ActionSpec("play.faster", "Faster", "&Playback", "player.faster", "]"),
    ActionSpec("play.normal_speed", "Normal Speed", "&Playback", "player.normal_speed", "="),
    ActionSpec("marks.a", "Mark Frame &A", "&Marks", "marks.mark_a", "A",
               "Mark the displayed frame as frame A"),
    ActionSpec("marks.b", "Mark Frame &B", "&Marks", "marks.mark_b", "B",
               "Mark the displayed frame as frame B"),
    ActionSpec("marks.loop", "A–B &Loop", "&Marks", "marks.toggle_loop", "L",
               "Play frames A to B over and over (L again stops)"),
    ActionSpec("marks.clear", "Clear Marks", "&Marks", "marks.clear"),
    ActionSpec("poses.extract", "&Extract Poses", "P&oses", "poses.extract", "Ctrl+E",
               "Extract (or resume) poses of the open clip"),
    ActionSpec("poses.extract_all", "Extract Poses of &All Clips", "P&oses", "poses.extract_all",
               "", "Extract every clip of the open folder (resumable)"),
    ActionSpec("poses.cancel", "&Cancel Extraction", "P&oses", "poses.cancel", "",
               "Stop the running extraction; it resumes next time"),
    ActionSpec("poses.single_person", "&Single Person", "P&oses",
               "poses.set_every_person:false", "",
               "Pose one person per clip (the tracked single-person landmarker)",
               checkable=True, separator_before=True, group="poses.people"),
    ActionSpec("poses.every_person", "E&very Person", "P&oses", "poses.set_every_person:true",
               "", "Pose every person of a clip, each with their own colour and number; "
               "click one on the video (or in the People panel) to follow them",
               checkable=True, group="poses.people"),
    ActionSpec("view.fit", "&Fit Video", "&View", "window.fit_video", "F"),
    ActionSpec("view.overlay", "Skeleton &Overlay", "&View", "window.set_overlay", "O",
               checkable=True),
    ActionSpec("view.reset_layout", "&Reset Layout", "&View", "window.reset_layout", "",
               "Put every panel back where it was on first start", separator_before=True),
    ActionSpec("view.floatable", "Allow &Floating Panels", "&View", "window.set_docks_floatable",
               "", "Let panels be dragged out of the window (off: a drag on a title bar can "
               "only move a panel to another side)", checkable=True),
    ActionSpec("help.shortcuts", "&Keyboard Shortcuts", "&Help", "help.shortcuts", "?",
               "Every keyboard shortcut of the window and its panels"),
    ActionSpec("help.models", "How to Get a &Model…", "&Help", "help.models", "",
               "Which vision-language models work, how to download one, where the app looks"),
    ActionSpec("help.about", "&About ActionArt Studio", "&Help", "help.about", "",
               "Versions, licences, the demo clip's origin", separator_before=True),
)


@dataclass(frozen=True)
class Lazy:
    """A handler target built on first use as ``factory(window)``: the window registers
    its feature targets (export ...) this way, so they load only when first triggered."""
    factory: Callable[[Any], Any]


def target(name: str, targets: dict[str, Any]) -> Any:
    """The object ``name`` of ``targets``, building a ``Lazy`` entry on first use."""
    if name not in targets:
        raise KeyError(f"unknown action target '{name}'")
    if isinstance(targets[name], Lazy):
        targets[name] = targets[name].factory(targets["window"])
    return targets[name]


def resolve(handler: str, targets: dict[str, Any]) -> Callable[..., Any]:
    """A callable running ``handler``. Without a ":arg" it forwards its own arguments
    (the checked state of a checkable action); the method is looked up at call time."""
    ref, _, arg = handler.partition(":")
    name, _, method = ref.partition(".")

    def call(*extra):
        fn = getattr(target(name, targets), method)
        return fn(json.loads(arg)) if arg else fn(*extra)
    return call


def menus() -> list[str]:
    """Menu titles in the order they first appear in the table."""
    return list(dict.fromkeys(spec.menu for spec in ACTIONS))
