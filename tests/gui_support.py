"""Helpers shared by the GUI-layer tests (tests/app, tests/widgets): an AppContext on an
isolated project, dialog capture, synthetic pose tracks with known pixel positions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.pose.track import PoseTrack


@pytest.fixture
def ctx(qtbot, project, tmp_path):
    from app.context import AppContext
    from app.settings import UserSettings

    c = AppContext(project, settings=UserSettings(tmp_path / "settings.json"))
    c.poses.auto_extract = False
    yield c
    c.shutdown()


@pytest.fixture
def dialogs_seen():
    """Intercept every dialog; the list receives (kind, title, text)."""
    from widgets import dialogs

    seen: list = []
    previous = dialogs.set_handler(lambda kind, title, text, parent: seen.append((kind, title, text)))
    yield seen
    dialogs.set_handler(previous)


def synthetic_track(frames: int, width: int, height: int, no_pose=()) -> PoseTrack:
    """A standing figure whose x offset encodes the frame index (1 px per frame), so a
    test can tell which frame's pose is drawn. World landmarks give known angles."""
    from models.pose.skeleton import blazepose

    sk = blazepose()
    base = {"nose": (0.5, 0.2), "left_shoulder": (0.55, 0.3), "right_shoulder": (0.45, 0.3),
            "left_elbow": (0.6, 0.42), "right_elbow": (0.4, 0.42), "left_wrist": (0.62, 0.52),
            "right_wrist": (0.38, 0.52), "left_hip": (0.53, 0.55), "right_hip": (0.47, 0.55),
            "left_knee": (0.54, 0.72), "right_knee": (0.46, 0.72), "left_ankle": (0.54, 0.9),
            "right_ankle": (0.46, 0.9)}
    image = np.full((frames, sk.n, 4), np.nan, dtype=np.float32)
    for name, (x, y) in base.items():
        j = sk.index(name)
        image[:, j, 0] = x + np.arange(frames) / width
        image[:, j, 1] = y
        image[:, j, 2] = 0.0
        image[:, j, 3] = 0.95
    world = image.copy()
    world[..., :2] = (image[..., :2] - 0.5) * 2.0
    world[..., 2] = 0.0
    for f in no_pose:
        image[f] = np.nan
        world[f] = np.nan
    return PoseTrack(image, world, 25.0, width, height, backend="synthetic")


@pytest.fixture
def window(qtbot, ctx, dialogs_seen):
    """The real main window on ``ctx``, shown at 1200x800."""
    from widgets.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    return win


def open_in(qtbot, win, path, timeout: int = 15000) -> None:
    """Open ``path`` in the window and wait until its first frame is shown."""
    with qtbot.waitSignal(win.ctx.player.frameChanged, timeout=timeout):
        assert win.open_path(path)


def picture_of(world: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalised image landmarks of a world pose seen from the front (same pixels per metre
    on both axes), so the pose reliability check finds the picture and the 3-D pose agree."""
    px = 0.3 * height
    img = np.array(world, dtype=np.float32, copy=True)
    img[..., 0] = 0.5 + world[..., 0] * px / width
    img[..., 1] = 0.5 + world[..., 1] * px / height
    return img


def sequential_frames(path: Path, wanted) -> dict[int, np.ndarray]:
    """Frames decoded strictly in order (the reference for frame-exact seeking)."""
    from models.video import VideoReader

    wanted, out = set(wanted), {}
    with VideoReader(path) as r:
        for i, frame in r.frames():
            if i in wanted:
                out[i] = frame
            if len(out) == len(wanted):
                break
    return out
