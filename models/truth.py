"""Scoring the pose describer and QA synthesis against a gold set labelled from the pictures.

The gold set (``tests/data/gold/labels.jsonl``, fields explained in the README beside it)
holds, per frame of a real clip or image, one record per labelled person ("subject"): a
pixel box, whether a correct full-body pose is possible at all, acceptable posture words,
elbow/knee angle ranges, torso incline and lean ranges, a facing (yaw) range, hand vs head
height, which hand / knee is higher and the joints that cannot be seen. ``others`` are
boxes of people present but not labelled.

API
---
``load_gold(path) -> list[dict]``: the records, checked (``TruthError`` on a bad file).
``judge_frame(doc, skeleton_xy, record) -> FrameJudgement``: every fact of one describe
    document (what ``main.py describe --json`` prints) judged against the record.
``judge_qa(record_qa, subject) -> (kind, verdict)``: one synthesized QA item vs the gold.
``Tally``: counts per fact kind; ``report()`` gives the summary dict.
``run(records, describe_frame, ...)``: poses every gold source once (clips through the
    extraction the CLI uses, images as a one-frame clip through the default backend),
    judges each frame and the QA items synthesized on it; returns ``Tally``.

Verdicts. A fact is *correct*, *wrong* or *unscored*:

* the skeleton is not on any labelled person nor on a listed other person ("ghost"), or it
  is on a person whose ``full_body_pose_possible`` is false: every claim is wrong;
* the skeleton is on an ``others`` person: the frame is skipped (counted);
* a claim resting on a joint the gold lists as not visible is wrong;
* otherwise a claim maps to a gold field (``FIELDS``) and is correct when its bin,
  read as a value interval, overlaps the gold range (or its label is in the gold set);
  without a gold value it is unscored. Kinds with no gold field are reported as "other"
  (only the rules above can make them wrong, so they are kept out of the overall precision).

"Not visible" claims (``kind == "unknown"``) are correct when the gold lists a joint of that
region as not visible, otherwise unscored (the gold does not list every occluded joint).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from .errors import StudioError

if TYPE_CHECKING:
    from .pose.storage import PoseStore


class TruthError(StudioError):
    """A gold-set file that cannot be read or has a malformed record."""


SUBJECT_KEYS = ("bbox", "full_body_pose_possible", "posture", "angles", "torso", "facing",
                "hand_vs_head", "hand_higher", "knee_higher", "not_visible")
ANGLE_JOINTS = ("left_elbow", "right_elbow", "left_knee", "right_knee")
POSTURE_WORDS = ("lying", "sitting", "kneeling", "squatting", "standing", "bending over",
                 "arms raised")
# gold joint name -> BlazePose joints it stands for (hands and feet include their points)
GOLD_JOINTS = {
    "head": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    "left_shoulder": (11,), "right_shoulder": (12,), "left_elbow": (13,), "right_elbow": (14,),
    "left_wrist": (15, 17, 19, 21), "right_wrist": (16, 18, 20, 22),
    "left_hip": (23,), "right_hip": (24,), "left_knee": (25,), "right_knee": (26,),
    "left_ankle": (27, 29, 31), "right_ankle": (28, 30, 32),
}
# describer region of a "not visible" fact -> gold joints in that region
REGIONS = {
    "head": ("head",), "torso": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "left_arm": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_arm": ("right_shoulder", "right_elbow", "right_wrist"),
    "left_leg": ("left_hip", "left_knee", "left_ankle"),
    "right_leg": ("right_hip", "right_knee", "right_ankle"),
}
# finer describer regions -> the region above whose gold joints they cover
SUB_REGIONS = {"shoulders": ("torso", ("left_shoulder", "right_shoulder")),
               "hips": ("torso", ("left_hip", "right_hip"))}

# fact quantity -> (reported kind, gold field).  Table also in tests/data/gold/README.md.
FIELDS = {
    "posture": ("posture", "posture"),
    "left_elbow_angle": ("elbow angle", "angles.left_elbow"),
    "right_elbow_angle": ("elbow angle", "angles.right_elbow"),
    "left_knee_angle": ("knee angle", "angles.left_knee"),
    "right_knee_angle": ("knee angle", "angles.right_knee"),
    "torso_orientation": ("torso incline", "torso.incline"),
    "lean_fb": ("torso lean fwd/back", "torso.fb"),
    "lean_lr": ("torso lean sideways", "torso.lr"),
    "turn": ("facing", "facing"),
    "left_hand_above_head": ("hand vs head", "hand_vs_head.left"),
    "right_hand_above_head": ("hand vs head", "hand_vs_head.right"),
    "hands_height": ("hand higher", "hand_higher"),
}
KINDS = ("posture", "elbow angle", "knee angle", "torso incline", "torso lean fwd/back",
         "torso lean sideways", "facing", "hand vs head", "hand higher", "not visible")
NO_FIELD = "other"
MARKERS = ("world_consistency", "reliability")   # "not described" markers, not claims
HEIGHT_WORDS = {"left higher": "left", "right higher": "right", "level": "level"}


# -- the gold file --------------------------------------------------------------------------
def load_gold(path) -> list[dict]:
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TruthError(f"Cannot read the gold set {p}: {exc}") from None
    out, ids = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TruthError(f"{p.name} line {n}: not JSON ({exc.msg})") from None
        _check_record(rec, f"{p.name} line {n}")
        if rec["id"] in ids:
            raise TruthError(f"{p.name} line {n}: duplicate id {rec['id']}")
        ids.add(rec["id"])
        out.append(rec)
    return out


def _check_record(rec, where: str) -> None:
    if not isinstance(rec, dict) or not all(k in rec for k in ("id", "source", "frame", "size", "subjects")):
        raise TruthError(f"{where}: a record needs id, source, frame, size and subjects")
    for s in rec["subjects"]:
        missing = [k for k in SUBJECT_KEYS if k not in s]
        if missing:
            raise TruthError(f"{where}: subject lacks {', '.join(missing)}")
        if len(s["bbox"]) != 4:
            raise TruthError(f"{where}: bbox must be [x0, y0, x1, y1]")
        bad = [w for w in (s["posture"] or []) if w not in POSTURE_WORDS]
        if bad:
            raise TruthError(f"{where}: unknown posture word {bad[0]!r}")
        for j, r in s["angles"].items():
            if j not in ANGLE_JOINTS or len(r) != 2 or not 0 <= r[0] <= r[1] <= 180:
                raise TruthError(f"{where}: bad angle range {j}={r}")
        bad = [j for j in s["not_visible"] if j not in GOLD_JOINTS]
        if bad:
            raise TruthError(f"{where}: unknown joint {bad[0]!r} in not_visible")


def gold_value(subject: dict, path: str):
    """The gold value at a dotted field path ("torso.fb"), None when absent/unknown."""
    v: Any = subject
    for k in path.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(k)
    if path == "facing" and v is not None:
        return v.get("yaw")
    return v


def _as_set(v) -> Optional[set]:
    if v is None:
        return None
    return {v} if isinstance(v, str) else set(v)


# -- bins as value intervals ----------------------------------------------------------------
def bin_interval(group: dict, label_or_code) -> tuple[float, float]:
    """The value interval a bin covers (same rule as ``describe.config.bin_codes``)."""
    edges = [float(e) for e in group["edges"]]
    code = (group["labels"].index(label_or_code) if isinstance(label_or_code, str)
            else int(label_or_code))
    if not group.get("signed"):
        lo = edges[code - 1] if code > 0 else -math.inf
        hi = edges[code] if code < len(edges) else math.inf
        return lo, hi
    k = code - len(edges)
    if k == 0:
        return -edges[0], edges[0]
    a = abs(k)
    lo, hi = edges[a - 1], edges[a] if a < len(edges) else math.inf
    return (lo, hi) if k > 0 else (-hi, -lo)


def overlaps(a: tuple, b, wrap: bool = False) -> bool:
    """Closed intervals ``a`` and ``b`` share a value (``wrap``: degrees modulo 360)."""
    shifts = (-360.0, 0.0, 360.0) if wrap else (0.0,)
    lo_b, hi_b = float(b[0]), float(b[1])
    return any(max(a[0], lo_b + s) <= min(a[1], hi_b + s) for s in shifts)


def _group_of(quantity: str) -> dict:
    from .describe.config import group, measures  # noqa: PLC0415
    for m in measures():
        if m.id == quantity:
            return group(m.group)
    raise KeyError(quantity)


# -- judging one fact -----------------------------------------------------------------------
def _hidden_joints(subject: dict) -> set:
    return {j for name in subject["not_visible"] for j in GOLD_JOINTS[name]}


def judge_fact(fact: dict, subject: Optional[dict]) -> tuple[str, str]:
    """(kind, verdict) of one describe fact (dict) about ``subject`` (None = ghost)."""
    q = fact["quantity"]
    if fact["kind"] == "unknown":
        kind = "not visible"
        if subject is None:
            return kind, "unscored"
        region = fact["parts"][0]
        if region == "body":      # "no person is visible"
            return kind, "correct" if not subject["full_body_pose_possible"] else "wrong"
        joints = SUB_REGIONS[region][1] if region in SUB_REGIONS else REGIONS.get(region, ())
        return kind, "correct" if set(joints) & set(subject["not_visible"]) else "unscored"
    kind, path = FIELDS.get(q, (NO_FIELD, None))
    if subject is None or not subject["full_body_pose_possible"]:
        return kind, "wrong"
    if set(fact.get("joints") or ()) & _hidden_joints(subject):
        return kind, "wrong"
    if path is None:
        return kind, "unscored"
    gold = gold_value(subject, path)
    if gold is None:
        return kind, "unscored"
    if q == "posture":
        return kind, "correct" if fact["bin"] in set(gold) else "wrong"
    if q.endswith("_hand_above_head"):
        return kind, "correct" if fact["bin"] in (_as_set(gold) or ()) else "wrong"
    if q == "hands_height":
        return kind, "correct" if HEIGHT_WORDS.get(fact["bin"]) in (_as_set(gold) or ()) else "wrong"
    iv = bin_interval(_group_of(q), fact["bin"])
    return kind, "correct" if overlaps(iv, gold, wrap=(q == "turn")) else "wrong"


# -- which person the skeleton is on --------------------------------------------------------
def skeleton_centre(image_pose: np.ndarray, width: int, height: int) -> Optional[np.ndarray]:
    """Pixel centre of the shoulders and hips (or of every landmark if those are missing)."""
    p = np.asarray(image_pose, dtype=np.float64)
    torso = p[[11, 12, 23, 24], :2]
    pts = torso if np.isfinite(torso).all() else p[np.isfinite(p[:, :2]).all(axis=1), :2]
    if not len(pts):
        return None
    return pts.mean(axis=0) * (width, height)


def _inside(xy, box, grow: float = 0.1) -> bool:
    x0, y0, x1, y1 = (float(v) for v in box)
    gx, gy = grow * (x1 - x0), grow * (y1 - y0)
    return x0 - gx <= xy[0] <= x1 + gx and y0 - gy <= xy[1] <= y1 + gy


def match_subject(record: dict, centre) -> tuple[str, Optional[dict]]:
    """("subject", s) / ("other", None) / ("ghost", None) for a skeleton centre."""
    if centre is None:
        return "ghost", None
    hits = [s for s in record["subjects"] if _inside(centre, s["bbox"])]
    if hits:
        def dist(s):
            x0, y0, x1, y1 = s["bbox"]
            return math.hypot(centre[0] - (x0 + x1) / 2, centre[1] - (y0 + y1) / 2) / max(x1 - x0, y1 - y0, 1)
        return "subject", min(hits, key=dist)
    if any(_inside(centre, b) for b in record.get("others", [])):
        return "other", None
    return "ghost", None


def primary_subject(record: dict) -> Optional[dict]:
    return next((s for s in record["subjects"] if s["full_body_pose_possible"]), None)


def gold_fields(subject: dict) -> list[tuple[str, str]]:
    """(kind, field path) of every gold label the describer could assert for ``subject``."""
    out = []
    if subject["posture"]:
        out.append(("posture", "posture"))
    for q, (kind, path) in FIELDS.items():
        if q != "posture" and gold_value(subject, path) is not None:
            out.append((kind, path))
    for region, joints in REGIONS.items():
        if set(joints) & set(subject["not_visible"]):
            out.append(("not visible", "region." + region))
    return out


def _asserted_paths(facts: list) -> set:
    out = set()
    for f in facts:
        if f["kind"] == "unknown":
            out.add("region." + SUB_REGIONS.get(f["parts"][0], (f["parts"][0],))[0])
        elif f["quantity"] in FIELDS:
            out.add(FIELDS[f["quantity"]][1])
    if any(f["kind"] == "unknown" and f["parts"][0] == "body" for f in facts):
        out |= {"region." + r for r in REGIONS}
    return out


# -- QA items -------------------------------------------------------------------------------
QA_RELATIVE = {("left_wrist", "right_wrist", "y"): "hand_higher",
               ("left_knee", "right_knee", "y"): "knee_higher",
               ("left_wrist", "nose", "y"): "hand_vs_head.left",
               ("right_wrist", "nose", "y"): "hand_vs_head.right"}
QA_WORDS = {"the left hand": "left", "the right hand": "right", "the left knee": "left",
            "the right knee": "right", "both hands are at about the same height": "level",
            "both knees are at about the same height": "level", "above the head": "above",
            "below the head": "below", "at about head height": "level"}


def judge_qa(task: str, params: dict, answer: str, subject: Optional[dict]) -> tuple[str, str]:
    """(kind, verdict) of one QA item's correct option against the gold subject."""
    kind = task
    if subject is None or not subject["full_body_pose_possible"]:
        return kind, "wrong"
    if task == "body_part_pose":
        joint = params["joint"]
        gold = subject["angles"].get(joint)
        if joint not in ANGLE_JOINTS or gold is None:
            return kind, "unscored"
        from .qa.tasks.body_part_pose import edges_for, labels_for  # noqa: PLC0415
        code = labels_for(joint).index(answer)
        edges = edges_for(joint)
        iv = (edges[code - 1] if code else -math.inf, edges[code] if code < len(edges) else math.inf)
        return kind, "correct" if overlaps(iv, gold) else "wrong"
    if task == "full_body_posture":
        from .qa.tasks.full_body_posture import DESCRIBED  # noqa: PLC0415
        if not subject["posture"]:
            return kind, "unscored"
        return kind, "correct" if DESCRIBED.get(answer) in set(subject["posture"]) else "wrong"
    if task == "relative_position":
        path = QA_RELATIVE.get(tuple(params["parts"]) + (params["axis"],))
        gold = None if path is None else _as_set(gold_value(subject, path))
        if gold is None:
            return kind, "unscored"
        return kind, "correct" if QA_WORDS.get(answer) in gold else "wrong"
    return kind, "unscored"


# -- tallies --------------------------------------------------------------------------------
@dataclass
class Tally:
    claims: dict = field(default_factory=dict)     # kind -> {"correct", "wrong", "unscored"}
    coverage: dict = field(default_factory=dict)   # kind -> [asserted, present]
    qa: dict = field(default_factory=dict)         # task -> {"correct", "wrong", "unscored"}
    frames: dict = field(default_factory=lambda: {"total": 0, "no_pose": 0, "ghost": 0,
                                                  "other_person": 0, "on_subject": 0,
                                                  "gold_unreliable": 0, "flagged_unreliable": 0,
                                                  "flagged_reliable": 0, "qa_frames": 0})
    wrong_examples: list = field(default_factory=list)

    def add_claim(self, kind: str, verdict: str) -> None:
        self.claims.setdefault(kind, {"correct": 0, "wrong": 0, "unscored": 0})[verdict] += 1

    def add_qa(self, kind: str, verdict: str) -> None:
        self.qa.setdefault(kind, {"correct": 0, "wrong": 0, "unscored": 0})[verdict] += 1

    def add_coverage(self, kind: str, asserted: bool) -> None:
        c = self.coverage.setdefault(kind, [0, 0])
        c[0] += int(asserted)
        c[1] += 1

    @staticmethod
    def _precision(c: dict) -> Optional[float]:
        n = c["correct"] + c["wrong"]
        return None if n == 0 else c["correct"] / n

    def report(self) -> dict:
        kinds = {k: dict(v, precision=self._precision(v)) for k, v in sorted(self.claims.items())}
        scored = [v for k, v in self.claims.items() if k != NO_FIELD]
        overall = {s: sum(v[s] for v in scored) for s in ("correct", "wrong", "unscored")}
        cov = {k: {"asserted": a, "present": p, "coverage": a / p if p else None}
               for k, (a, p) in sorted(self.coverage.items())}
        ca, cp = sum(a for a, _ in self.coverage.values()), sum(p for _, p in self.coverage.values())
        qa_all = {s: sum(v[s] for v in self.qa.values()) for s in ("correct", "wrong", "unscored")}
        return {"claims": kinds, "overall": dict(overall, precision=self._precision(overall)),
                "coverage": cov, "coverage_overall": ca / cp if cp else None,
                "qa": {k: dict(v, precision=self._precision(v)) for k, v in sorted(self.qa.items())},
                "qa_overall": dict(qa_all, precision=self._precision(qa_all)),
                "frames": dict(self.frames), "wrong_examples": self.wrong_examples[:200]}


@dataclass
class FrameJudgement:
    status: str                  # "subject" / "other" / "ghost" / "no_pose"
    subject: Optional[dict]
    verdicts: list               # (fact dict, kind, verdict)
    flagged: bool


def is_flagged(doc: Optional[dict], error: str = "") -> bool:
    """The program itself says this frame's pose is not to be trusted: a top-level
    ``reliable: false``, the one-fact "3-D pose contradicts the image" output, or the CLI
    refusing the frame for that reason."""
    if doc is not None:
        if doc.get("reliable") is False:
            return True
        return any(f.get("quantity") in MARKERS for f in doc.get("facts", []))
    return "contradicts the image" in error or "is not described:" in error


def judge_frame(doc: Optional[dict], centre, record: dict, error: str = "") -> FrameJudgement:
    """Judge every fact of one describe document (None: the CLI printed an error)."""
    flagged = is_flagged(doc, error)
    if doc is None or (centre is None and doc.get("reliable") is False):
        return FrameJudgement("no_pose", primary_subject(record), [], flagged)
    status, subject = match_subject(record, centre)
    if status == "other":
        return FrameJudgement(status, None, [], flagged)
    facts = [f for f in doc.get("facts", []) if f.get("quantity") not in MARKERS]
    verdicts = [(f, *judge_fact(f, subject)) for f in facts]
    return FrameJudgement(status, subject, verdicts, flagged)


def tally_frame(t: Tally, record: dict, j: FrameJudgement) -> None:
    t.frames["total"] += 1
    t.frames[{"subject": "on_subject", "other": "other_person", "ghost": "ghost",
              "no_pose": "no_pose"}[j.status]] += 1
    unreliable_gold = not any(s["full_body_pose_possible"] for s in record["subjects"])
    t.frames["gold_unreliable"] += int(unreliable_gold)
    if j.flagged:
        t.frames["flagged_unreliable" if unreliable_gold else "flagged_reliable"] += 1
    for f, kind, verdict in j.verdicts:
        t.add_claim(kind, verdict)
        if verdict == "wrong":
            t.wrong_examples.append({"id": record["id"], "kind": kind, "quantity": f["quantity"],
                                     "bin": f["bin"], "status": j.status})
    target = j.subject if j.status == "subject" else primary_subject(record)
    if target is None or not target["full_body_pose_possible"] or j.status == "other":
        return
    asserted = _asserted_paths([f for f, _, _ in j.verdicts]) if j.status == "subject" else set()
    for kind, path in gold_fields(target):
        t.add_coverage(kind, path in asserted)


# -- running the program on the gold set ----------------------------------------------------
def image_track(path):
    """A one-frame ``PoseTrack`` of an image: the default backend with its default settings
    on the whole picture, as ``extract_video`` would run it on a one-frame clip."""
    import cv2  # noqa: PLC0415

    from .pose.registry import DEFAULT_BACKEND, get  # noqa: PLC0415
    from .pose.track import PoseTrack  # noqa: PLC0415

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise TruthError(f"Cannot read the image {path}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    spec = get(DEFAULT_BACKEND)
    est = spec.create(spec.settings())
    try:
        found = est.process(rgb, 0)
    finally:
        est.close()
    track = PoseTrack.empty(1, fps=1.0, width=w, height=h, backend=DEFAULT_BACKEND,
                            settings=spec.settings())
    track.backend_version = est.version
    if found is not None:
        track.image[0], track.world[0] = found
    track.frames_done = 1
    return track


def load_tracks(records: list[dict], root: Path, repo: Optional[PoseStore] = None) -> dict:
    """source -> PoseTrack, each source posed once (clips via ``extract_video``)."""
    from .pose.extract import extract_video  # noqa: PLC0415
    from .pose.native_logs import NativeLogsMuted  # noqa: PLC0415
    from .video import is_video_path  # noqa: PLC0415

    out = {}
    with NativeLogsMuted():
        for src in dict.fromkeys(r["source"] for r in records):
            path = root / src
            out[src] = extract_video(path, repo) if is_video_path(path) else image_track(path)
    return out


SINGLE_FRAME_TASKS = ("body_part_pose", "full_body_posture", "relative_position")


def qa_items(track, frame: int, video: str, contexts: Optional[dict] = None) -> list:
    """QA records synthesized on exactly this frame (single-frame sub-tasks), through the
    same generation, answerability checks (reliability, visibility, margin, stability over
    the clip's neighbouring frames), selection and option balancing as ``models.qa.synth``.
    ``contexts``: a dict caching each track's ``answerable.TrackContext`` between frames."""
    from .pose.reliability import frame_reliability  # noqa: PLC0415
    from .qa.answerable import TrackContext  # noqa: PLC0415
    from .qa.synth import SynthSettings, synthesize_clip  # noqa: PLC0415
    from .qa.tasks.common import ClipFacts  # noqa: PLC0415

    if not frame_reliability(track, frame)[0]:
        return []                       # synthesis never uses an unreliable frame
    s = SynthSettings(tasks=SINGLE_FRAME_TASKS, per_clip=50)
    contexts = {} if contexts is None else contexts
    if id(track) not in contexts:
        contexts[id(track)] = (track, TrackContext(track, min_visibility=s.min_visibility))
    ctx = contexts[id(track)][1]
    times = track.timeline if getattr(track, "times", None) is not None else None
    facts = ClipFacts(f"{video}#{frame}", track.fps or 1.0, {frame: ctx.frame_facts(frame)},
                      [], [], s.n_options, times, ctx)
    return synthesize_clip(facts, s, pose_backend=track.backend)


def run(records: list[dict], describe_frame: Callable, root, repo: Optional[PoseStore] = None,
        tracks: Optional[dict] = None, qa: bool = True) -> Tally:
    """Score ``records``. ``describe_frame(track, video, frame) -> (text, doc)`` is the
    CLI's ``describe --json`` (``cli.describe.frame_doc``); a ``StudioError`` it raises is
    what the CLI would print as ``error:`` (no claims)."""
    root = Path(root)
    tracks = tracks if tracks is not None else load_tracks(records, root, repo)
    t = Tally()
    contexts: dict = {}
    for rec in records:
        track = tracks[rec["source"]]
        frame = int(rec["frame"])
        doc, error = None, ""
        try:
            _text, doc = describe_frame(track, rec["source"], frame)
        except StudioError as exc:
            error = str(exc)
        centre = None
        if doc is not None:
            centre = skeleton_centre(track.image[frame], track.width, track.height)
        j = judge_frame(doc, centre, rec, error)
        tally_frame(t, rec, j)
        if qa and j.status in ("subject", "ghost"):
            t.frames["qa_frames"] += 1
            for item in qa_items(track, frame, rec["source"], contexts):
                params = item.provenance.generation_params["params"]
                t.add_qa(*judge_qa(item.task, params, item.options[item.answer_index], j.subject))
    return t
