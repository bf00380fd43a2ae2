"""Pose extraction of whole clips: decode thread -> pose -> cache, resumable, cancellable.

``extract_video`` is a plain blocking job (see ``models.jobs``). The cache key is the
clip's content hash + backend id + canonical settings (``repo_poses.settings_key``), so a
renamed or copied clip hits the cache and a changed setting does not. A decode thread
fills a small bounded queue so decoding overlaps pose inference; partial tracks are
checkpointed so a cancelled or crashed run resumes where it stopped.

The tracking graph has state (its region of interest, landmark smoothing, the subject
lock), so a run that resumed mid-clip with a fresh graph would give other poses than one
that never stopped. Frames are therefore posed in fixed chunks of ``CHUNK_FRAMES``: each
chunk gets a fresh estimator that first sees the ``CHUNK_WARMUP`` frames before the chunk
(results dropped) and follows the person last seen before those frames. That computation
depends only on the clip and on the poses already in the track, so a resumed run, which
restarts at the chunk boundary before its checkpoint, gives exactly the poses of an
uninterrupted one. The warm-up estimator runs alongside the previous chunk's on the same
decoded frames (no frame is decoded twice); the cost is ``CHUNK_WARMUP / CHUNK_FRAMES``
(about 6 %) more inference and one estimator start (a few ms) per chunk.

Every recorded frame also gets its picture damage score (``models.pose.damage``, about a
millisecond or two) in ``track.damage``; it is no backend setting, so the cache key stays
the same and a track cached before it was kept simply has no damage cue.
"""
from __future__ import annotations

import dataclasses
import queue
import threading
from pathlib import Path
from typing import Callable, Optional, TypeVar

import numpy as np

from ..errors import Cancelled, PoseError, StudioError, VideoError
from ..jobs import NULL_CONTEXT, JobContext
from ..video import FrameTimes, VideoInfo, VideoReader, _check_path, decoded_times, probe
from . import registry
from .damage import damage_score
from .registry import DEFAULT_BACKEND
from .storage import PoseStore
from .track import PoseTrack

QUEUE_FRAMES = 8          # decoded frames buffered ahead of the pose graph
CHUNK_FRAMES = 128        # frames posed by one estimator (see the module docstring)
CHUNK_WARMUP = 8          # frames before a chunk its estimator sees first (results dropped)
_END = object()
Checkpoint = Callable[[PoseTrack], None]   # receives a partial track to keep (resume)
DECODE_COUNTER = {"frames": 0}  # frames decoded by extraction in this process (diagnostics)


def decoded_frames() -> int:
    """Total frames the extraction decode threads of this process have decoded."""
    return DECODE_COUNTER["frames"]


def _frames_from(reader: VideoReader, start: int):
    """Sequential frames from ``start``; frame 0 comes from the reader's already decoded
    first frame (no seek back: some one-frame files cannot seek)."""
    if start == 0:
        yield 0, reader.read(0)
        start = 1
    if start < reader.info.frame_count:
        yield from reader.frames(start)


class _Decoder(threading.Thread):
    """Decodes frames ``start..`` of an open reader into a bounded queue."""

    def __init__(self, reader: VideoReader, start: int, size: int = QUEUE_FRAMES) -> None:
        super().__init__(name="pose-decode", daemon=True)
        self.reader, self.start_at = reader, start
        self.queue: "queue.Queue" = queue.Queue(maxsize=size)
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            for index, frame in _frames_from(self.reader, self.start_at):
                DECODE_COUNTER["frames"] += 1
                if not self._put((index, frame)):
                    return
        except BaseException as exc:  # noqa: BLE001 (reported to the consumer, never lost)
            self.error = exc
        self._put(_END)

    def _put(self, item) -> bool:
        while not self.stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def items(self):
        while True:
            item = self.queue.get()
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def stop(self) -> None:
        self.stop_event.set()
        if self.ident is not None:  # started
            self.join(timeout=5)


def _settings(backend_id: str, settings: Optional[dict]) -> dict:
    return registry.get(backend_id).settings(settings)


def cached_track(repo: PoseStore, path, backend_id: str = DEFAULT_BACKEND,
                 settings: Optional[dict] = None) -> Optional[PoseTrack]:
    """The complete cached track of a clip, or None (never decodes)."""
    p = _check_path(path)
    digest = repo.clip_hash(p)
    track = repo.load_track(digest, backend_id, _settings(backend_id, settings), complete_only=True)
    return _timed(repo, p, track)

_Track = TypeVar("_Track", PoseTrack, Optional[PoseTrack])


def _timed(repo: PoseStore, path, track: _Track) -> _Track:
    """A cached track written before frame times were kept gets the clip's times."""
    if track is None or track.times is not None:
        return track
    track.times = repo.clip_info(path).timeline.times(range(len(track)))
    return track


def _start_track(info: VideoInfo, backend_id: str, settings: dict,
                 previous: Optional[PoseTrack]) -> PoseTrack:
    """Resume ``previous`` if it fits this clip, else an empty track."""
    times = info.timeline.times(range(info.frame_count))
    if previous is not None and len(previous) == info.frame_count and not previous.complete:
        previous.times = times
        if previous.damage is None:     # checkpointed before damage scores were kept
            previous.damage = np.full(len(previous), np.nan, dtype=np.float32)
        return previous
    return PoseTrack.empty(info.frame_count, fps=info.fps, width=info.width,
                           height=info.height, backend=backend_id, settings=dict(settings),
                           times=times, damage=np.full(info.frame_count, np.nan, dtype=np.float32))


def _seed_subject(estimator, track: PoseTrack, before: int) -> None:
    """Tell a new estimator whom to follow: the last pose of ``track`` before frame
    ``before`` (frames the track already holds)."""
    if before <= 0 or not hasattr(estimator, "set_subject"):
        return
    seen = np.flatnonzero(track.has_pose[:before])
    if len(seen):
        i = int(seen[-1])
        estimator.set_subject(track.image[i], track.width, track.height,
                              _ms(track, i))


def _ms(track: PoseTrack, index: int) -> int:
    """Presentation time of frame ``index`` in milliseconds (the pose graph's clock)."""
    return int(round(track.time_of(index) * 1000.0))


def resume_frame(frames_done: int) -> int:
    """The chunk boundary a run that stopped after ``frames_done`` frames restarts from."""
    return max(0, frames_done) // CHUNK_FRAMES * CHUNK_FRAMES


class _Chunks:
    """The estimators of the chunks being posed: the current chunk's and, over the last
    ``CHUNK_WARMUP`` frames of a chunk, the next chunk's (warming up)."""

    def __init__(self, make, track: PoseTrack, first=None) -> None:
        self.make, self.track = make, track
        self.open: dict = {}  # chunk start frame -> estimator
        self.first = first    # an estimator already built (for the first chunk needed)

    def get(self, start: int):
        if start not in self.open:
            est = self.first if self.first is not None else self.make()
            self.first = None
            _seed_subject(est, self.track, max(0, start - CHUNK_WARMUP))
            self.open[start] = est
        return self.open[start]

    def drop_before(self, start: int) -> None:
        for key in [k for k in self.open if k < start]:
            self.open.pop(key).close()

    def close(self) -> None:
        self.drop_before(1 << 62)
        if self.first is not None:
            self.first.close()
            self.first = None


class _Saver:
    """Hands checkpoints of one track to ``checkpoint`` every ``every`` frames (and after
    a failure); without one it only reports the partial track to the job context."""

    def __init__(self, checkpoint: Optional[Checkpoint], every: int, done: int = 0) -> None:
        self.checkpoint, self.every = checkpoint, max(1, int(every))
        self._last = done

    def maybe(self, track: PoseTrack, ctx: JobContext) -> None:
        if track.frames_done - self._last >= self.every:
            self.now(track)
            ctx.partial(track)

    def now(self, track: PoseTrack) -> None:
        self._last = track.frames_done
        if self.checkpoint is not None:
            self.checkpoint(track)


def _run_pose(chunks: _Chunks, decoder: _Decoder, track: PoseTrack, saver: _Saver,
              ctx: JobContext, name: str, record_from: int) -> None:
    """Pose every decoded frame into ``track`` (frames before ``record_from`` only warm up
    the estimator of the chunk starting there); raises Cancelled (the caller saves)."""
    total, last_ms = len(track), -1
    for index, frame in decoder.items():
        if ctx.cancelled:  # the caller checkpoints the track
            raise Cancelled(f"Pose extraction of {name} cancelled at frame "
                            f"{track.frames_done}/{total}; it resumes from frame "
                            f"{resume_frame(track.frames_done)} next time.")
        stamp = last_ms = max(last_ms + 1, _ms(track, index))  # the graph needs rising stamps
        start = index - index % CHUNK_FRAMES
        chunks.drop_before(start)
        following = start + CHUNK_FRAMES
        if index >= following - CHUNK_WARMUP and following < total:
            _pose(chunks.get(following), frame, stamp, index, name)  # warm-up: dropped
        if index < record_from:
            continue
        found = _pose(chunks.get(start), frame, stamp, index, name)
        # a frame re-posed after a resume is overwritten, also where it now has no pose
        track.image[index], track.world[index] = (np.nan, np.nan) if found is None else found
        if track.damage is not None:
            track.damage[index] = damage_score(frame)
        track.frames_done = max(track.frames_done, index + 1)
        ctx.progress(track.frames_done, total, name)
        saver.maybe(track, ctx)


def _pose(estimator, frame, stamp: int, index: int, name: str):
    try:
        return estimator.process(frame, stamp)
    except Exception as exc:  # noqa: BLE001 (backend failures become one message)
        raise PoseError(f"Pose backend failed on frame {index} of {name}: {exc}") from None


def _trim(track: PoseTrack) -> PoseTrack:
    """Cut a track to the frames really decoded (header frame count was too high)."""
    n = track.frames_done
    times = None if track.times is None else track.times[:n].copy()
    damage = None if track.damage is None else track.damage[:n].copy()
    return dataclasses.replace(track, image=track.image[:n].copy(),
                               world=track.world[:n].copy(), frames_done=n, times=times,
                               damage=damage)


@dataclasses.dataclass
class Extraction:
    """What ``pose_clip`` computed: the track and the clip as it was opened."""
    track: PoseTrack
    info: VideoInfo          # the header's properties (frame count as declared) + frame times

    @property
    def trimmed(self) -> bool:
        """Decoding stopped before the frame count the header declares (the track was cut
        to the frames really decoded)."""
        return len(self.track) < self.info.frame_count


def pose_clip(path, backend_id: str = DEFAULT_BACKEND, settings: Optional[dict] = None,
              ctx: JobContext = NULL_CONTEXT, *, times: Optional[FrameTimes] = None,
              previous: Optional[PoseTrack] = None, checkpoint: Optional[Checkpoint] = None,
              checkpoint_every: int = 64,
              on_open: Optional[Callable[[VideoInfo], object]] = None) -> Extraction:
    """Pose track of the main subject for every frame of ``path``; writes nothing.

    ``times``: the clip's frame times when known (else probed); ``previous``: a partial
    track of this clip, backend and settings to resume; ``checkpoint(track)`` is called
    with the partial track every ``checkpoint_every`` frames and when extraction fails or
    is cancelled (the caller decides where it goes; None: nowhere); ``on_open(info)`` once
    the clip opened, before any frame is posed."""
    ctx = ctx or NULL_CONTEXT
    p = _check_path(path)
    merged = _settings(backend_id, settings)
    if times is None:
        times = probe(p).times
    with VideoReader(p) as reader:
        info = dataclasses.replace(reader.info, times=times)
        reader.set_times(times)   # a resume seeks by these times in a VFR clip
        if on_open is not None:
            on_open(info)
        track = _start_track(info, backend_id, merged, previous)
        track = _extract_frames(reader, track, backend_id, merged, ctx, checkpoint,
                                checkpoint_every)
    return Extraction(track, info)


def extract_video(path, repo: Optional[PoseStore] = None, backend_id: str = DEFAULT_BACKEND,
                  settings: Optional[dict] = None, ctx: JobContext = NULL_CONTEXT,
                  checkpoint_every: int = 64) -> PoseTrack:
    """Pose track of the main subject for every frame of ``path``. With ``repo`` the track
    is cached there: a complete cached track is returned without decoding, a partial one
    resumes, and partial tracks are checkpointed as extraction goes; without one nothing
    is written (``pose_clip``)."""
    if repo is None:
        return pose_clip(path, backend_id, settings, ctx, checkpoint_every=checkpoint_every).track
    ctx = ctx or NULL_CONTEXT
    p = _check_path(path)
    merged = _settings(backend_id, settings)
    digest = repo.clip_hash(p)
    previous = repo.load_track(digest, backend_id, merged)
    if previous is not None and previous.complete:
        return _timed(repo, p, previous)
    # every frame's presentation time (the project keeps the table once it is read)
    timed = repo.clip_info(p)
    done = pose_clip(p, backend_id, merged, ctx, times=timed.times, previous=previous,
                     checkpoint=lambda t: repo.save_track(digest, t),
                     checkpoint_every=checkpoint_every,
                     on_open=lambda info: repo.upsert_clip(info, digest))
    track = done.track
    if done.trimmed:
        repo.upsert_clip(dataclasses.replace(done.info, frame_count=len(track), times=None), digest)
    repo.save_track(digest, track)
    if timed.times is not None and not timed.times.checked:
        # every frame was decoded once now: the project learns where decoding stops
        repo.save_frame_times(digest, decoded_times(timed.times, track.frames_done))
    return track


def _extract_frames(reader: VideoReader, track: PoseTrack, backend_id: str, merged: dict,
                    ctx: JobContext, checkpoint: Optional[Checkpoint], every: int) -> PoseTrack:
    """Pose the frames ``track`` still lacks; partial tracks go to ``checkpoint`` (also
    after a failure); the complete (maybe trimmed) track is returned, not saved."""
    name = Path(reader.info.path).name
    spec = registry.get(backend_id)
    first = spec.create(merged)
    if track.frames_done and track.backend_version not in ("", first.version):
        times = track.times
        track = _start_track(reader.info, backend_id, merged, None)  # other model: restart
        track.times = times
    track.backend_version = first.version
    chunks = _Chunks(lambda: spec.create(merged), track, first)
    record_from = resume_frame(track.frames_done)
    saver = _Saver(checkpoint, every, track.frames_done)
    decoder = _Decoder(reader, max(0, record_from - CHUNK_WARMUP))
    try:
        ctx.progress(track.frames_done, len(track), name)
        decoder.start()
        _run_pose(chunks, decoder, track, saver, ctx, name, record_from)
    except BaseException:  # cancel, bad input, Ctrl-C: keep what was done
        _save_quietly(saver, track)
        raise
    finally:
        decoder.stop()
        chunks.close()
    if track.frames_done < len(track):
        if track.frames_done == 0:
            raise VideoError(f"{name}: no frame could be decoded")
        track = _trim(track)
    return track


def _save_quietly(saver: _Saver, track: PoseTrack) -> None:
    """Checkpoint after a failure; a failing store must not hide the first error."""
    try:
        saver.now(track)
    except StudioError:
        pass
