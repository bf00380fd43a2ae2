"""The clip list marks variable-frame-rate clips (read from the container's index)."""
from __future__ import annotations

import shutil

from models.video import probe
from tests.conftest import CLIPS
from tests.gui_support import ctx, dialogs_seen  # noqa: F401
from tests.media_tools import make_vfr_clip

T = 15000


def test_clip_list_says_vfr_for_variable_rate_clips_only(qtbot, ctx, dialogs_seen, tmp_path):
    from widgets.main_window import MainWindow

    folder = tmp_path / "clips"
    folder.mkdir()
    make_vfr_clip(CLIPS / "tai_chi.mp4", folder / "b_phone.mp4", 10, 40, step=2)
    shutil.copy(CLIPS / "arm_wrestling.mp4", folder / "a_steady.mp4")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.ctx.player.frameChanged, timeout=T):
        assert win.open_path(folder)
    qtbot.waitUntil(lambda: win.ctx.dataset.loaded, timeout=T)
    rows = win.panels["clips"].row_texts()
    assert [r[0].splitlines()[0] for r in rows] == ["a_steady.mp4", "b_phone.mp4"]
    assert "VFR" not in rows[0][0]
    assert rows[1][0].splitlines()[1].endswith("fps · VFR")
    assert probe(folder / "b_phone.mp4").times.vfr
