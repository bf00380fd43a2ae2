"""PoseTrack18 annotation files (COCO-shaped, with ``track_id`` per person and ``vid_id`` /
``frame_id`` per image): every annotated person of every labelled frame, with their track id.

Reading is ``models.pose.coco.load_posetrack18`` (joints by name; the whole file is checked
before anything is stored). Storing: each frame's picture is keyed by its content, like a
COCO import, and the frame's people are one set of person tracks
(``Repository.save_person_track_sets``, one transaction for the whole file) under backend
``posetrack18`` with settings ``{"video": <vid_id>}``. A person's number in the project is the
file's ``track_id`` (``actionart.person`` when the file is one of our own exports), so the same
person keeps the same number on every frame of the video; number 0 is stored as the frame's
main subject, as everywhere in the project.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import PoseError
from .base import ImportFormatError, ImportResult, first_json_object

ID = "posetrack18"
LABEL = "PoseTrack18 annotations JSON"
BACKEND = "posetrack18"
# joints only PoseTrack18's skeleton has (in place of COCO's eyes)
OWN_JOINTS = {"head_top", "head_bottom"}


@dataclass
class PoseTrackFile:
    """What an import holds: the videos of a PoseTrack18 file (``PoseTrackVideo``)."""
    videos: list

    @property
    def images(self) -> list:
        return [f.image for v in self.videos for f in v.frames]

    @property
    def persons(self) -> list:
        return [p for im in self.images for p in im.persons]


def can_handle(path: Path) -> bool:
    doc = first_json_object(path) if path.suffix.lower() == ".json" else None
    if not isinstance(doc, dict) or "annotations" not in doc:
        return False
    cats = [c for c in doc.get("categories") or [] if isinstance(c, dict)]
    names = {n for c in cats if isinstance(c.get("keypoints"), list)
             for n in c["keypoints"] if isinstance(n, str)}
    return bool(names & OWN_JOINTS)


def load(path: Path) -> ImportResult:
    from ..pose.coco import load_posetrack18  # noqa: PLC0415

    try:
        videos = load_posetrack18(path)
    except PoseError as exc:
        raise ImportFormatError(str(exc)) from None
    for video in videos:
        for frame in video.frames:
            _numbers(frame, path.name)  # refuse clashing person numbers before storing
    return ImportResult(ID, str(path), poses=PoseTrackFile(videos))


def _numbers(frame, name: str) -> list[int]:
    """The project person number of each person of one frame."""
    out: list[int] = []
    seen: dict[int, int] = {}
    for person in frame.image.persons:
        number = person.person if person.person is not None else person.track_id
        if number in seen:
            raise ImportFormatError(
                f"{name}: annotation ids {seen[number]} and {person.id} (image id "
                f"{frame.image.id}) would both be person {number} of that frame")
        seen[number] = person.id
        out.append(int(number))
    return out


def person_tracks(frame, video: str) -> dict:
    """{person number: one-frame PoseTrack} of one labelled frame."""
    from ..pose.coco import person_track  # noqa: PLC0415

    out = {}
    for number, person in zip(_numbers(frame, ""), frame.image.persons):
        track = person_track(frame.image, person)
        track.backend, track.settings = BACKEND, {"video": video}
        out[number] = track
    return out


def store(repo, data: PoseTrackFile) -> dict:
    """Every person of every frame whose picture is found, in one transaction.

    Returns the counts ``import_coco_poses`` gives ({"new", "replaced", "missing",
    "skipped_persons"}); "new"/"replaced" count person tracks."""
    from ..video import content_hash  # noqa: PLC0415

    sets, missing, skipped = [], [], 0
    for video in data.videos:
        for frame in video.frames:
            im = frame.image
            if not im.persons:
                continue
            if im.path is None or not im.path.is_file():
                missing.append(im.file_name or f"image id {im.id}")
                skipped += len(im.persons)
                continue
            sets.append((content_hash(im.path), person_tracks(frame, video.id)))
    again = repo.save_person_track_sets(sets) if sets else []
    replaced = sum(len(tracks) for (_, tracks), old in zip(sets, again) if old)
    return {"new": sum(len(tracks) for _, tracks in sets) - replaced, "replaced": replaced,
            "missing": missing, "skipped_persons": skipped}
