"""Main window: lays out the central video panel and the docks of widgets/panels.py, builds
menus from app/actions.py, and wires controller signals to the status bar and dialogs.
No business rules live here."""
from __future__ import annotations

import importlib
import logging
import os

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QStyle, QWidget

from app import actions
from models.errors import StudioError
from models.video import is_video_path

from . import dialogs
from .panels import PANELS, PanelSpec
from .status_bar import StatusBarPanel
from .video.panel import VideoPanel

log = logging.getLogger(__name__)
AREAS = {"left": Qt.DockWidgetArea.LeftDockWidgetArea,
         "right": Qt.DockWidgetArea.RightDockWidgetArea,
         "top": Qt.DockWidgetArea.TopDockWidgetArea,
         "bottom": Qt.DockWidgetArea.BottomDockWidgetArea}
FRONT_PANELS = {"describe"}  # in front of the other tabs of their area (about the frame shown)
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"
LAYOUT_SAVE_DELAY_MS = 1000  # a layout change is written this long after the last one
SIDE_SHARE = {"left": 0.19, "right": 0.28}   # default dock widths (share of the window)
MAX_SHARE = {"left": 0.25, "right": 0.42}    # ... grown to fit their panels up to these
MAX_BOTTOM_SHARE = 0.45  # a bottom panel opened from the View menu grows up to this height
FLOATABLE_KEY = "docks_floatable"   # user setting: panels may be torn off as windows
# Without DockWidgetFloatable a drag on a title bar (easy to start by accident next to a
# splitter) can only move the panel to another dock area, never tear it off as a window.
DOCK_FEATURES = (QDockWidget.DockWidgetFeature.DockWidgetClosable
                 | QDockWidget.DockWidgetFeature.DockWidgetMovable)


LAST_FOLDER_KEY = "last_open_folder"


def _first_focusable(panel: QWidget):
    """The first widget of ``panel`` that takes the focus with Tab (None if none)."""
    w = panel.nextInFocusChain()
    while w is not None and w is not panel:
        if panel.isAncestorOf(w) and w.isEnabled() and w.isVisibleTo(panel) and \
                w.focusPolicy() & Qt.FocusPolicy.TabFocus:
            return w
        w = w.nextInFocusChain()
    return None


def load_factory(ref: str):
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def export_launcher(window):
    """The File > Export target (built on first use: the export dialog loads late)."""
    from .export.dialog import ExportLauncher  # noqa: PLC0415 (loaded on first trigger)

    return ExportLauncher(window)


def action_targets(window) -> dict:
    """The handler targets of the action table for ``window`` (which has a ``ctx``); feature
    ones (export, help) are built on first use."""
    ctx = window.ctx
    return {"window": window, "player": ctx.player, "marks": ctx.marks, "poses": ctx.poses,
            "export": actions.Lazy(export_launcher), "help": actions.Lazy(help_launcher)}


def help_launcher(window):
    """The Help menu's target (built on first use)."""
    from .help import HelpLauncher  # noqa: PLC0415 (loaded on first trigger)

    return HelpLauncher(window)


def _scrollable(widget: QWidget) -> QScrollArea:
    """A dock panel inside a frameless scroll area: its dock may then be narrower than the
    panel's own minimum width (the video keeps the space; the panel scrolls), so no panel
    can make the window wider or taller than a small (or 1.5x scaled) screen."""
    area = QScrollArea()
    area.setObjectName(f"scroll-{widget.objectName() or type(widget).__name__}")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


class MainWindow(QMainWindow):
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("ActionArt Studio")
        self.setAcceptDrops(True)
        self.resize(1440, 900)
        self.video = VideoPanel(ctx)
        self.setCentralWidget(self.video)
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.actions_by_id: dict[str, QAction] = {}
        self._front_docks: list[QDockWidget] = []
        self._autosave = False
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(LAYOUT_SAVE_DELAY_MS)
        self._layout_timer.timeout.connect(self.save_layout)
        self.status = StatusBarPanel(ctx, self.statusBar(), self)
        self.progress, self.cancel_button = self.status.progress, self.status.cancel_button
        self._build_menus()
        self.build_panels()
        self._docks_sized = False
        self._fitted = False
        self.keep_on_screen = True   # off for --screenshot: an offscreen render of a chosen size
        self._default_state = self.saveState()   # View > Reset Layout goes back to it
        floatable = bool(ctx.settings.get(FLOATABLE_KEY, False))
        self.actions_by_id["view.floatable"].setChecked(floatable)
        self.set_docks_floatable(floatable)
        self._wire()

    # -- construction ---------------------------------------------------------------------------
    def build_panels(self, specs: list[PanelSpec] | None = None) -> None:
        for spec in PANELS if specs is None else specs:
            try:
                widget = load_factory(spec.factory)(self.ctx, None)
            except Exception as exc:  # noqa: BLE001 (a broken panel must not stop the app)
                log.exception("panel %s failed to load", spec.id)
                self.ctx.message(f"Panel '{spec.title}' could not be loaded: {exc}", 0)
                continue
            self._add_dock(spec, widget)
        self._tabify_areas()

    def _tabify_areas(self) -> None:
        """Docks sharing an area become tabs of one dock (a FRONT_PANELS one, else the
        first visible one, in front), so the side panels never squeeze the video."""
        by_area: dict[str, list] = {}
        for spec in PANELS:
            if spec.id in self.docks:
                by_area.setdefault(spec.area, []).append(spec)
        for specs in by_area.values():
            docks = [self.docks[s.id] for s in specs]
            for other in docks[1:]:
                self.tabifyDockWidget(docks[0], other)
            shown = [s for s in specs if s.visible]
            shown.sort(key=lambda s: s.id not in FRONT_PANELS)
            front = self.docks[shown[0].id] if shown else None
            if front is not None and len(docks) > 1:
                front.raise_()
                self._front_docks.append(front)  # raised again when first shown

    def _add_dock(self, spec: PanelSpec, widget: QWidget) -> None:
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(f"dock-{spec.id}")
        dock.setWidget(_scrollable(widget))
        self.addDockWidget(AREAS.get(spec.area, Qt.DockWidgetArea.LeftDockWidgetArea), dock)
        dock.setFeatures(DOCK_FEATURES)
        dock.setVisible(spec.visible)
        # opened from the View menu: in front of the tabs of its area, with the focus
        dock.toggleViewAction().triggered.connect(
            lambda checked, pid=spec.id: checked and self.show_panel(pid))
        for signal in (dock.dockLocationChanged, dock.topLevelChanged, dock.visibilityChanged):
            signal.connect(self._layout_changed)
        dock.installEventFilter(self)  # separator drags resize it; floating docks move
        self.panels[spec.id], self.docks[spec.id] = widget, dock
        if self._view_menu is not None:
            self._view_menu.addAction(dock.toggleViewAction())

    def _size_docks(self) -> None:
        """Initial dock sizes: the video keeps the largest share of the window; a side
        dock is as wide as its panels need (every button reachable without scrolling) up
        to MAX_SHARE of the window."""
        w, h = self.width(), self.height()
        by_area: dict[str, list] = {}
        for spec in PANELS:
            if spec.id in self.docks and spec.visible:
                by_area.setdefault(spec.area, []).append(self.docks[spec.id])
        for area, share in SIDE_SHARE.items():
            if by_area.get(area):
                width = max(int(w * share), min(self.content_width(area), int(w * MAX_SHARE[area])))
                self.resizeDocks(by_area[area][:1], [width], Qt.Orientation.Horizontal)
        if by_area.get("bottom"):
            self.resizeDocks(by_area["bottom"][:1], [int(h * 0.26)], Qt.Orientation.Vertical)

    def content_width(self, area: str) -> int:
        """Width a dock of ``area`` needs to show its widest panel without scrolling
        sideways (panel minimum + a vertical scroll bar + the dock's frame)."""
        ids = [s.id for s in PANELS if s.area == area and s.id in self.panels]
        if not ids:
            return 0
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        frame = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetFrameWidth)
        return max(max(self.panels[i].minimumSizeHint().width(), self.panels[i].minimumWidth())
                   for i in ids) + bar + frame + 2

    def show_panel(self, panel_id: str) -> QDockWidget:
        """Show a dock in front of the other tabs of its area and give it the focus (a
        panel opened from the View menu must never stay hidden behind another tab)."""
        dock = self.docks[panel_id]
        dock.show()
        dock.raise_()
        if self.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea \
                and not dock.isFloating():
            need = self.panels[panel_id].minimumSizeHint().height() + 40   # + title bar
            height = min(need, int(self.height() * MAX_BOTTOM_SHARE))
            if dock.height() < height:
                self.resizeDocks([dock], [height], Qt.Orientation.Vertical)
        panel = self.panels[panel_id]
        target = _first_focusable(panel)
        (target or panel).setFocus(Qt.FocusReason.OtherFocusReason)
        return dock

    def _targets(self) -> dict:
        return action_targets(self)

    def _build_menus(self) -> None:
        menus = {title: self.menuBar().addMenu(title) for title in actions.menus()}
        targets = self._targets()
        groups: dict[str, QActionGroup] = {}
        for spec in actions.ACTIONS:
            act = QAction(spec.text, self)
            act.setObjectName(spec.id)
            if spec.shortcut:
                act.setShortcut(QKeySequence(spec.shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setToolTip(spec.tip or spec.text)
            act.setCheckable(spec.checkable)
            handler = actions.resolve(spec.handler, targets)
            if spec.group:       # a radio item: runs when chosen (never when unchecked)
                groups.setdefault(spec.group, QActionGroup(self)).addAction(act)
                act.triggered.connect(lambda _c=False, h=handler: h())
            elif spec.checkable:
                act.toggled.connect(handler)
            else:
                act.triggered.connect(lambda _c=False, h=handler: h())
            if spec.separator_before:
                menus[spec.menu].addSeparator()
            menus[spec.menu].addAction(act)
            self.addAction(act)
            self.actions_by_id[spec.id] = act
        self.actions_by_id["view.overlay"].setChecked(True)
        self._show_people_mode(self.ctx.poses.every_person)
        self.ctx.poses.modeChanged.connect(self._show_people_mode)
        from PySide6.QtWidgets import QMenu  # noqa: PLC0415

        # Open Recent sits with the Open entries (above Quit)
        self._recent_menu = QMenu("Open &Recent", self)
        self._recent_menu.setObjectName("file.recent")
        file_menu, after = menus["&File"], self.actions_by_id["file.open_folder"]
        entries = file_menu.actions()
        before = entries[entries.index(after) + 1] if entries.index(after) + 1 < len(entries) \
            else None
        file_menu.insertMenu(before, self._recent_menu)
        self._recent_menu.aboutToShow.connect(self._fill_recent)
        self._view_menu = menus["&View"]
        self._view_menu.addSeparator()

    def _show_people_mode(self, every: bool) -> None:
        """Poses > Single Person / Every Person: the checked one is the controller's mode."""
        self.actions_by_id["poses.every_person" if every else "poses.single_person"] \
            .setChecked(True)

    # -- wiring ---------------------------------------------------------------------------------
    def _wire(self) -> None:
        c = self.ctx
        c.statusMessage.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        c.warning.connect(lambda title, text: dialogs.warning(title, text, self))
        c.jobs.jobFailed.connect(lambda _id, msg: self.statusBar().showMessage(msg, 0))
        c.player.openFailed.connect(self._on_open_failed)
        c.player.error.connect(lambda msg: dialogs.error("Cannot decode frame", msg, self))
        c.player.clipChanged.connect(self._on_clip)
        c.player.openFailed.connect(lambda path, _msg: self._forget_recent(path))
        self.video.overlay_box.toggled.connect(self.actions_by_id["view.overlay"].setChecked)
        c.poses.failed.connect(lambda _p, msg: dialogs.error("Pose extraction failed", msg, self))

    def _on_clip(self, path: str) -> None:
        if self._pending_recent is not None and \
                os.path.abspath(path) == os.path.abspath(self._pending_recent):
            self.ctx.settings.add_recent_file(path)   # listed only once it really opened
            self._pending_recent = None
        info = self.ctx.player.video_info
        self.setWindowTitle(f"{os.path.basename(path)} — ActionArt Studio")
        self.statusBar().showMessage(f"{os.path.basename(path)}: {info.width}x{info.height}, "
                                     f"{info.fps:.2f} fps, {info.frame_count} frames", 5000)

    def _on_open_failed(self, path: str, message: str) -> None:
        self.setWindowTitle("ActionArt Studio")     # the previous clip is closed
        self.video.view.clear("cannot open this clip")
        self.statusBar().showMessage(message, 0)
        dialogs.error("Cannot open video", message, self)

    # -- intents (handlers of the action table) ------------------------------------------------
    _pending_recent = None

    def _forget_recent(self, path: str) -> None:
        if self._pending_recent is not None and \
                os.path.abspath(path) == os.path.abspath(self._pending_recent):
            self._pending_recent = None
        self.ctx.settings.remove_recent(path)

    def open_path(self, path) -> bool:
        """Open a video or a folder; a bad path becomes a dialog, never an exception.
        Open Recent lists a file once it opened (a folder once it held videos)."""
        path = str(path)
        try:
            if os.path.isdir(path):
                clips = self.ctx.dataset.open_folder(path)
                if not clips:
                    self.ctx.settings.remove_recent(path)
                    dialogs.warning("No videos", f"No video files in {path}", self)
                    return False
                self.ctx.settings.add_recent_folder(path)
                self.ctx.player.open(clips[0])
                return True
            if not os.path.exists(path):
                raise StudioError(f"File not found: {path}")
            if not is_video_path(path):
                raise StudioError(f"Unsupported file type '{os.path.splitext(path)[1] or '(none)'}'"
                                  f" for {os.path.basename(path)}")
        except StudioError as exc:
            dialogs.error("Cannot open", str(exc), self)
            self.statusBar().showMessage(str(exc), 0)
            return False
        self.ctx.dataset.set_single(path)
        self._pending_recent = path
        self.ctx.player.open(path)
        return True

    def last_folder(self) -> str:
        """Where the open dialogs start: the folder of the last video or folder chosen."""
        folder = self.ctx.settings.get(LAST_FOLDER_KEY)
        return folder if isinstance(folder, str) and os.path.isdir(folder) else ""

    def _remember_folder(self, path: str) -> None:
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.ctx.settings.set(LAST_FOLDER_KEY, folder)

    def open_video_dialog(self) -> None:
        path = dialogs.open_file(self, "Open video", VIDEO_FILTER, self.last_folder())
        if path:
            self._remember_folder(path)
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        start = self.last_folder()
        path = dialogs.open_folder(self, "Open folder of videos", os.path.dirname(start) or start)
        if path:
            self._remember_folder(path)
            self.open_path(path)

    def import_coco_dialog(self) -> None:
        path = dialogs.open_file(self, "Import COCO keypoints", "COCO JSON (*.json);;All files (*)")
        if path:
            self.show_coco(path)

    def show_coco(self, path):
        from .coco_browser import CocoBrowser  # noqa: PLC0415 (rarely used)

        try:
            browser = CocoBrowser.from_file(path, self)
        except StudioError as exc:
            dialogs.error("Cannot import COCO keypoints", str(exc), self)
            return None
        browser.show()
        return browser

    def _fill_recent(self) -> None:
        menu = self._recent_menu
        menu.clear()
        s = self.ctx.settings
        for path in s.recent_files() + s.recent_folders():
            if os.path.exists(path):   # moved or deleted since: not offered
                menu.addAction(path, lambda p=path: self.open_path(p))
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

    def fit_video(self) -> None:
        self.video.view.fit()

    def focus_goto(self) -> None:
        self.video.transport.focus_goto()

    def set_overlay(self, on: bool) -> None:
        self.video.overlay_box.setChecked(bool(on))

    def set_docks_floatable(self, on: bool) -> None:
        """View > Allow Floating Panels: off by default, so dragging a title bar (easily
        started by accident next to a splitter) never tears a panel off the window."""
        features = DOCK_FEATURES | (QDockWidget.DockWidgetFeature.DockWidgetFloatable
                                    if on else QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        for dock in self.docks.values():
            dock.setFeatures(features)
        if bool(self.ctx.settings.get(FLOATABLE_KEY, False)) != bool(on):
            self.ctx.settings.set(FLOATABLE_KEY, bool(on))

    def reset_layout(self) -> None:
        """View > Reset Layout: the docks as on first start, sized for this window."""
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            if dock.isFloating():
                dock.setFloating(False)
        self._size_docks()
        for dock in self._front_docks:
            dock.raise_()
        self.fit_to_screen()
        self.ctx.message("Layout reset")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            self._docks_sized = True
            self._size_docks()
            for dock in self._front_docks:
                dock.raise_()
        if not self._fitted:
            self._fitted = True
            if self.keep_on_screen:
                self.fit_to_screen()   # now that the frame is known

    def closeEvent(self, event) -> None:
        self.ctx.poses.cancel(quiet=True)
        self.ctx.player.pause()
        self.save_layout()
        super().closeEvent(event)

    # -- layout persistence and drag & drop ----------------------------------------------------
    def autosave_layout(self, on: bool = True) -> None:
        """Write the dock layout and window geometry shortly after every change (docks
        moved, resized, floated, shown or hidden; the window moved or resized), not only on
        a clean quit, so a crash or a kill cannot lose it. Off until asked: a window shown
        with the default layout (screenshots, tests) must not overwrite the user's."""
        self._autosave = bool(on)
        if not on:
            self._layout_timer.stop()

    def _layout_changed(self, *_args) -> None:
        if self._autosave:
            self._layout_timer.start()  # restarts: one write after a burst of changes

    def eventFilter(self, watched, event) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Move) and \
                isinstance(watched, QDockWidget):
            self._layout_changed()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout_changed()

    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        self._layout_changed()

    def save_layout(self) -> None:
        """Store geometry and dock state in the settings file (atomically; skipped when
        nothing changed since the last write)."""
        self._layout_timer.stop()
        s = self.ctx.settings
        geometry = bytes(self.saveGeometry().toBase64()).decode()
        state = bytes(self.saveState().toBase64()).decode()
        if s.get("window_geometry") == geometry and s.get("window_state") == state:
            return
        s.set("window_geometry", geometry, save=False)
        s.set("window_state", state)

    def restore_layout(self) -> bool:
        """Dock layout and window geometry of the last session (False when none)."""
        geometry, state = (self.ctx.settings.get(k) for k in ("window_geometry", "window_state"))
        if not (isinstance(geometry, str) and isinstance(state, str)):
            return False
        self._docks_sized = True
        self.restoreGeometry(QByteArray.fromBase64(geometry.encode()))
        ok = self.restoreState(QByteArray.fromBase64(state.encode()))
        if any(d.isFloating() for d in self.docks.values()):
            self.actions_by_id["view.floatable"].setChecked(True)  # keep the user's windows
        self.fit_to_screen()
        return ok

    def fit_to_screen(self) -> None:
        """Keep the window inside the available area of its screen (a geometry saved on a
        larger screen, or before the scale factor grew, must not run off this one)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        avail = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        if self.isMaximized() or self.isFullScreen():
            return
        w = min(self.width(), avail.width() - extra_w)
        h = min(self.height(), avail.height() - extra_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(max(w, self.minimumSizeHint().width()), max(h, self.minimumSizeHint().height()))
        frame = self.frameGeometry()
        x = min(max(frame.x(), avail.x()), avail.right() + 1 - frame.width())
        y = min(max(frame.y(), avail.y()), avail.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(max(x, avail.x()), max(y, avail.y()))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])
            event.acceptProposedAction()
