"""Temporal facts over an interval (MotionScript-style).

API
---
``count_repetitions(signal, fps, prominence=None, min_period_s=None) -> (count, peaks, smoothed)``
    Cycles of a 1-D signal: NaN gaps up to ``motion.max_gap_s`` interpolated (longer gaps
    split the signal; no cycle is counted across them), moving-average smoothing
    (``motion.smooth_s``), then peaks with at least ``prominence`` (default: the
    configured fraction of the 5-95 % range) at least ``min_period_s`` apart. ``count`` =
    number of peaks, ``peaks`` = their indices into the signal.
``periodicity(smoothed, peaks) -> dict``: whether the counted cycles clearly repeat:
    ``kind`` "none" (no cycle), "single" (one movement, which counts as one), "periodic"
    (two or more cycles, evenly spaced, of similar size, the signal matching itself one
    spacing later) or "irregular" (peaks that are not a repetition, e.g. the pulls and
    dips of one weightlifting movement), with ``regularity``, ``amplitude``, ``autocorr``.
``motion_facts(world, fps, start, end, min_visibility=None, signal=None) -> list[Fact]``
    ``world``: a ``PoseTrack`` (image coordinates add sideways movement in the frame) or
    world landmarks (frames, joints, 4); ``start``/``end`` in seconds. Facts:
    ``movement`` (direction of the head, hands and feet in body axes between the first
    and last ~0.1 s; the hips' height as "the body lowers/rises"), ``turn`` (whole-body
    turn), ``repetition`` (count on the most clearly repeating named signal: a periodic
    one first, then a single movement, counted once; ``extra["signal"]``,
    ``extra["periodicity"]``, ``extra["peaks"]`` as absolute frame indices,
    ``extra["series"]``), ``onset``
    (when each movement starts; ``extra["verb"]``). Raises ``DescribeError`` for an
    interval out of range, with no pose, or shorter than one movement cycle. ``signal``
    (one of ``signal_names()``) forces the repetition count onto that signal. Frames whose
    3-D pose contradicts the image (``pose.consistency``) count as missing.
``signals(world) -> dict[name, (values, kind)]``: the candidate signals (angles in
    degrees, heights in metres) for every frame.
``describe_motion(facts) -> str``: directions, the count with its signal, onset order.
"""
from __future__ import annotations

import numpy as np

from .body import body_frame
from .describe.build import DescribeError, as_world, track_facts
from .describe.config import config, display_name, part_joints
from .pose.reliability import unreliable_frames
from .describe.facts import Fact
from .video import FrameTimes

ANGLE_SIGNALS = ("left_elbow", "right_elbow", "left_knee", "right_knee",
                 "left_shoulder", "right_shoulder", "left_hip", "right_hip")
HEIGHT_SIGNALS = ("left_hand", "right_hand", "left_foot", "right_foot", "head")
MOVERS = ("head", "left_hand", "right_hand", "left_foot", "right_foot")


def _cfg() -> dict:
    return config()["motion"]


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly fill NaN gaps of at most ``max_gap`` samples between known values."""
    x = np.asarray(x, dtype=np.float64).copy()
    ok = np.isfinite(x)
    if not ok.any():
        return x
    idx = np.arange(len(x))
    filled = np.interp(idx, idx[ok], x[ok])
    for a, b in _runs(~ok):
        if a > 0 and b < len(x) and b - a <= max_gap:
            x[a:b] = filled[a:b]
    return x


def smooth(signal, fps: float, smooth_s=None) -> np.ndarray:
    """Short gaps filled, then a centred moving average within each run of known values
    (long gaps stay NaN: cycles are never invented across them)."""
    x = _fill_gaps(signal, max(1, int(round(_cfg()["max_gap_s"] * fps))))
    win = max(1, int(round((_cfg()["smooth_s"] if smooth_s is None else smooth_s) * fps)))
    win += 1 - win % 2
    out = x.copy()
    for a, b in _runs(np.isfinite(x)):
        if win > 1 and b - a >= win:
            pad = np.pad(x[a:b], win // 2, mode="edge")
            out[a:b] = np.convolve(pad, np.ones(win) / win, mode="valid")
    return out


def count_repetitions(signal, fps: float, prominence=None, min_period_s=None):
    from scipy.signal import find_peaks  # noqa: PLC0415 (lazy: keeps import light)

    s = smooth(signal, fps)
    known = s[np.isfinite(s)]
    if prominence is None:
        lo, hi = np.percentile(known, [5, 95]) if len(known) else (0.0, 0.0)
        prominence = max(_cfg()["relative_prominence"] * (hi - lo), 1e-9)
    period = _cfg()["min_cycle_s"] if min_period_s is None else min_period_s
    peaks: list[int] = []
    for a, b in _runs(np.isfinite(s)):
        if b - a >= 3:
            found, _ = find_peaks(s[a:b], prominence=prominence, distance=max(1, int(period * fps)))
            peaks.extend(int(a + k) for k in found)
    return len(peaks), np.array(peaks, dtype=int), s


# what "clearly repeats" means (``periodicity``): the spacing of the peaks varies by at most
# MAX_SPACING_CV (std / mean), the smallest peak is at least MIN_AMPLITUDE of the largest
# (prominences) and the signal correlates with itself shifted by one spacing at least
# MIN_AUTOCORR
MAX_SPACING_CV, MIN_AMPLITUDE, MIN_AUTOCORR = 0.3, 0.5, 0.5
RANK = {"periodic": 2, "single": 1}     # signal choice: periodic first, then one movement


def _prominences(s: np.ndarray, peaks) -> np.ndarray:
    """Prominence of each peak of ``s`` within its run of known values."""
    from scipy.signal import peak_prominences  # noqa: PLC0415

    out = np.zeros(len(peaks))
    for a, b in _runs(np.isfinite(s)):
        inside = [i for i, p in enumerate(peaks) if a <= p < b]
        if inside:
            out[inside] = peak_prominences(s[a:b], np.asarray(peaks)[inside] - a)[0]
    return out


def _autocorr(s: np.ndarray, lag: int) -> float:
    """Correlation of ``s`` with itself ``lag`` samples later (known pairs only)."""
    if lag < 1 or lag >= len(s):
        return 0.0
    x, y = s[:-lag], s[lag:]
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < max(3, lag // 2) or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def periodicity(smoothed, peaks) -> dict:
    """Whether the cycles counted on ``smoothed`` (``count_repetitions``' output) clearly
    repeat; see the module docstring. Spacings are measured only between peaks with no
    unknown sample between them."""
    s = np.asarray(smoothed, dtype=np.float64)
    peaks = [int(p) for p in peaks]
    if not peaks:
        return {"kind": "none", "regularity": 0.0, "amplitude": 0.0, "autocorr": 0.0}
    if len(peaks) == 1:
        return {"kind": "single", "regularity": 1.0, "amplitude": 1.0, "autocorr": 0.0}
    gaps = np.array([b - a for a, b in zip(peaks[:-1], peaks[1:])
                     if np.isfinite(s[a:b + 1]).all()], dtype=np.float64)
    prom = _prominences(s, peaks)
    amplitude = float(prom.min() / prom.max()) if prom.max() > 0 else 0.0
    if not len(gaps):
        return {"kind": "irregular", "regularity": 0.0, "amplitude": round(amplitude, 3),
                "autocorr": 0.0}
    cv = float(gaps.std() / gaps.mean())
    auto = _autocorr(s, int(round(float(np.median(gaps)))))
    periodic = cv <= MAX_SPACING_CV and amplitude >= MIN_AMPLITUDE and auto >= MIN_AUTOCORR
    return {"kind": "periodic" if periodic else "irregular", "regularity": round(1 - cv, 3),
            "amplitude": round(amplitude, 3), "autocorr": round(auto, 3)}


def signals(world, min_visibility=None) -> dict:
    w = as_world(world)
    tf = track_facts(w, min_visibility, hysteresis=False)
    out = {f"{n.replace('_', ' ')} angle": (tf.values[:, tf.column(f"{n}_angle")], "angle")
           for n in ANGLE_SIGNALS}
    pts, _ = body_frame(w)
    mv = tf.min_visibility
    vis = np.nan_to_num(w[..., 3], nan=0.0) if w.shape[-1] > 3 else np.ones(w.shape[:2])
    for name in HEIGHT_SIGNALS:
        j = list(part_joints(name))
        y = pts[:, j, 1].mean(axis=1)
        out[f"{display_name(name)} height"] = (np.where(vis[:, j].min(axis=1) >= mv, y, np.nan), "height")
    out["hips height"] = (tf.values[:, tf.column("hips_ground")], "height")
    return out


def signal_names() -> list[str]:
    """Names of the candidate repetition signals, in a fixed order."""
    return ([f"{n.replace('_', ' ')} angle" for n in ANGLE_SIGNALS]
            + [f"{display_name(n)} height" for n in HEIGHT_SIGNALS] + ["hips height"])


def check_interval(n: int, fps: float, start: float, end: float,
                   times: FrameTimes | None = None) -> tuple[int, int]:
    """First and last frame of the interval ``start``-``end`` seconds (by each frame's
    presentation time when ``times`` is given, else frame / fps)."""
    tl = times if times is not None else FrameTimes.constant(fps, n)
    if fps <= 0 and tl.pts is None:
        raise DescribeError("The clip has no frame rate; cannot place an interval in time.")
    dur = tl.duration(n)
    half = 0.5 / tl.average_fps if tl.average_fps > 0 else 0.0
    if not end > start:
        raise DescribeError(f"Interval {start:g}-{end:g} s is empty: the end must come after the start.")
    if start < 0 or start >= dur or end > dur + half:
        raise DescribeError(f"Interval {start:g}-{end:g} s is outside the clip (0-{dur:.2f} s).")
    i0, i1 = tl.frame_at(start, n), tl.frame_at(end, n)
    n_int, cfg = i1 - i0 + 1, _cfg()
    if n_int < cfg["min_frames"] or tl.time_of(i1) - tl.time_of(i0) + 2 * half < cfg["min_cycle_s"]:
        raise DescribeError(f"Interval {start:g}-{end:g} s ({n_int} frames) is shorter than one "
                            f"movement cycle (at least {cfg['min_frames']} frames and "
                            f"{cfg['min_cycle_s']:g} s are needed).")
    return i0, i1


def motion_facts(world, fps: float, start: float, end: float, min_visibility=None,
                 signal: str | None = None, times: FrameTimes | None = None) -> list[Fact]:
    """Movement facts of ``start``-``end`` seconds; a PoseTrack brings its frame times."""
    w = as_world(world)
    if times is None and getattr(world, "times", None) is not None:
        times = world.timeline
    tl = times if times is not None else FrameTimes.constant(fps, len(w))
    if signal is not None and signal not in signal_names():
        raise DescribeError(f"Unknown signal '{signal}'; choose one of: {', '.join(signal_names())}.")
    judged = unreliable_frames(world)
    if judged is not None and judged[0].any():
        w = w.copy()
        w[judged[0], :, :3] = np.nan    # unreliable pose (models.pose.reliability): missing
    i0, i1 = check_interval(len(w), fps, start, end, tl)
    seg = w[i0:i1 + 1]
    has = ~np.isnan(seg[:, [23, 24], 0]).any(axis=1)
    if has.mean() < 0.5:
        why, what = "", "pose"
        if judged is not None and judged[0][i0:i1 + 1].any():
            reasons = [r for r in judged[1][i0:i1 + 1] if r]
            why, what = f"; not described: {max(set(reasons), key=reasons.count)}", "reliable pose"
        raise DescribeError(f"No {what} on most frames of {start:g}-{end:g} s "
                            f"({int(has.sum())} of {len(seg)} frames have one{why}).")
    sig = signals(seg, min_visibility)
    mv = float(config()["min_visibility"] if min_visibility is None else min_visibility)
    pts, yaw = body_frame(seg)          # once for the movement and the turn facts
    ctx = {"i0": i0, "i1": i1, "fps": fps, "min_vis": mv, "pts": pts, "yaw": yaw, "times": tl}
    out = _movements(seg, sig, ctx) + _turn(ctx)
    out += _sideways(world, i0, i1, ctx)
    out += _repetition({signal: sig[signal]} if signal else sig, ctx) + _onsets(sig, ctx)
    return out


def _fact(ctx, kind, parts, quantity, value, unit, label, joints, region, side, extra):
    extra = dict(extra, start_frame=ctx["i0"], end_frame=ctx["i1"])
    return Fact(kind, tuple(parts), quantity, float(value), unit, label, ctx["i0"], 1.0,
                tuple(joints), region, side, "", extra)


def _ends(x: np.ndarray, fps: float):
    """Mean of the first and of the last ~``end_window_s`` of known samples (rows)."""
    k = max(1, int(round(_cfg()["end_window_s"] * fps)))
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x) if x.ndim == 1 else np.isfinite(x).all(axis=1)
    known = x[ok]
    if not len(known) or ok.mean() < 1.0 - _cfg()["max_missing"]:
        nan = np.full(x.shape[1:], np.nan)
        return (nan, nan) if x.ndim > 1 else (np.nan, np.nan)
    return known[:k].mean(axis=0), known[-k:].mean(axis=0)


def _movements(seg, sig, ctx) -> list[Fact]:
    from .diff import _bin, _directions  # noqa: PLC0415
    pts = ctx["pts"].copy()
    vis = np.nan_to_num(seg[..., 3], nan=0.0) if seg.shape[-1] > 3 else np.ones(seg.shape[:2])
    pts[..., :3][vis < ctx["min_vis"]] = np.nan          # invisible joints do not move
    disp_cfg, out = config()["diff"]["displacement"], []
    for name in MOVERS:
        j = list(part_joints(name))
        a, b = _ends(pts[:, j, :3].mean(axis=1), ctx["fps"])
        d = b - a
        label = _bin(float(np.linalg.norm(d)), disp_cfg)
        if label is None:
            continue
        side = name.split("_")[0] if "_" in name else "centre"
        out.append(_fact(ctx, "movement", (name,), f"{name}_movement", np.linalg.norm(d), "m",
                         label, j, "arms" if "hand" in name else "legs" if "foot" in name else "body",
                         side, {"vector": [round(float(v), 4) for v in d], "directions": _directions(d)}))
    a, b = _ends(sig["hips height"][0], ctx["fps"])
    label = _bin(float(b - a), disp_cfg)
    if label is not None:
        out.append(_fact(ctx, "movement", ("hips",), "body_height", b - a, "m", label,
                         part_joints("hips"), "body", "centre",
                         {"directions": ["up" if b > a else "down"]}))
    return out


def _turn(ctx) -> list[Fact]:
    from .diff import _bin  # noqa: PLC0415
    yaw = ctx["yaw"]
    ok = np.isfinite(yaw)
    if ok.sum() < 2:
        return []
    yaw = yaw.copy()
    yaw[ok] = np.degrees(np.unwrap(np.radians(yaw[ok])))
    a, b = _ends(yaw, ctx["fps"])
    label = _bin(float(b - a), config()["diff"]["turn"])
    if label is None:
        return []
    return [_fact(ctx, "turn", ("body",), "turn", b - a, "deg", label, part_joints("hips"),
                  "body", "centre", {"direction": "left" if b > a else "right"})]


def _sideways(world, i0, i1, ctx) -> list[Fact]:
    image = getattr(world, "image", None)
    if image is None:
        return []
    img = np.asarray(image[i0:i1 + 1], dtype=np.float64).copy()
    img[..., :2][np.nan_to_num(img[..., 3]) < ctx["min_vis"]] = np.nan
    judged = unreliable_frames(world)
    if judged is not None:
        img[judged[0][i0:i1 + 1], :, :2] = np.nan       # unreliable frames count as missing
    w, h = float(world.width), float(world.height)
    hip_x = img[:, [23, 24], 0].mean(axis=1) * w
    torso = np.linalg.norm((img[:, [11, 12], :2].mean(axis=1) - img[:, [23, 24], :2].mean(axis=1))
                           * [w, h], axis=1)
    a, b = _ends(hip_x, ctx["fps"])
    scale = float(np.nanmedian(torso)) if np.isfinite(torso).any() else np.nan
    moved = (b - a) / scale if scale > 0 else np.nan
    if not np.isfinite(moved) or abs(moved) < 0.5:
        return []
    where = "right" if moved > 0 else "left"
    return [_fact(ctx, "movement", ("body",), "body_sideways", moved, "torso lengths",
                  "clearly" if abs(moved) >= 1.0 else "slightly", part_joints("hips"), "body",
                  "centre", {"directions": [f"{where} of the frame"]})]


def _repetition(sig, ctx) -> list[Fact]:
    best = None
    for name, (x, kind) in sig.items():
        if np.isnan(x).mean() > _cfg()["max_missing"]:
            if len(sig) == 1:       # the user asked for this signal: say why there is no count
                raise DescribeError(f"The {name} is unknown on {int(np.isnan(x).sum())} of {len(x)} "
                                    "frames of the interval; choose another signal or interval.")
            continue
        floor = _cfg()["angle_prominence" if kind == "angle" else "height_prominence"]
        count, peaks, s = count_repetitions(x, ctx["fps"], prominence=floor)
        amp = (np.nanmax(s) - np.nanmin(s)) / floor
        period = periodicity(s, peaks)
        # a clearly periodic signal first, then a single movement (one lift counts once);
        # peaks that do not repeat regularly are not cycles of a repetition
        score = (RANK.get(period["kind"], 0), count * amp + 1e-3 * amp)
        if best is None or score > best[0]:
            best = (score, name, count, peaks, s, kind, period)
    if best is None:
        return []
    _, name, count, peaks, s, kind, period = best
    t = ctx["times"].time_of
    gaps = [t(b + ctx["i0"]) - t(a + ctx["i0"]) for a, b in zip(peaks[:-1], peaks[1:])
            if np.isfinite(s[a:b + 1]).all()]
    spacing = float(np.median(gaps)) if gaps else None   # never across a gap
    part = name.rsplit(" ", 1)[0].replace(" ", "_")
    return [_fact(ctx, "repetition", (part,), "repetitions",
                  count, "cycles", str(count), (), "body", "centre",
                  {"signal": name, "signal_kind": kind, "periodicity": period["kind"],
                   "peaks": [int(p) + ctx["i0"] for p in peaks],
                   "period_s": spacing, "series": [round(float(v), 4) for v in s]})]


def _onsets(sig, ctx) -> list[Fact]:
    out = []
    verbs = {"angle": ("bending", "straightening"), "height": ("lowering", "rising")}
    for name, (x, kind) in sig.items():
        if kind == "angle" and ("shoulder" in name or "hip" in name):
            continue
        if np.isnan(x).mean() > _cfg()["max_missing"]:
            continue
        s = smooth(x, ctx["fps"])
        base, _ = _ends(s, ctx["fps"])
        if not np.isfinite(base):
            continue
        thr = _cfg()["onset_angle" if kind == "angle" else "onset_height"]
        first = int(np.flatnonzero(np.isfinite(s))[0]) + \
            max(1, int(round(_cfg()["end_window_s"] * ctx["fps"])))
        with np.errstate(invalid="ignore"):
            moved = first + np.flatnonzero(np.abs(s[first:] - base) > thr)
        if not len(moved):
            continue
        k = int(moved[0])
        verb = verbs[kind][0 if s[k] < base else 1]
        part = name.rsplit(" ", 1)[0]
        side = part.split(" ")[0] if part.startswith(("left", "right")) else "centre"
        out.append(_fact(ctx, "onset", (part.replace(" ", "_"),), f"{name} onset",
                         ctx["times"].time_of(k + ctx["i0"]),
                         "s", verb, (), "body", side,
                         {"signal": name, "verb": verb, "frame": k + ctx["i0"]}))
    return sorted(out, key=lambda f: f.value)


def describe_motion(facts, subject: str = "the person") -> str:
    """The text of ``facts`` about ``subject`` (``motion_text.render_motion``)."""
    from .motion_text import render_motion  # noqa: PLC0415
    return render_motion(list(facts), subject)
