"""The people a project holds for a clip: the tracks a ``people`` run merged into it.

``stored_people(repo, path, max_persons=None, tracker=None) -> {person number: PoseTrack}``:
every complete stored person of the clip at ``path`` (0 = the main person, then 1..N),
under the settings the ``people`` stage stores them with (``people_settings``): with
``max_persons`` (and ``tracker``) given, those settings only; without, the newest complete
set whatever ``max_persons`` it was extracted with. {} when the clip has none. Each track
gets the clip's frame times when it was stored without them.
``people_loader(repo)``: the same as a one-argument loader, for
``models.qa.generate.generate_qa(people=...)`` (the QA layer cannot reach the store).
``person_track(repo, path, person)``: one person's track, or a ``StudioError`` naming the
people that are stored.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from ..errors import StudioError

if TYPE_CHECKING:
    from ..pose.track import PoseTrack
    from ..pose.tracking import TrackerParams


def stored_people(repo, path, max_persons: Optional[int] = None,
                  tracker: Optional[TrackerParams] = None) -> dict[int, PoseTrack]:
    """{person number: complete PoseTrack} of the clip at ``path`` (see the module)."""
    from ..pose.tracking import TrackerParams  # noqa: PLC0415
    from .stages.people import BACKEND, people_settings  # noqa: PLC0415

    digest = repo.clip_hash(path)
    if max_persons is None and tracker is None:
        candidates = repo.person_track_settings(digest, BACKEND)
    else:
        from .stages.people import DEFAULTS  # noqa: PLC0415

        candidates = [people_settings(int(max_persons or DEFAULTS["max_persons"]),
                                      tracker or TrackerParams())]
    tracks: dict = {}
    for settings in candidates:
        tracks = repo.load_person_tracks(digest, BACKEND, settings, complete_only=True)
        if tracks:
            break
    timeline = None
    for track in tracks.values():
        if track.times is None:
            timeline = timeline or repo.clip_info(path).timeline
            track.times = timeline.times(range(len(track)))
    return tracks


def people_loader(repo, max_persons: Optional[int] = None) -> Callable[[str], dict]:
    """``stored_people`` of one clip path at a time."""
    return lambda path: stored_people(repo, path, max_persons)


def person_track(repo, path, person: int, max_persons: Optional[int] = None
                 ) -> tuple[PoseTrack, dict[int, PoseTrack]]:
    """(the track of ``person``, every stored person's track) of the clip at ``path``;
    a ``StudioError`` when that person is not stored."""
    import os  # noqa: PLC0415

    tracks = stored_people(repo, path, max_persons)
    if person not in tracks:
        name = os.path.basename(str(path))
        have = ", ".join(str(p) for p in sorted(tracks))
        raise StudioError(f"Person {person} is not stored for {name} "
                          + (f"(stored: {have})" if tracks else
                             "(no people stored: run the people stage and merge it first)"))
    return tracks[person], tracks
