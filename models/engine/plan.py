"""What a run will cost before it starts: tasks per stage, frames to decode, CPU-hours of
pose extraction, requests / tokens / GPU-hours of each MLLM stage, and storage.

Frame counts come from probing (container headers only) a sample of the manifest's videos
and scaling up, or from ``[plan] clips`` and ``frames_per_clip`` for a dataset that is not
on this machine. MLLM work is counted per stage from its own parameters (windows, pairs,
frames, new-token caps); time is prompt tokens at the prefill rate plus generated tokens at
the decode rate. Every rate is a ``[plan]`` setting; the defaults are measured figures:

- ``pose_frames_per_s`` 30: MediaPipe full model on one core of this project's 2-core CI
  machine, decode included (39 frames/s on a 340x256 clip; 1080p decodes slower);
- ``prefill_tokens_per_s`` 5000 and ``decode_tokens_per_s`` 32: the transformers backend
  serving one request at a time on an H200 (``bench/gpu_vlm.py``, random-weight
  Qwen2.5-VL-7B-like model, bf16: 814 prompt tokens in 0.16 s, 32.4 tokens/s at 8 frames).
  A batching server (vLLM, SGLang) serves many requests at once: measure its aggregate
  rate with ``bench/gpu_dataset.py`` and set it here;
- ``tokens_per_frame`` 96: Qwen2.5-VL video tokens of one 448x336 frame (two frames share
  one 16x12 grid of 28-pixel patches).
"""
from __future__ import annotations

import random
from typing import Any, Mapping, Optional

from ..errors import StudioError
from ..video import probe
from .config import RunConfig
from .manifest import iter_entries
from .stage import get_stage

__all__ = ["plan_run", "plan_lines", "mllm_requests", "RATES"]

RATES = {"pose_frames_per_s": 30.0, "prefill_tokens_per_s": 5000.0,
         "decode_tokens_per_s": 32.0, "tokens_per_frame": 96.0}
POSE_BYTES_PER_FRAME = 1000      # a compressed track (33 joints, image + world): 959 B measured
TEXT_TOKENS = 150                # a proxy template's own words
GROUNDING_TOKENS = 250           # the rule facts of a window, when pose-grounded
BYTES_PER_TOKEN = 4
SAMPLE = 200


def mllm_requests(name: str, params: Mapping[str, Any], upstream: Mapping[str, dict]) -> dict:
    """Requests, frames per request, prompt text tokens and generated-token cap of one item
    of an MLLM stage (the proxy stages by their parameters; any other model stage as one
    request of ``frames`` frames)."""
    def cap(default: int) -> int:
        return int(params.get("max_new_tokens") or default)

    ground = GROUNDING_TOKENS if params.get("pose_grounding") else 0
    if name == "p1_describe":
        return {"requests": int(params.get("windows", 4)), "frames": int(params.get("frames", 8)),
                "text_tokens": TEXT_TOKENS + ground, "new_tokens": cap(256)}
    if name == "p2_differences":
        return {"requests": int(params.get("pairs", 3)), "frames": 2,
                "text_tokens": TEXT_TOKENS + ground, "new_tokens": cap(200)}
    if name == "p3_qa":
        sources = sum(u["requests"] * u["new_tokens"] for u in upstream.values())
        return {"requests": 1, "frames": 0, "text_tokens": TEXT_TOKENS + sources,
                "new_tokens": cap(768)}
    return {"requests": 1, "frames": int(params.get("frames", 8)), "text_tokens": TEXT_TOKENS,
            "new_tokens": cap(256)}


def _probe_sample(cfg: RunConfig, sample: int, seed: int) -> dict:
    entries = []
    for i, (_name, path, _meta) in enumerate(iter_entries(cfg.manifest, cfg.video_column)):
        if cfg.limit is not None and i >= cfg.limit:
            break
        entries.append(path)
    usable = [p for p in entries if p]
    rng = random.Random(seed)
    picked = usable if len(usable) <= sample else rng.sample(usable, sample)
    frames, seconds, probed, bad = 0, 0.0, 0, 0
    for p in picked:
        try:
            info = probe(p)
        except StudioError:
            bad += 1
            continue
        probed += 1
        frames += info.frame_count
        seconds += info.duration
    scale = len(usable) / len(picked) if picked else 0.0
    est_bad = int(bad * scale)
    return {"entries": len(entries), "unusable": len(entries) - len(usable) + est_bad,
            "items": len(usable) - est_bad, "probed": probed, "frames": int(frames * scale),
            "video_hours": round(seconds * scale / 3600, 3)}


def plan_run(cfg: RunConfig, sample: int = SAMPLE, seed: int = 0,
             clips: Optional[int] = None, frames_per_clip: Optional[float] = None) -> dict:
    """The plan of ``cfg``. ``clips`` / ``frames_per_clip`` (or the same ``[plan]`` keys)
    describe a dataset without reading the manifest."""
    rates = {k: float(cfg.plan.get(k) or v) for k, v in RATES.items()}
    clips = clips or cfg.plan.get("clips") or None
    fpc = frames_per_clip or cfg.plan.get("frames_per_clip") or None
    m: dict[str, Any]
    if clips:
        fpc = float(fpc or 300.0)
        m = {"entries": int(clips), "unusable": 0, "items": int(clips), "probed": 0,
             "frames": int(clips * fpc), "video_hours": None, "assumed_frames_per_clip": fpc}
    else:
        m = _probe_sample(cfg, sample, seed)
    items = m["items"]
    stages: list[dict] = []
    shapes: dict[str, dict] = {}
    total_bytes, cpu_h, gpu_h = 0, 0.0, 0.0
    for name, params in cfg.stages.items():
        st = get_stage(name)
        row: dict[str, Any] = {"name": name, "tasks": items, "resource": st.resource,
                               "describe": st.describe}
        if name == "poses":
            row["frames"] = m["frames"]
            row["cpu_hours"] = round(m["frames"] / rates["pose_frames_per_s"] / 3600.0, 3)
            cpu_h += row["cpu_hours"]
            row["bytes"] = m["frames"] * POSE_BYTES_PER_FRAME
        elif st.model_param:
            shape = mllm_requests(name, params, {n: shapes[n] for n in st.needs if n in shapes})
            shapes[name] = shape
            prompt = shape["frames"] * rates["tokens_per_frame"] + shape["text_tokens"]
            reqs = items * shape["requests"]
            seconds = reqs * (prompt / rates["prefill_tokens_per_s"]
                              + shape["new_tokens"] / rates["decode_tokens_per_s"])
            row.update(requests=reqs, prompt_tokens=int(reqs * prompt),
                       new_tokens=int(reqs * shape["new_tokens"]),
                       gpu_hours=round(seconds / 3600.0, 3))
            gpu_h += row["gpu_hours"]
            row["bytes"] = int(reqs * (shape["new_tokens"] * BYTES_PER_TOKEN + 1500))
        else:
            row["bytes"] = items * 5000
        total_bytes += row["bytes"]
        stages.append(row)
    return {"manifest": cfg.manifest, "entries": m["entries"], "unusable_entries": m["unusable"],
            "items": items, "probed": m["probed"], "frames": m["frames"],
            "video_hours": m["video_hours"],
            "assumed_frames_per_clip": m.get("assumed_frames_per_clip"),
            "stages": stages, "cpu_hours": round(cpu_h, 3), "gpu_hours": round(gpu_h, 3),
            "storage_bytes": total_bytes, "rates": rates,
            "workers": cfg.runner.get("workers", 1)}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _n(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def plan_lines(plan: dict, workers: Optional[int] = None) -> list[str]:
    w = max(1, int(workers or plan.get("workers") or 1))
    if plan.get("assumed_frames_per_clip"):
        head = (f"dataset: {plan['items']} usable videos (given), ~{plan['frames']} frames "
                f"({plan['assumed_frames_per_clip']:g} frames per clip, assumed)")
    else:
        head = (f"manifest: {plan['entries']} entries, {plan['items']} usable videos "
                f"(~{plan['unusable_entries']} unusable), ~{plan['frames']} frames, "
                f"~{plan['video_hours']} h of video (from {plan['probed']} probed)")
    lines = [head]
    for s in plan["stages"]:
        extra = ""
        if "cpu_hours" in s:
            extra = f", {s['frames']} frames to decode, {_n(s['cpu_hours'])} CPU-h"
        elif "gpu_hours" in s:
            extra = (f", {_n(s['requests'])} requests, ~{_n(s['prompt_tokens'])} prompt + "
                     f"{_n(s['new_tokens'])} generated tokens, {_n(s['gpu_hours'])} GPU-h")
        lines.append(f"  {s['name']:<16} {s['tasks']} tasks ({s['resource']}){extra}, "
                     f"~{_size(s['bytes'])}")
    lines.append(f"total: {_n(plan['cpu_hours'])} CPU-h (~{_n(plan['cpu_hours'] / w)} h on {w} "
                 f"workers), {_n(plan['gpu_hours'])} GPU-h, ~{_size(plan['storage_bytes'])} of results")
    r = plan["rates"]
    lines.append(f"rates: {r['pose_frames_per_s']:g} pose frames/s per core, "
                 f"{r['prefill_tokens_per_s']:g} prompt and {r['decode_tokens_per_s']:g} generated "
                 f"tokens/s per GPU, {r['tokens_per_frame']:g} tokens per frame (set them in [plan])")
    return lines
