"""A first estimate of a run's work before it starts: items × stages, frames to decode,
CPU-hours of pose extraction, GPU-hours of MLLM stages, and storage.

Frame counts come from probing (container headers) a sample of the manifest's videos and
scaling up. Rates come from the config's [plan] table, else the defaults below.
"""
from __future__ import annotations

import random
from typing import Optional

from ..errors import StudioError
from ..video import probe
from .config import RunConfig
from .manifest import iter_entries
from .stage import get_stage

__all__ = ["plan_run", "plan_lines"]

DEFAULT_POSE_FPS = 25.0          # frames/s of pose extraction on one core
DEFAULT_TOKENS_PER_S = 1500.0    # generated tokens/s of one GPU serving an MLLM
DEFAULT_TOKENS_PER_ITEM = 400.0  # prompt + generated tokens' worth of one MLLM task
POSE_BYTES_PER_FRAME = 600       # a compressed track: 33 keypoints (image + world) a frame
TEXT_BYTES_PER_RESULT = 2000
SAMPLE = 200


def plan_run(cfg: RunConfig, sample: int = SAMPLE, seed: int = 0) -> dict:
    entries = []
    for i, (name, path, _meta) in enumerate(iter_entries(cfg.manifest, cfg.video_column)):
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
    est_frames = int(frames * scale)
    est_bad = int(bad * scale)
    items = len(usable) - est_bad
    pose_fps = cfg.plan.get("pose_frames_per_s") or DEFAULT_POSE_FPS
    tok_s = cfg.plan.get("tokens_per_s") or DEFAULT_TOKENS_PER_S
    tok_item = cfg.plan.get("tokens_per_item") or DEFAULT_TOKENS_PER_ITEM
    stages = []
    total_bytes = 0
    cpu_h = gpu_h = 0.0
    for name in cfg.stages:
        st = get_stage(name)
        row = {"name": name, "tasks": items, "resource": st.resource, "describe": st.describe}
        if name == "poses":
            row["frames"] = est_frames
            row["cpu_hours"] = round(est_frames / pose_fps / 3600.0, 3)
            cpu_h += row["cpu_hours"]
            row["bytes"] = est_frames * POSE_BYTES_PER_FRAME
        elif st.model_param or st.resource in ("gpu", "endpoint"):
            row["tokens"] = int(items * tok_item)
            row["gpu_hours"] = round(items * tok_item / tok_s / 3600.0, 3)
            gpu_h += row["gpu_hours"]
            row["bytes"] = items * TEXT_BYTES_PER_RESULT
        else:
            row["bytes"] = items * TEXT_BYTES_PER_RESULT // 2
        total_bytes += row["bytes"]
        stages.append(row)
    return {"manifest": cfg.manifest, "entries": len(entries),
            "unusable_entries": len(entries) - len(usable) + est_bad, "items": items,
            "probed": probed, "frames": est_frames, "video_hours": round(seconds * scale / 3600, 3),
            "stages": stages, "cpu_hours": round(cpu_h, 3), "gpu_hours": round(gpu_h, 3),
            "storage_bytes": total_bytes,
            "rates": {"pose_frames_per_s": pose_fps, "tokens_per_s": tok_s,
                      "tokens_per_item": tok_item},
            "workers": cfg.runner.get("workers", 1)}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def plan_lines(plan: dict, workers: Optional[int] = None) -> list[str]:
    w = max(1, int(workers or plan.get("workers") or 1))
    lines = [f"manifest: {plan['entries']} entries, {plan['items']} usable videos "
             f"(~{plan['unusable_entries']} unusable), ~{plan['frames']} frames, "
             f"~{plan['video_hours']} h of video (from {plan['probed']} probed)"]
    for s in plan["stages"]:
        extra = ""
        if "cpu_hours" in s:
            extra = f", {s['frames']} frames to decode, {s['cpu_hours']} CPU-h"
        elif "gpu_hours" in s:
            extra = f", ~{s['tokens']} tokens, {s['gpu_hours']} GPU-h"
        lines.append(f"  {s['name']:<16} {s['tasks']} tasks ({s['resource']}){extra}, "
                     f"~{_size(s['bytes'])}")
    lines.append(f"total: {plan['cpu_hours']} CPU-h (~{plan['cpu_hours'] / w:.2f} h on {w} "
                 f"workers), {plan['gpu_hours']} GPU-h, ~{_size(plan['storage_bytes'])} of results")
    r = plan["rates"]
    lines.append(f"rates: {r['pose_frames_per_s']} pose frames/s per core, {r['tokens_per_s']} "
                 f"tokens/s per GPU, {r['tokens_per_item']} tokens per MLLM task "
                 "(set them in [plan])")
    return lines
