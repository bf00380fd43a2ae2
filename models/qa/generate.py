"""Generation of QA over one clip, a selection or a whole dataset, as a resumable job.

``clip_qa(track, video, settings)`` computes one clip's items and writes nothing (the
dataset engine's ``qa`` stage calls it); ``clip_qa_people(tracks, video, settings)`` does the
same for every person of a clip ({person number: PoseTrack}, ``synth.synthesize_people``);
``store_clip_qa`` commits either.

``generate_qa(repo, videos, settings, ctx, root=None, extract=False)`` is a plain blocking
job (see ``models.jobs``): progress per clip, cancel between clips, and every clip's items
are committed in one transaction together with a run marker, so a cancelled or crashed run
resumes by skipping the clips already generated with the same settings. With
``people`` (a loader of a clip's stored person tracks, passed in by the caller: this layer
cannot reach the store or the engine's settings), a clip whose people are stored gets items
about each person; the others are generated as before.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from ..jobs import NULL_CONTEXT, JobContext
from .errors import NoPosesError
from .synth import Balancer, SynthSettings, synthesize_people, synthesize_track

if TYPE_CHECKING:
    from ..pose.storage import PoseStore
    from .storage import QAPoseStore, QAStore

TrackLoader = Callable[[str], object]  # absolute path -> PoseTrack or None
PeopleLoader = Callable[[str], dict]   # absolute path -> {person number: PoseTrack}, {} if none
PEOPLE_KEY = ":people"                 # appended to the pose backend in a per-person run's key


@dataclass
class GenerationSummary:
    clips: int = 0
    generated: int = 0
    skipped: list = field(default_factory=list)     # already generated with these settings
    no_poses: list = field(default_factory=list)    # clips without extracted poses
    per_task: dict = field(default_factory=dict)

    def line(self) -> str:
        return (f"{self.generated} QA items from {self.clips - len(self.skipped) - len(self.no_poses)}"
                f" clips; {len(self.skipped)} already done, {len(self.no_poses)} without poses")


def relative_video(path: str, root: Optional[str]) -> str:
    """The ``video`` field: the path relative to the dataset root (POSIX separators)."""
    path = os.path.abspath(path)
    base = os.path.abspath(root) if root else os.path.dirname(path)
    rel = os.path.relpath(path, base)
    return (os.path.basename(path) if rel.startswith("..") else rel).replace(os.sep, "/")


def cached_loader(repo: PoseStore) -> TrackLoader:
    from ..pose.extract import cached_track  # noqa: PLC0415 (keeps import light)
    return lambda path: cached_track(repo, path)


def extracting_loader(repo: PoseStore, ctx: JobContext) -> TrackLoader:
    from ..pose.extract import extract_video  # noqa: PLC0415

    def load(path):
        sub = JobContext(token=ctx.token)  # per-frame progress is not the QA progress
        return extract_video(path, repo, ctx=sub)
    return load


def _balancer(repo: QAStore, tasks) -> Balancer:
    """Start from the answer positions already in the project (balance across runs)."""
    b = Balancer()
    for n, answer_index in repo.qa_answer_positions(tasks, source="rule"):
        c = b.counts.setdefault(n, [0] * n)
        c[answer_index] += 1
    return b


def generate_qa(repo: QAPoseStore, videos: list, settings: Optional[SynthSettings] = None,
                ctx: JobContext = NULL_CONTEXT, root: Optional[str] = None,
                extract: bool = False, loader: Optional[TrackLoader] = None,
                people: Optional[PeopleLoader] = None) -> GenerationSummary:
    s = settings or SynthSettings()
    load = loader or (extracting_loader(repo, ctx) if extract else cached_loader(repo))
    summary = GenerationSummary(clips=len(videos))
    balancer = _balancer(repo, s.tasks)
    for i, path in enumerate(videos):
        ctx.check()
        video = relative_video(str(path), root)
        _one(repo, str(path), video, s, load, balancer, summary, people)
        ctx.partial(summary)
        ctx.progress(i + 1, len(videos), video)
    return summary


@dataclass
class ClipQA:
    """The QA items computed for one clip; nothing is stored (``store_clip_qa`` does)."""
    video: str
    key: str                 # generation key: settings + pose backend (``SynthSettings.key``)
    settings: SynthSettings
    records: list            # QARecord, in generation order


def clip_qa(track, video: str, settings: Optional[SynthSettings] = None,
            balancer: Optional[Balancer] = None, seen_questions=()) -> Optional[ClipQA]:
    """The rule QA of one clip's pose track, computed without writing anything; None when
    the track has no pose at all. ``balancer`` carries answer positions across clips (a
    fresh one per clip by default); ``seen_questions``: items already stored for the clip
    (see ``synth.repeats``), none by default."""
    s = settings or SynthSettings()
    if track is None or not track.has_pose.any():
        return None
    records = synthesize_track(track, video, s, balancer, seen_questions)
    return ClipQA(video, s.key(track.backend), s, records)


def clip_qa_people(tracks: dict, video: str, settings: Optional[SynthSettings] = None,
                   balancer: Optional[Balancer] = None, seen_questions=()) -> Optional[ClipQA]:
    """``clip_qa`` for every person of a clip (``tracks``: {person number: PoseTrack}, 0 =
    the main person): each person's items name them by their place in the picture and are
    left out where that place is ambiguous (``synth.synthesize_people``). One person stored:
    ``clip_qa``'s items, marked person 0 / "the person". None when no track has a pose."""
    s = settings or SynthSettings()
    live = {p: t for p, t in tracks.items() if t is not None}
    if not any(t.has_pose.any() for t in live.values()):
        return None
    records = synthesize_people(live, video, s, balancer, seen_questions)
    backend = live[min(live)].backend
    return ClipQA(video, s.key(backend + PEOPLE_KEY), s, records)


def store_clip_qa(repo: QAStore, qa: ClipQA) -> int:
    """Commit one clip's items together with its run marker (one transaction); returns
    how many were added."""
    return repo.add_qa_items(qa.records, qa.key, run={"video": qa.video, "settings": qa.settings.to_dict()})


def _one(repo: QAStore, path, video, s, load, balancer, summary, people=None) -> None:
    tracks = people(path) if people is not None else None
    if tracks:
        _one_people(repo, tracks, video, s, balancer, summary)
        return
    track = load(path)
    if track is None or not track.has_pose.any():
        summary.no_poses.append(video)
        return
    if repo.generation_done(video, s.key(track.backend)):
        summary.skipped.append(video)
        return
    qa = clip_qa(track, video, s, balancer, repo.qa_questions(video))
    assert qa is not None   # the track has a pose
    summary.generated += store_clip_qa(repo, qa)
    for r in qa.records:
        summary.per_task[r.task] = summary.per_task.get(r.task, 0) + 1


def _one_people(repo: QAStore, tracks: dict, video, s, balancer, summary) -> None:
    live = {p: t for p, t in tracks.items() if t is not None}
    if not any(t.has_pose.any() for t in live.values()):
        summary.no_poses.append(video)
        return
    if repo.generation_done(video, s.key(live[min(live)].backend + PEOPLE_KEY)):
        summary.skipped.append(video)
        return
    qa = clip_qa_people(live, video, s, balancer, repo.qa_questions(video))
    assert qa is not None   # a track has a pose
    summary.generated += store_clip_qa(repo, qa)
    for r in qa.records:
        summary.per_task[r.task] = summary.per_task.get(r.task, 0) + 1


def require_poses(summary: GenerationSummary) -> None:
    """Raise when nothing could be generated because no clip has poses."""
    if summary.no_poses and len(summary.no_poses) == summary.clips:
        names = ", ".join(summary.no_poses[:3]) + ("..." if len(summary.no_poses) > 3 else "")
        raise NoPosesError(f"No extracted poses for {names}; run with --extract-poses "
                           "(or 'python main.py extract-poses') first")
