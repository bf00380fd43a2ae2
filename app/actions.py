"""Declarative table of the window's actions: menus, shortcuts and handlers are data.

``handler`` is "target.method" or "target.method:arg" where target is one of the objects
the window exposes (window, player, marks, poses) and ``arg`` is a JSON literal passed as
the single argument. Keyboard shortcuts follow video tools: Space, Left/Right (frame),
Shift+Left/Right (1 s), Home/End, A/B (mark frames).
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
    ActionSpec("file.quit", "&Quit", "&File", "window.close", "Ctrl+Q", separator_before=True),
    ActionSpec("play.toggle", "&Play / Pause", "&Playback", "player.toggle", "Space"),
    ActionSpec("play.prev", "Previous Frame", "&Playback", "player.step:-1", "Left",
               separator_before=True),
    ActionSpec("play.next", "Next Frame", "&Playback", "player.step:1", "Right"),
    ActionSpec("play.back_1s", "Back 1 s", "&Playback", "player.jump:-1.0", "Shift+Left"),
    ActionSpec("play.fwd_1s", "Forward 1 s", "&Playback", "player.jump:1.0", "Shift+Right"),
    ActionSpec("play.start", "First Frame", "&Playback", "player.seek_start", "Home"),
    ActionSpec("play.end", "Last Frame", "&Playback", "player.seek_end", "End"),
    ActionSpec("marks.a", "Mark Frame &A", "&Marks", "marks.mark_a", "A",
               "Mark the displayed frame as frame A"),
    ActionSpec("marks.b", "Mark Frame &B", "&Marks", "marks.mark_b", "B",
               "Mark the displayed frame as frame B"),
    ActionSpec("marks.clear", "Clear Marks", "&Marks", "marks.clear"),
    ActionSpec("poses.extract", "&Extract Poses", "P&oses", "poses.extract", "Ctrl+E",
               "Extract (or resume) poses of the open clip"),
    ActionSpec("poses.extract_all", "Extract Poses of &All Clips", "P&oses", "poses.extract_all",
               "", "Extract every clip of the open folder (resumable)"),
    ActionSpec("poses.cancel", "&Cancel Extraction", "P&oses", "poses.cancel", "",
               "Stop the running extraction; it resumes next time"),
    ActionSpec("view.fit", "&Fit Video", "&View", "window.fit_video", "F"),
    ActionSpec("view.overlay", "Skeleton &Overlay", "&View", "window.set_overlay", "O",
               checkable=True),
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
