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
from models.describe.referents import SINGLE
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


def load_pair(repo: PoseStore, player, mark_a, mark_b, ctx=None,
              subject: str = SINGLE) -> FramePair:
    """Blocking job: decode both marked frames, take their poses, diff them; the text
    names the person ``subject``."""
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
                     np.asarray(wa), np.asarray(wb), facts, describe_diff(facts, subject),
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
        self._texts: dict = {}       # id(kept facts) -> [those facts, (subject, text) or None]
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

    def text(self, facts, subject: str = SINGLE) -> str:
        if not facts:
            return ""
        kept = self._texts.get(id(facts))
        if kept is None or kept[0] is not facts:
            return describe(facts, subject)
        if kept[1] is None or kept[1][0] != subject:   # facts kept for a frame: its text too
            kept[1] = (subject, describe(facts, subject))
        return kept[1][1]

    def subject(self, start: Optional[int] = None, end: Optional[int] = None) -> str:
        """How the texts name the person followed over frames [start, end) (default: the
        displayed frame): see ``PoseController.subject_name``."""
        poses = getattr(self.ctx, "poses", None)
        return poses.subject_name(start, end) if poses is not None else SINGLE

    # -- the person followed and the nearest other one ----------------------------------------
    def nearest_other(self, frame: Optional[int] = None) -> Optional[int]:
        """The person nearest (in the picture) to the person followed on ``frame``
        (default: displayed), among those with a pose there; None when the person
        followed is not there or nobody else is."""
        from models.describe.referents import centres  # noqa: PLC0415

        player = self.player
        frame = player.current_frame if frame is None else int(frame)
        people = player.people
        if len(people) < 2 or frame < 0:
            return None
        on = {p: t for p, t in people.items() if frame < len(t) and bool(t.has_pose[frame])}
        if player.person not in on or len(on) < 2:
            return None
        xs = {p: float(x[0]) for p, x in centres(on, frame, frame + 1).items()}
        here = xs[player.person]
        others = [p for p in on if p != player.person]
        if not np.isfinite(here):
            return min(others)
        return min(others, key=lambda p: (abs(xs[p] - here) if np.isfinite(xs[p]) else np.inf, p))

    def pair_text(self, frame: Optional[int] = None) -> Optional[tuple[int, str]]:
        """(the nearest other person, what can be told about them and the person followed
        on ``frame``: ``models.describe.interaction.describe_pair``), or None when fewer
        than two people (the person followed among them) are on that frame."""
        from models.describe.interaction import describe_pair  # noqa: PLC0415

        frame = self.player.current_frame if frame is None else int(frame)
        other = self.nearest_other(frame)
        if other is None:
            return None
        return other, describe_pair(self.player.people, self.player.person, other, frame,
                                    self.min_visibility)

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
        subject = self._pair_subject(marks.a, marks.b)
        self.ctx.jobs.submit(lambda ctx=None: load_pair(self.ctx.repo, self.player, marks.a, marks.b,
                                                        subject=subject),
                             kind="cpu", on_result=lambda pair: self._on_pair(gen, pair),
                             on_error=lambda exc: self._on_pair_error(gen, exc))

    def _pair_subject(self, mark_a, mark_b) -> str:
        """The name of the person compared: with every person of the open clip attached and
        both marks on it, the person followed, named alike on both frames ("person N" when
        their place differs or is ambiguous on either); otherwise "the person"."""
        player = self.player
        if not player.people or mark_a[0] != player.path or mark_b[0] != player.path:
            return SINGLE
        fa, fb = int(mark_a[1]), int(mark_b[1])
        a, b = self.subject(fa, fa + 1), self.subject(fb, fb + 1)
        if a == b:
            return a
        from app.controllers.poses import badge_name  # noqa: PLC0415

        return badge_name(player.person)

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

    def motion_subject(self, start_s: float, end_s: float) -> str:
        """How the motion text over [start_s, end_s] names the person followed."""
        player, track = self.player, self.player.track
        if not player.people or track is None:
            return SINGLE
        n = len(track)
        a = track.timeline.frame_at(float(start_s), n)
        b = track.timeline.frame_at(float(end_s), n)
        return self.subject(max(0, a), max(a, b) + 1)

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
