"""Describe controller: pose facts of the displayed frame, frame-pair differences and
interval motion facts for the panels, plus the joint-highlight channel.

``describe_controller(ctx)`` returns the one controller of an ``AppContext`` (created on
first use and kept on the context, so panels share it without a context change).

Signals: ``highlightJoints(object)`` (tuple of BlazePose joint indices; empty = clear),
``trackFactsReady()`` (the vectorised facts of the current track are cached; views
re-read the current frame), ``pairReady(object)`` / ``pairFailed(str)`` (a ``FramePair``
for the marked frames A/B, or a one-line reason).
Intents: ``facts(frame)``, ``highlight(joints)``, ``compare()``, ``motion(start_s, end_s)``.
The whole-track facts are computed on the CPU job pool; a generation counter drops the
results of a track that has since been replaced.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal

from models.describe import describe, pose_facts, track_facts
from models.errors import StudioError

if TYPE_CHECKING:
    from models.pose.storage import PoseStore


@dataclass
class FramePair:
    path_a: str
    frame_a: int
    path_b: str
    frame_b: int
    image_a: np.ndarray
    image_b: np.ndarray
    pixels_a: Optional[np.ndarray]     # (33, 3) x px, y px, visibility
    pixels_b: Optional[np.ndarray]
    world_a: np.ndarray                # (33, 4)
    world_b: np.ndarray
    facts: list
    text: str
    displacement: np.ndarray           # (33, 3) metres, body axes (NaN unknown)


def _track_for(repo: PoseStore, player, path: str):
    if player is not None and player.path == path and player.track is not None and player.track.complete:
        return player.track
    from models.pose.extract import cached_track  # noqa: PLC0415

    track = cached_track(repo, path)
    if track is None:
        raise StudioError(f"No poses yet for {path.rsplit('/', 1)[-1]}: extract poses for that clip first.")
    return track


def _read(path: str, frame: int) -> np.ndarray:
    from models.video import VideoReader  # noqa: PLC0415

    with VideoReader(path) as reader:
        return reader.read(frame)


def load_pair(repo: PoseStore, player, mark_a, mark_b, ctx=None) -> FramePair:
    """Blocking job: decode both marked frames, take their poses, diff them."""
    from models.diff import (check_compatible, describe_diff, diff_facts,  # noqa: PLC0415
                             displacements, frame_world)

    (pa, fa), (pb, fb) = mark_a, mark_b
    ta = _track_for(repo, player, pa)
    tb = ta if pb == pa else _track_for(repo, player, pb)
    name_a, name_b = pa.rsplit("/", 1)[-1], pb.rsplit("/", 1)[-1]
    check_compatible(ta, tb, name_a, name_b)
    wa, wb = frame_world(ta, fa, "A=", name_a), frame_world(tb, fb, "B=", name_b)
    facts = diff_facts(wa, wb, fa, fb)
    return FramePair(pa, fa, pb, fb, _read(pa, fa), _read(pb, fb), ta.pixels(fa), tb.pixels(fb),
                     np.asarray(wa), np.asarray(wb), facts, describe_diff(facts),
                     displacements(wa, wb))


MEMO_FRAMES = 512   # frames whose facts and text are kept (looped playback replays them)


class DescribeController(QObject):
    highlightJoints = Signal(object)
    trackFactsReady = Signal()
    pairReady = Signal(object)
    pairFailed = Signal(str)

    def __init__(self, ctx, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.player = ctx.player
        self._tf = None
        self._tf_track = None
        self._memo: dict = {}        # frame -> its facts from the cached track facts
        self._texts: dict = {}       # id(kept facts) -> [those facts, their text or None]
        self._gen = 0
        self._pair_gen = 0
        self.player.trackChanged.connect(self._on_track)
        visibility = getattr(ctx, "visibilityChanged", None)
        if visibility is not None:   # the overlay's threshold decides what is described too
            visibility.connect(self._on_visibility)

    @property
    def min_visibility(self) -> float:
        """The app's one visibility threshold (overlay, plot and descriptions agree)."""
        return float(getattr(self.ctx, "visibility_threshold", 0.5))

    # -- current frame -------------------------------------------------------------------------
    def _on_visibility(self, _value: float) -> None:
        self._on_track()
        self.trackFactsReady.emit()   # views re-read now (per-frame facts until the new cache)

    def _on_track(self) -> None:
        self._gen += 1
        self._tf, self._tf_track = None, None
        self._forget()
        track = self.player.track
        if track is None or not track.complete:
            return
        gen, mv = self._gen, self.min_visibility
        # no hysteresis: the panel shows exactly what ``describe --frame N`` prints and what
        # QA synthesis asks about (one description per frame)
        self.ctx.jobs.submit(lambda ctx=None: track_facts(track, mv, hysteresis=False), kind="cpu",
                             on_result=lambda tf: self._on_tf(gen, track, tf))

    def _on_tf(self, gen: int, track, tf) -> None:
        if gen != self._gen:
            return  # a newer track arrived meanwhile
        self._tf, self._tf_track = tf, track
        self._forget()
        self.trackFactsReady.emit()

    def _forget(self) -> None:
        """Drop the kept facts and texts (other poses, or another threshold)."""
        self._memo.clear()
        self._texts.clear()

    def facts(self, frame: Optional[int] = None) -> list:
        """Facts of ``frame`` (default: displayed); [] when it has no extracted pose yet."""
        frame = self.player.current_frame if frame is None else frame
        track = self.player.track
        if track is None or frame < 0 or frame >= min(len(track), track.frames_done):
            return []
        if self._tf is not None and self._tf_track is track:
            facts = self._memo.get(frame)   # a frame's facts do not change with its poses
            if facts is None:
                if len(self._memo) >= MEMO_FRAMES:
                    self._forget()
                facts = self._memo[frame] = self._tf.facts_at(frame)
                self._texts[id(facts)] = [facts, None]    # its text: once asked for
            return facts
        return pose_facts(track, frame, self.min_visibility)

    def text(self, facts) -> str:
        if not facts:
            return ""
        kept = self._texts.get(id(facts))
        if kept is None or kept[0] is not facts:
            return describe(facts)
        if kept[1] is None:                          # facts kept for a frame: its text too
            kept[1] = describe(facts)
        return kept[1]

    def highlight(self, joints) -> None:
        self.highlightJoints.emit(tuple(int(j) for j in joints))

    # -- frame pair ----------------------------------------------------------------------------
    def compare(self) -> None:
        marks = self.ctx.marks
        if marks.a is None or marks.b is None:
            self.pairFailed.emit("Mark frame A and frame B first (keys A and B).")
            return
        self._pair_gen += 1
        gen = self._pair_gen
        self.ctx.jobs.submit(lambda ctx=None: load_pair(self.ctx.repo, self.player, marks.a, marks.b),
                             kind="cpu", on_result=lambda pair: self._on_pair(gen, pair),
                             on_error=lambda exc: self._on_pair_error(gen, exc))

    def _on_pair(self, gen: int, pair) -> None:
        if gen == self._pair_gen:
            self.pairReady.emit(pair)

    def _on_pair_error(self, gen: int, exc) -> None:
        if gen == self._pair_gen:
            self.pairFailed.emit(str(exc) if isinstance(exc, StudioError) else f"Comparison failed: {exc}")

    # -- interval ------------------------------------------------------------------------------
    def motion(self, start_s: float, end_s: float, signal=None) -> list:
        """Motion facts of the current track over [start_s, end_s] (raises StudioError);
        ``signal`` forces the repetition count onto one named signal."""
        from models.motion import motion_facts  # noqa: PLC0415

        track = self.player.track
        if track is None or not track.complete:
            raise StudioError("The pose track of this clip is not ready yet.")
        return motion_facts(track, track.fps, start_s, end_s, signal=signal)

    def signal_series(self, name: str):
        """(times s, smoothed values) of one motion signal over the whole current track,
        cached per track; None without a complete track."""
        from models.motion import signals, smooth  # noqa: PLC0415

        track = self.player.track
        if track is None or not track.complete or not track.fps:
            return None
        if getattr(self, "_sig_track", None) is not track:
            self._sig_track, self._sig = track, signals(track)
        values = smooth(self._sig[name][0], track.fps)
        return track.timeline.times(range(len(values))), values


def describe_controller(ctx) -> DescribeController:
    return ctx.describe
