"""COCO person-keypoints files: import into BlazePose-33 arrays (by joint NAME), export back.

An imported person keeps ``keypoints`` as a (joints, 3) array of pixel x, pixel y and the COCO
flag v (0 = not labelled, 1 = labelled but hidden, 2 = visible); joints the file does not
have (or left unlabelled) are NaN with v = 0. ``image_pose`` turns that into the
``PoseTrack`` image convention (normalised x, y; z = 0 for a 2D annotation; visibility
1.0 for v=2 and 0.5 for v=1). Keypoint names the BlazePose skeleton lacks (PoseTrack's
head_top, ...) are kept in ``extra`` and ignored by the 33-joint arrays.

Several people per image: every annotation of an image is one person. ``track_id`` (the
PoseTrack18 field: the same person keeps it over the frames of a video) is read and written;
our own ``actionart.person`` names the person in the project (0: the main subject).
``people_of`` gives one image's people as plain arrays with their track ids;
``load_posetrack18`` reads a PoseTrack18 file as videos of such frames.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import PoseError
from .skeleton import Skeleton, blazepose, coco17
from .track import PoseTrack

VIS_OF_FLAG = {1: 0.5, 2: 1.0}
VISIBLE_FROM = 0.75  # export: visibility >= this -> v=2, else (present) v=1
IMPORT_BACKEND = "coco-import"


@dataclass
class CocoPerson:
    id: int
    image_id: int
    keypoints: np.ndarray          # (joints, 3): pixel x, pixel y, COCO flag v
    bbox: tuple                    # (x, y, w, h) pixels
    score: Optional[float] = None
    extra: dict = field(default_factory=dict)  # name -> (x, y, v) for non-BlazePose joints
    track_id: Optional[int] = None  # the same person over a video's frames (PoseTrack18)
    person: Optional[int] = None    # our person number in the project (0: the main subject)

    @property
    def labelled(self) -> np.ndarray:
        """(joints,) bool: joints the file labels (v > 0)."""
        return self.keypoints[:, 2] > 0

    def image_pose(self, width: int, height: int) -> np.ndarray:
        """(joints, 4) float32 normalised x, y, z=0, visibility; NaN where unlabelled."""
        out = np.full((len(self.keypoints), 4), np.nan, dtype=np.float32)
        lab = self.labelled
        out[lab, 0] = self.keypoints[lab, 0] / width
        out[lab, 1] = self.keypoints[lab, 1] / height
        out[lab, 2] = 0.0
        out[lab, 3] = np.where(self.keypoints[lab, 2] >= 2, VIS_OF_FLAG[2], VIS_OF_FLAG[1])
        return out


@dataclass
class CocoImage:
    id: int
    file_name: str
    width: int
    height: int
    path: Optional[Path] = None    # file_name resolved next to the JSON file
    persons: list = field(default_factory=list)
    video: Optional[str] = None    # PoseTrack18 ``vid_id``: the video the frame belongs to
    frame_id: Optional[int] = None  # PoseTrack18 ``frame_id`` (orders a video's frames)


@dataclass
class CocoDataset:
    images: list
    keypoint_names: tuple
    source: Optional[Path] = None

    @property
    def persons(self) -> list:
        return [p for im in self.images for p in im.persons]

    def image(self, image_id: int) -> CocoImage:
        for im in self.images:
            if im.id == image_id:
                return im
        raise KeyError(image_id)


# -- import ---------------------------------------------------------------------------------
def _read_json(path: Path):
    from ..bounded_read import parse_json, read_text  # noqa: PLC0415

    text = read_text(path, PoseError)
    return parse_json(text, path.name, PoseError)


MAX_SIDE = 1_000_000  # pixels; larger images are not real
MAX_TRACK_ID = 2 ** 31  # track ids and person numbers are small integers
MAX_VIDEO_ID = 200      # characters of a PoseTrack18 vid_id
MAX_COORD = 1e12     # pixels; keeps areas and exported numbers finite
INT64 = 2 ** 63


def _field(obj, key: str, kind, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise PoseError(f"{where}: missing '{key}'")
    value = obj[key]
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise PoseError(f"{where}: '{key}' must be {getattr(kind, '__name__', kind)}"
                        f"{' (64-bit)' if kind is int else ''}, got {type(value).__name__}")
    return value


def _text_ok(value: str) -> bool:
    from ..bounded_read import string_problem  # noqa: PLC0415

    return "\x00" not in value and string_problem(value) is None


def _keypoint_categories(doc, name: str) -> dict:
    cats = _field(doc, "categories", list, name)
    out = {}
    for i, cat in enumerate(cats):
        where = f"{name}: categories[{i}]"
        if isinstance(cat, dict) and "keypoints" in cat:
            names = _field(cat, "keypoints", list, where)
            if not all(isinstance(n, str) and _text_ok(n) for n in names):
                raise PoseError(f"{where}: 'keypoints' must be a list of joint names")
            out[_field(cat, "id", int, where)] = tuple(names)
    if not out:
        raise PoseError(f"{name}: no category has a 'keypoints' list of joint names "
                        "(not a COCO keypoints file)")
    return out


def _images(doc, name: str, folder: Path) -> dict:
    out = {}
    for i, im in enumerate(_field(doc, "images", list, name)):
        where = f"{name}: images[{i}]"
        image_id = _field(im, "id", int, where)
        file_name = im.get("file_name") if isinstance(im, dict) else None
        if file_name is None:
            file_name = ""
        if not isinstance(file_name, str) or not _text_ok(file_name):
            raise PoseError(f"{where} (id {image_id}): 'file_name' must be a file name (text)")
        w, h = _field(im, "width", int, where), _field(im, "height", int, where)
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise PoseError(f"{where} (id {image_id}): width/height must be 1..{MAX_SIDE}")
        out[image_id] = CocoImage(image_id, file_name, w, h,
                                  folder / file_name if file_name else None,
                                  video=_video_id(im, where), frame_id=_optional_int(
                                      im, "frame_id", where, 0, INT64))
    return out


def _optional_int(obj: Optional[dict], key: str, where: str, low: int,
                  high: int) -> Optional[int]:
    """An optional integer field in low..high-1 (None when absent or null)."""
    if not isinstance(obj, dict) or obj.get(key) is None:
        return None
    value = _field(obj, key, int, where)
    if not low <= value < high:
        raise PoseError(f"{where}: '{key}' must be an integer in {low}..{high - 1}, got {value}")
    return value


def _video_id(im: dict, where: str) -> Optional[str]:
    value = im.get("vid_id") if isinstance(im, dict) else None
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > MAX_VIDEO_ID or not _text_ok(value):
        raise PoseError(f"{where}: 'vid_id' must be a video id (text of 1..{MAX_VIDEO_ID} "
                        "characters)")
    return value


def _parse_keypoints(ann: dict, names: tuple, where: str) -> tuple[np.ndarray, dict]:
    flat = _field(ann, "keypoints", list, where)
    if len(flat) != 3 * len(names):
        raise PoseError(f"{where}: 'keypoints' has {len(flat)} numbers, expected "
                        f"{3 * len(names)} (3 per joint for {len(names)} joints)")
    try:
        raw = np.array(flat, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError):
        raise PoseError(f"{where}: 'keypoints' must contain only numbers") from None
    with np.errstate(invalid="ignore"):
        bad = ~np.isin(raw[:, 2], (0, 1, 2)) | ~(np.abs(raw[:, :2]) < MAX_COORD).all(axis=1)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise PoseError(f"{where}: joint '{names[j]}' has visibility {raw[j, 2]!r}, "
                        "expected 0, 1 or 2 and finite coordinates")
    sk = blazepose()
    kp = np.full((sk.n, 3), np.nan)
    kp[:, 2] = 0
    extra = {}
    for j, jname in enumerate(names):
        if jname in sk.joints:
            if raw[j, 2] > 0:
                kp[sk.index(jname)] = raw[j]
        else:
            extra[jname] = tuple(float(v) for v in raw[j])
    return kp, extra


def _bbox(ann: dict, kp: np.ndarray, where: str) -> tuple:
    if "bbox" not in ann:
        lab = kp[kp[:, 2] > 0, :2]
        if not len(lab):
            return (0.0, 0.0, 0.0, 0.0)
        (x0, y0), (x1, y1) = lab.min(axis=0), lab.max(axis=0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    box = ann["bbox"]
    if (not isinstance(box, list) or len(box) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) and abs(v) < MAX_COORD for v in box)
            or box[2] < 0 or box[3] < 0):
        raise PoseError(f"{where}: 'bbox' must be [x, y, width, height] (finite numbers, "
                        "width and height >= 0)")
    return tuple(float(v) for v in box)


def _person(ann, cats: dict, images: dict, where: str) -> Optional[CocoPerson]:
    if not isinstance(ann, dict):
        raise PoseError(f"{where}: must be an object")
    if "category_id" in ann:
        _field(ann, "category_id", int, where)
    names = cats.get(ann.get("category_id", next(iter(cats))))
    if names is None:
        return None  # an annotation of a category without keypoints (not a person)
    ann_id = _field(ann, "id", int, where)
    where = f"{where} (id {ann_id})"
    image_id = _field(ann, "image_id", int, where)
    if image_id not in images:
        raise PoseError(f"{where}: image_id {image_id} is not in 'images'")
    kp, extra = _parse_keypoints(ann, names, where)
    score = _field(ann, "score", float, where) if ann.get("score") is not None else None
    track_id = _optional_int(ann, "track_id", where, 0, MAX_TRACK_ID)
    ours = ann.get("actionart")
    if ours is not None and not isinstance(ours, dict):
        raise PoseError(f"{where}: 'actionart' must be an object")
    person = _optional_int(ours, "person", f"{where}: actionart", 0, MAX_TRACK_ID)
    return CocoPerson(ann_id, image_id, kp, _bbox(ann, kp, where),
                      None if score is None else float(score), extra, track_id, person)


def load_coco(path) -> CocoDataset:
    """Read a COCO keypoints JSON; PoseError names the first malformed part."""
    path = Path(path)
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise PoseError(f"{path.name}: top level must be a JSON object")
    cats = _keypoint_categories(doc, path.name)
    images = _images(doc, path.name, path.parent)
    for i, ann in enumerate(_field(doc, "annotations", list, path.name)):
        person = _person(ann, cats, images, f"{path.name}: annotations[{i}]")
        if person is not None:
            images[person.image_id].persons.append(person)
    return CocoDataset(list(images.values()), next(iter(cats.values())), path)


# -- several people per image, PoseTrack18 ---------------------------------------------------
@dataclass
class FramePeople:
    """Every person of one image (a video frame) as plain arrays.

    ``keypoints``: (persons, joints, 3) pixel x, pixel y, COCO flag v (NaN and 0 where absent);
    ``track_ids``: (persons,) int64, the file's track id of each person (-1 where none);
    ``ids``: the annotation ids. People are in the file's order."""
    image: CocoImage
    keypoints: np.ndarray
    track_ids: np.ndarray
    ids: tuple

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def frame(self) -> Optional[int]:
        """The frame number within its video: the image file's numeric name (PoseTrack18
        names frames 000000.jpg, 000001.jpg, ...), None when it has none."""
        stem = Path(self.image.file_name).stem
        return int(stem) if stem.isdigit() and len(stem) <= 9 else None

    def image_poses(self) -> np.ndarray:
        """(persons, joints, 4) float32 in the ``PoseTrack`` image convention (as
        ``CocoPerson.image_pose``)."""
        kp = self.keypoints
        out = np.full(kp.shape[:2] + (4,), np.nan, dtype=np.float32)
        lab = kp[..., 2] > 0
        out[lab, 0] = kp[lab, 0] / self.image.width
        out[lab, 1] = kp[lab, 1] / self.image.height
        out[lab, 2] = 0.0
        out[lab, 3] = np.where(kp[lab, 2] >= 2, VIS_OF_FLAG[2], VIS_OF_FLAG[1])
        return out


def people_of(image: CocoImage) -> FramePeople:
    """One image's people (every annotation of it, not only the largest)."""
    n = blazepose().n
    kps = np.stack([p.keypoints for p in image.persons]) if image.persons \
        else np.zeros((0, n, 3))
    ids = np.array([-1 if p.track_id is None else p.track_id for p in image.persons],
                   dtype=np.int64)
    return FramePeople(image, kps, ids, tuple(p.id for p in image.persons))


@dataclass
class PoseTrackVideo:
    """One video of a PoseTrack18 file: its frames in order, each with its people."""
    id: str
    frames: list            # FramePeople, ordered by frame_id (then file order)

    @property
    def track_ids(self) -> list:
        """Every track id of the video, ascending."""
        return sorted({int(t) for f in self.frames for t in f.track_ids})


def _resolve_images(images: list, path: Path, levels: int = 3) -> None:
    """PoseTrack18 names images from the dataset root (``images/val/...``) while the
    annotations lie in ``annotations/`` or ``annotations/val/``: the first of the JSON's
    folder and its parents where the named file exists is used."""
    roots = [path.parent, *list(path.parent.parents)[:levels]]
    for im in images:
        if not im.file_name:
            continue
        for root in roots:
            candidate = root / im.file_name
            if candidate.is_file():
                im.path = candidate
                break


def load_posetrack18(path) -> list:
    """A PoseTrack18 annotation file (COCO-shaped with track ids) as ``PoseTrackVideo``s.

    Joints are taken by name (head_top and head_bottom have no BlazePose joint: kept in each
    person's ``extra``); every annotation needs a ``track_id``, unique within its frame;
    frames without annotations are kept (no people). PoseError names the first problem."""
    path = Path(path)
    dataset = load_coco(path)
    _resolve_images(dataset.images, path)
    videos: dict = {}
    for im in dataset.images:
        seen: set = set()
        for person in im.persons:
            where = f"{path.name}: annotation id {person.id} (image id {im.id})"
            if person.track_id is None:
                raise PoseError(f"{where}: missing 'track_id' (every PoseTrack18 person has one)")
            if person.track_id in seen:
                raise PoseError(f"{where}: track_id {person.track_id} appears twice on one frame")
            seen.add(person.track_id)
        videos.setdefault(im.video or "", []).append(im)
    out = []
    for vid, ims in videos.items():
        order = sorted(range(len(ims)), key=lambda i: (ims[i].frame_id is None,
                                                        ims[i].frame_id or 0, i))
        out.append(PoseTrackVideo(vid, [people_of(ims[i]) for i in order]))
    return out


# -- conversion ------------------------------------------------------------------------------
def person_track(image: CocoImage, person: CocoPerson) -> PoseTrack:
    """A one-frame PoseTrack of an imported person, for drawing on its image."""
    pose = person.image_pose(image.width, image.height)[None]
    return PoseTrack(pose, np.full_like(pose, np.nan), 1.0, image.width, image.height,
                     backend=IMPORT_BACKEND, settings={"coco_person": person.id})


def person_from_pose(image_pose: np.ndarray, width: int, height: int, person_id: int,
                     image_id: int, min_visibility: float = 0.0,
                     track_id: Optional[int] = None) -> CocoPerson:
    """A COCO person from one (joints, 4) PoseTrack image row (e.g. an extracted frame);
    ``track_id``: the person's number in the project (written as ``track_id`` and
    ``actionart.person``)."""
    pose = np.asarray(image_pose, dtype=np.float64)
    kp = np.full((len(pose), 3), np.nan)
    kp[:, 2] = 0
    present = ~np.isnan(pose[:, :2]).any(axis=1) & ~(np.nan_to_num(pose[:, 3], nan=1.0)
                                                       < min_visibility)
    kp[present, 0] = pose[present, 0] * width
    kp[present, 1] = pose[present, 1] * height
    vis = np.nan_to_num(pose[present, 3], nan=1.0)
    kp[present, 2] = np.where(vis >= VISIBLE_FROM, 2, 1)
    person = CocoPerson(person_id, image_id, kp, (0.0, 0.0, 0.0, 0.0), track_id=track_id,
                        person=track_id)
    person.bbox = _bbox({}, kp, "")
    return person


# -- export ----------------------------------------------------------------------------------
def _variant(variant: str) -> Skeleton:
    if variant == "coco17":
        return coco17()
    if variant in ("blazepose33", "blazepose"):
        return blazepose()
    raise PoseError(f"Unknown COCO export variant '{variant}' (use coco17 or blazepose33)")


def _annotation(person: CocoPerson, sk: Skeleton) -> dict:
    src = blazepose()
    rows = []
    for name in sk.joints:
        x, y, v = person.keypoints[src.index(name)]
        rows.extend([0, 0, 0] if v <= 0 else [_num(x), _num(y), int(v)])
    x, y, w, h = person.bbox
    ann = {"id": person.id, "image_id": person.image_id, "category_id": 1, "iscrowd": 0,
           "keypoints": rows, "num_keypoints": sum(1 for v in rows[2::3] if v > 0),
           "bbox": [_num(x), _num(y), _num(w), _num(h)], "area": _num(w * h)}
    if person.score is not None:
        ann["score"] = person.score
    if person.track_id is not None:
        ann["track_id"] = int(person.track_id)
    if person.person is not None:
        ann["actionart"] = {"person": int(person.person)}
    return ann


def _num(v: float):
    v = float(v)
    return int(v) if v.is_integer() else round(v, 3)


def coco_document(images, variant: str = "coco17") -> dict:
    """The COCO keypoints JSON object for ``images`` (CocoImage list)."""
    sk = _variant(variant)
    return {
        "info": {"description": f"ActionArt Studio export ({sk.id})"},
        "images": [{"id": im.id, "file_name": im.file_name, "width": im.width,
                    "height": im.height} for im in images],
        "annotations": [_annotation(p, sk) for im in images for p in im.persons],
        "categories": [{"id": 1, "name": "person", "supercategory": "person",
                        "keypoints": list(sk.joints),
                        "skeleton": [[a + 1, b + 1] for a, b in sk.bones]}],
    }


def save_coco(path, images, variant: str = "coco17") -> None:
    """Write a COCO keypoints JSON atomically (a temp file, then rename)."""
    if isinstance(images, CocoDataset):
        images = images.images
    doc = coco_document(images, variant)
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
        os.replace(tmp, path)
    except OSError as exc:
        raise PoseError(f"Cannot write {path}: {exc.strerror or exc}") from None
