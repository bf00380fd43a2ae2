"""Built-in rule stages: everything the pipeline computes from a clip without a model.

Each stage is a pure function ``fn(task, ctx) -> dict`` (see ``models.engine.stage``): it
reads the clip and the results of the stages it needs (``task.upstream``), writes nothing,
and returns JSON values (NaN and infinities become None) plus, for ``poses``, the track as
``bytes``. A clip that cannot be used raises a ``StudioError`` whose one line says why (the
runner records it against the item).

Stages and their results (``needs`` in brackets):

``probe`` []: ``frames`` (declared by the header), ``fps``, ``width``, ``height``,
    ``duration_s``, ``codec`` (FourCC text or None), ``vfr``, ``size_bytes``,
    ``decodable_frames`` (None without ``check``), ``decode_stopped`` (None or
    {frame, time_s, reason}). Params: ``check`` (decode every frame to find where a damaged
    file stops; default true), ``allow_truncated`` (default false: a clip that stops
    decoding before its declared end is an error).
``poses`` [probe]: ``track`` (bytes: ``PoseTrack.to_npz_bytes``, read with
    ``track_from_result``), ``frames``, ``frames_with_pose``, ``fps``, ``width``,
    ``height``, ``duration_s``, ``backend``, ``backend_version``, ``settings`` (merged),
    ``declared_frames``, ``trimmed``. Params: ``backend``, ``settings`` (the backend's
    settings to override), ``allow_truncated``. Resumable: see ``poses_stage``.
``reliability`` [poses]: ``frames``, ``reliable_frames``, ``share``, ``summary``, ``ok``
    (one bool per frame), ``runs`` ([{start, end (exclusive), codes, texts}] of unreliable
    frames with the same reasons; texts of the run's first frame), ``counts`` (code ->
    frames), ``damage`` (per-frame picture damage score, None where not measured; None
    for a track without the cue), ``damage_max`` (the threshold).
``facts`` [poses]: ``step_s``, ``min_visibility``, ``frames``: [{frame, time_s, reliable,
    reasons, unknown_parts, facts}] at every ``step_s`` seconds (at most ``max_frames``,
    spread evenly); an unreliable frame states no fact (``facts`` [], its ``reasons`` say
    why: the rule describer cannot tell).
``describe`` [poses]: ``frames``: the ``describe --json`` document of each sampled frame
    (``models.describe.doc.frame_doc``: video, frame, time_s, backend, reliable, reasons,
    unknown_parts, facts) plus its ``text``.
``diff`` [poses]: ``gap_s``, ``pairs``: [{frame_a, frame_b, time_a_s, time_b_s, described,
    reason, facts, text}] for ``pairs`` frame pairs ``gap_s`` apart spread over the clip
    (``diff --json``); a pair on an unreliable frame has described false and the reason.
``motion`` [poses]: ``window_s``, ``step_s``, ``windows``: [{start_s, end_s, described,
    reason, facts, text}] (``motion --json``, without the per-frame series).
``qa`` [poses]: ``video``, ``key`` (the desktop's generation key), ``settings``, ``count``,
    ``per_task``, ``records`` (canonical ``QARecord.to_dict()`` dicts, exactly what
    ``generate_qa`` stores for the clip in a fresh project with the same settings).
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping, Optional

from ...errors import StudioError, VideoError
from ...jobs import JobContext
from ..stage import ConfigError, Stage, Task, register

# -- helpers -------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON values: numpy scalars and arrays to Python, tuples to lists, NaN
    and infinities to None; ``bytes`` stay (the sink stores them as blobs)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    import numpy as np  # noqa: PLC0415

    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return plain(float(value))
    raise TypeError(f"stage result value {value!r} is not a JSON value")


def _params(task: Task) -> dict:
    from ..stage import get_stage  # noqa: PLC0415

    return get_stage(task.stage).params(task.params)


def _bad(stage: str, name: str, need: str, got: Any) -> ConfigError:
    return ConfigError(f"Stage '{stage}': parameter '{name}' must be {need} (got {got!r})")


def _number(stage: str, p: dict, name: str, low: float, integer: bool = False,
            allow_none: bool = False, high: Optional[float] = None) -> Any:
    v = p[name]
    if v is None and allow_none:
        return None
    kind = "a whole number" if integer else "a number"
    need = f"{kind} of at least {low:g}" + ("" if high is None else f" and at most {high:g}")
    ok = (isinstance(v, int) if integer else isinstance(v, (int, float))) and not isinstance(v, bool)
    if not ok or not math.isfinite(float(v)) or v < low or (high is not None and v > high):
        raise _bad(stage, name, need, v)
    return int(v) if integer else float(v)


def _positive(stage: str, p: dict, name: str) -> float:
    v = _number(stage, p, name, 0.0)
    if v <= 0:
        raise _bad(stage, name, "a number above 0", p[name])
    return v


def _flag(stage: str, p: dict, name: str) -> bool:
    if not isinstance(p[name], bool):
        raise _bad(stage, name, "true or false", p[name])
    return p[name]


def _min_visibility(stage: str, p: dict) -> Optional[float]:
    return _number(stage, p, "min_visibility", 0.0, allow_none=True, high=1.0)


def video_name(task: Task) -> str:
    """The clip's name in results: as the manifest lists it (POSIX separators), else the
    file name (what the desktop's QA generation calls the video without a dataset root)."""
    name = task.item.name or os.path.basename(task.item.video)
    return name.replace(os.sep, "/")


def track_to_result(track) -> dict:
    """A ``PoseTrack`` as the ``poses`` result: the npz bytes plus plain metadata."""
    import numpy as np  # noqa: PLC0415

    meta = track.meta()
    return {"track": track.to_npz_bytes(), "frames": len(track),
            "frames_with_pose": int(np.count_nonzero(track.has_pose)), "fps": float(track.fps),
            "width": int(track.width), "height": int(track.height),
            "duration_s": round(track.timeline.duration(len(track)), 3),
            "backend": meta["backend"], "backend_version": meta["backend_version"],
            "settings": plain(meta["settings"])}


def track_from_result(result: Mapping[str, Any]):
    """The ``PoseTrack`` of a ``poses`` result (never unpickles)."""
    from ...pose.track import PoseTrack  # noqa: PLC0415

    data = result.get("track") if isinstance(result, Mapping) else None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StudioError("The poses result holds no pose track (its 'track' bytes are missing)")
    try:
        return PoseTrack.from_npz_bytes(bytes(data))
    except (ValueError, KeyError, OSError, TypeError) as exc:
        raise StudioError(f"The poses result's track cannot be read: {exc}") from None


def _track(task: Task):
    if "poses" not in task.upstream:
        raise StudioError(f"Stage '{task.stage}' needs the poses of {video_name(task)} "
                          "(the 'poses' stage result is missing)")
    return track_from_result(task.upstream["poses"])


def _sample(track, step_s: float, max_frames: int) -> list[int]:
    """Frames shown at 0, step_s, 2 step_s, ... seconds (each once), at most ``max_frames``
    of them spread evenly over the clip."""
    import numpy as np  # noqa: PLC0415

    n = len(track)
    if n == 0:
        return []
    tl = track.timeline
    duration = tl.duration(n)
    count = max(1, int(math.ceil(duration / step_s - 1e-9))) if duration > 0 else 1
    frames = sorted({tl.frame_at(k * step_s, n) for k in range(count)})
    if len(frames) > max_frames:
        frames = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, max_frames).round()]
    return frames


# -- probe ----------------------------------------------------------------------------------------


def _codec(path: str) -> Optional[str]:
    import cv2  # noqa: PLC0415

    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0) if cap.isOpened() else 0
    finally:
        cap.release()
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ")
    return text if text and text.isprintable() else None


def _truncated(name: str, decoded: int, declared: int, where: str) -> VideoError:
    from ...video import STOP_REASON  # noqa: PLC0415

    return VideoError(f"{name} stops decoding at frame {decoded} of the {declared} its header "
                      f"declares ({STOP_REASON}; {where})")


def probe_stage(task: Task, ctx: JobContext) -> dict:
    from ...video import probe  # noqa: PLC0415

    p = _params(task)
    check = _flag("probe", p, "check")
    allow = _flag("probe", p, "allow_truncated")
    path = task.item.video
    info = probe(path, check=check)
    times = info.timeline
    decodable = times.decoded if check else None
    name = os.path.basename(path)
    if check and decodable is not None and info.declared_count and decodable < info.frame_count:
        if decodable == 0:
            raise VideoError(f"{name}: no frame could be decoded")
        if not allow:
            raise _truncated(name, decodable, info.frame_count,
                             "set allow_truncated to keep the frames before")
    report = times.report() if info.times is not None else {}
    return plain({"frames": info.frame_count, "fps": round(info.fps, 6), "width": info.width,
                  "height": info.height, "duration_s": round(info.duration, 3),
                  "codec": _codec(path), "vfr": bool(report.get("vfr", False)),
                  "size_bytes": os.path.getsize(path), "decodable_frames": decodable,
                  "decode_stopped": report.get("decode_stopped")})


# -- poses ---------------------------------------------------------------------------------------


def _backend_settings(p: dict) -> tuple[str, dict]:
    from ...pose import registry  # noqa: PLC0415

    backend = p["backend"]
    if not isinstance(backend, str) or backend not in registry.BACKENDS:
        raise _bad("poses", "backend", "one of " + ", ".join(sorted(registry.BACKENDS)), backend)
    settings = p["settings"]
    if not isinstance(settings, Mapping):
        raise _bad("poses", "settings", "a table of backend settings", settings)
    defaults = registry.get(backend).defaults
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ConfigError(f"Stage 'poses': backend '{backend}' has no setting '{unknown[0]}' "
                          f"(its settings: {', '.join(sorted(defaults))})")
    return backend, dict(settings)


RESUME = "resume"          # task.upstream key of an earlier partial poses result to go on from
CHECKPOINT_FRAMES = 64     # a partial track is reported (ctx.partial) every this many frames


def _resume_track(task: Task):
    """The partial track the task goes on from (``task.upstream['resume']``), or None."""
    earlier = task.upstream.get(RESUME)
    return None if earlier is None else track_from_result(earlier)


def poses_stage(task: Task, ctx: JobContext) -> dict:
    """The clip's pose track. ``task.upstream['resume']`` may hold an earlier partial
    result ({"track": bytes}) of the same clip, backend and settings: posing goes on from
    its last chunk boundary, with the same poses as a run that never stopped. Partial
    tracks (``PoseTrack``) go to ``ctx.partial`` every ``CHECKPOINT_FRAMES`` frames and
    when posing fails or is cancelled; keeping them is the caller's business."""
    from ...pose.extract import pose_clip  # noqa: PLC0415

    p = _params(task)
    backend, settings = _backend_settings(p)
    allow = _flag("poses", p, "allow_truncated")
    quiet = JobContext(on_progress=ctx.progress, token=ctx.token)  # partials: checkpoint only
    done = pose_clip(task.item.video, backend, settings, quiet, previous=_resume_track(task),
                     checkpoint=ctx.partial, checkpoint_every=CHECKPOINT_FRAMES)
    if done.trimmed and not allow:
        raise _truncated(os.path.basename(task.item.video), len(done.track),
                         done.info.frame_count, "set allow_truncated to keep the frames before")
    out = track_to_result(done.track)
    out.update(declared_frames=int(done.info.frame_count), trimmed=bool(done.trimmed))
    return out


# -- reliability ---------------------------------------------------------------------------------


def reliability_stage(task: Task, ctx: JobContext) -> dict:
    from ...pose.reliability import judge, thresholds  # noqa: PLC0415

    _params(task)
    track = _track(task)
    rel = judge(track)
    runs: list[dict] = []
    counts: dict[str, int] = {}
    for i, codes in enumerate(rel.codes):
        for c in codes:
            counts[c] = counts.get(c, 0) + 1
        if not codes:
            continue
        if runs and runs[-1]["end"] == i and runs[-1]["codes"] == list(codes):
            runs[-1]["end"] = i + 1
        else:
            runs.append({"start": i, "end": i + 1, "codes": list(codes), "texts": list(rel.texts[i])})
    damage = None
    if track.damage is not None:
        damage = [round(float(d), 4) for d in track.damage]
    return plain({"frames": len(rel), "reliable_frames": int(rel.ok.sum()),
                  "share": round(rel.share, 4), "summary": rel.summary(),
                  "ok": [bool(b) for b in rel.ok], "runs": runs, "counts": counts,
                  "damage": damage, "damage_max": float(thresholds()["damage_max"])})


# -- facts and descriptions ------------------------------------------------------------------------


def _frame_params(stage: str, p: dict) -> tuple[float, int, Optional[float]]:
    return (_positive(stage, p, "step_s"), _number(stage, p, "max_frames", 1, integer=True),
            _min_visibility(stage, p))


def facts_stage(task: Task, ctx: JobContext) -> dict:
    from ...describe import track_facts  # noqa: PLC0415
    from ...describe.doc import time_s  # noqa: PLC0415
    from ...pose.reliability import judge  # noqa: PLC0415

    step, most, mv = _frame_params("facts", _params(task))
    track = _track(task)
    frames = _sample(track, step, most)
    rel = judge(track)
    # one pass over the whole track, no hysteresis: what the Describe panel shows and
    # what ``describe --frame N`` prints, frame by frame
    tf = track_facts(track, mv, hysteresis=False)
    out = []
    for f in frames:
        ctx.check()
        entry = {"frame": f, "time_s": time_s(track, f), "reliable": bool(rel.ok[f]),
                 "reasons": rel.reasons(f)}
        if entry["reliable"]:
            facts = tf.facts_at(f)
            entry["unknown_parts"] = [x.parts[0] for x in facts if x.kind == "unknown"]
            entry["facts"] = [x.to_dict() for x in facts]
        else:       # the rule describer cannot tell: no fact about the body
            entry.update(unknown_parts=[], facts=[])
        out.append(entry)
    return plain({"step_s": step, "min_visibility": mv, "frames": out})


def describe_stage(task: Task, ctx: JobContext) -> dict:
    from ...describe.doc import frame_doc  # noqa: PLC0415

    step, most, mv = _frame_params("describe", _params(task))
    track = _track(task)
    video = video_name(task)
    out = []
    for f in _sample(track, step, most):
        ctx.check()
        text, doc = frame_doc(track, video, f, mv)
        doc["text"] = text
        out.append(doc)
    return plain({"step_s": step, "min_visibility": mv, "frames": out})


# -- differences and motion --------------------------------------------------------------------------


def diff_stage(task: Task, ctx: JobContext) -> dict:
    import numpy as np  # noqa: PLC0415

    from ...describe import DescribeError  # noqa: PLC0415
    from ...describe.doc import time_s  # noqa: PLC0415
    from ...diff import describe_diff, diff_facts, frame_world  # noqa: PLC0415

    p = _params(task)
    gap = _positive("diff", p, "gap_s")
    count = _number("diff", p, "pairs", 1, integer=True)
    mv = _min_visibility("diff", p)
    track = _track(task)
    video = video_name(task)
    n, tl = len(track), track.timeline
    span = tl.duration(n) - gap
    starts = [] if n < 2 or span < 0 else np.linspace(0.0, span, count) if count > 1 else [0.0]
    pairs, seen = [], set()
    for t in starts:
        ctx.check()
        a, b = tl.frame_at(float(t), n), tl.frame_at(float(t) + gap, n)
        if a >= b or (a, b) in seen:
            continue
        seen.add((a, b))
        entry = {"frame_a": a, "frame_b": b, "time_a_s": time_s(track, a),
                 "time_b_s": time_s(track, b)}
        try:
            wa = frame_world(track, a, "A=", video)
            wb = frame_world(track, b, "B=", video)
        except DescribeError as exc:
            entry.update(described=False, reason=str(exc), facts=[], text="")
            pairs.append(entry)
            continue
        facts = diff_facts(wa, wb, a, b, mv)
        entry.update(described=True, reason="", facts=[f.to_dict() for f in facts],
                     text=describe_diff(facts))
        pairs.append(entry)
    return plain({"gap_s": gap, "min_visibility": mv, "pairs": pairs})


def motion_stage(task: Task, ctx: JobContext) -> dict:
    from ...describe import DescribeError  # noqa: PLC0415
    from ...motion import describe_motion, motion_facts, signal_names  # noqa: PLC0415

    p = _params(task)
    window = _positive("motion", p, "window_s")
    step = _positive("motion", p, "step_s")
    most = _number("motion", p, "max_windows", 1, integer=True)
    mv = _min_visibility("motion", p)
    signal = p["signal"]
    if signal is not None and signal not in signal_names():
        raise _bad("motion", "signal", "one of " + ", ".join(signal_names()), signal)
    track = _track(task)
    duration = track.timeline.duration(len(track))
    spans: list[tuple[float, float]] = []
    start = 0.0
    while start < duration and len(spans) < most:
        end = min(start + window, duration)
        if spans and end - start < window:       # the clip's tail: shorter than a window
            break
        spans.append((round(start, 6), round(end, 6)))
        start += step
    windows = []
    for s, e in spans:
        ctx.check()
        entry: dict = {"start_s": s, "end_s": e}
        try:
            facts = motion_facts(track, track.fps, s, e, mv, signal)
        except DescribeError as exc:
            entry.update(described=False, reason=str(exc), facts=[], text="")
            windows.append(entry)
            continue
        dicts = [f.to_dict() for f in facts]
        for d in dicts:
            d["extra"].pop("series", None)
        entry.update(described=True, reason="", facts=dicts, text=describe_motion(facts))
        windows.append(entry)
    return plain({"window_s": window, "step_s": step, "min_visibility": mv, "windows": windows})


# -- rule QA -------------------------------------------------------------------------------------------


def synth_settings(p: Mapping[str, Any]):
    """``SynthSettings`` from the ``qa`` stage's parameters (ConfigError naming a bad one)."""
    from ...qa.errors import QAError  # noqa: PLC0415
    from ...qa.synth import SynthSettings  # noqa: PLC0415

    tasks = p["tasks"]
    if not isinstance(tasks, (list, tuple)) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise _bad("qa", "tasks", "a list of sub-task names", tasks)
    p = dict(p)
    for name, low, high in (("per_clip", 1, None), ("seed", 0, None), ("n_options", 2, 5),
                            ("max_frames", 1, None)):
        p[name] = _number("qa", p, name, low, integer=True, high=high)
    p["min_visibility"] = _number("qa", p, "min_visibility", 0.0, high=1.0)
    for name in ("window_s", "pair_gap_s"):
        p[name] = _positive("qa", p, name)
    try:
        return SynthSettings(tasks=tuple(tasks), **{k: v for k, v in p.items() if k != "tasks"})
    except QAError as exc:
        raise ConfigError(f"Stage 'qa': parameter 'tasks': {exc}") from None


def qa_stage(task: Task, ctx: JobContext) -> dict:
    from ...qa.generate import clip_qa  # noqa: PLC0415

    s = synth_settings(_params(task))
    track = _track(task)
    video = video_name(task)
    qa = clip_qa(track, video, s)
    records = [] if qa is None else qa.records
    per_task: dict[str, int] = {}
    for r in records:
        per_task[r.task] = per_task.get(r.task, 0) + 1
    return plain({"video": video, "key": s.key(track.backend), "settings": s.to_dict(),
                  "count": len(records), "per_task": per_task,
                  "records": [r.to_dict() for r in records]})


# -- registry --------------------------------------------------------------------------------------------


def _qa_defaults() -> dict:
    from ...qa.synth import SynthSettings  # noqa: PLC0415

    d = SynthSettings().to_dict()
    d["tasks"] = list(SynthSettings().tasks)
    return d


def _stage(name: str, fn: Callable, needs: tuple, defaults: dict, text: str,
           version: str = "1") -> Stage:
    return register(Stage(name=name, version=version, fn=fn, needs=needs, resource="cpu",
                          defaults=defaults, describe=text))


def _versions() -> dict:
    from ...qa.synth import SYNTH_VERSION  # noqa: PLC0415

    return {"qa": f"1-synth{SYNTH_VERSION}"}


def _register_all() -> None:
    from ...pose.registry import DEFAULT_BACKEND  # noqa: PLC0415

    frames = {"step_s": 0.5, "max_frames": 240, "min_visibility": None}
    _stage("probe", probe_stage, (), {"check": True, "allow_truncated": False},
           "video properties; a clip that cannot be decoded fails here")
    _stage("poses", poses_stage, ("probe",),
           {"backend": DEFAULT_BACKEND, "settings": {}, "allow_truncated": False},
           "pose track of the whole clip")
    _stage("reliability", reliability_stage, ("poses",), {},
           "per-frame pose reliability with reasons and the picture damage cue")
    _stage("facts", facts_stage, ("poses",), dict(frames),
           "rule facts of frames sampled every step_s (unreliable frames: cannot tell)")
    _stage("describe", describe_stage, ("poses",), dict(frames),
           "rule descriptions (text + facts) of frames sampled every step_s")
    _stage("diff", diff_stage, ("poses",), {"gap_s": 1.0, "pairs": 8, "min_visibility": None},
           "spatial differences between frame pairs gap_s apart")
    _stage("motion", motion_stage, ("poses",),
           {"window_s": 2.0, "step_s": 2.0, "max_windows": 120, "min_visibility": None,
            "signal": None}, "motion facts and text over windows of window_s")
    _stage("qa", qa_stage, ("poses",), _qa_defaults(),
           "rule-based QA items (answerable ones only), as the desktop generates them",
           version=_versions()["qa"])


_register_all()
