"""App overhead of an Ask: the app's backend end to end / bare ``model.generate``.

Both sides get identical inputs (8 frames of a real clip, same prompt, greedy, same
max_new_tokens) on an already loaded model. The app side is ``TransformersBackend.generate_to``
(chat template + processor + text streamer with its cancel check + stats), as the
service's ``run_answer`` drives it; the bare side is
processor + ``model.generate`` written directly against transformers. Runs alternate;
medians and minima of wall time are compared, and the median CPU time of the calling
thread (with one torch thread all the work runs there; it is the least disturbed by other
processes on a busy machine). Models: a tiny Qwen2.5-VL checkpoint and a real-size random
SmolVLM2-256M-like checkpoint (built from a config in code, no download). Target <= 1.05.

    .venv/bin/python bench/bench_vlm_overhead.py [--runs 5] [--new-tokens 24] [--skip-real]
        [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.vlm.frames import FrameSelection, sample_frames  # noqa: E402
from models.vlm.local import TransformersBackend  # noqa: E402
from models.vlm.tiny import build_real_size_checkpoint, build_tiny_checkpoint  # noqa: E402
from models.vlm.types import GenerationParams, VLMRequest, messages_for  # noqa: E402

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "clips" / "arm_wrestling.mp4"


def bare_generate(model, processor, frames, question: str, new_tokens: int, fps: float,
                  indices) -> int:
    """What a user would write with transformers alone (same inputs as the app)."""
    import numpy as np
    import torch
    from transformers.video_utils import VideoMetadata

    messages = [{"role": "user", "content": [{"type": "video"},
                                             {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    kwargs = {"do_sample_frames": False}
    if type(processor).__name__.startswith("SmolVLM"):       # frame timestamps in the prompt
        kwargs["video_metadata"] = [VideoMetadata(total_num_frames=max(indices) + 1, fps=fps,
                                                  frames_indices=list(indices))]
    if hasattr(processor.video_processor, "cap_pixels_per_frame"):
        kwargs["cap_pixels_per_frame"] = True
    inputs = processor(text=[text], videos=[np.stack(frames)], return_tensors="pt", **kwargs)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
    return int(out.shape[1] - inputs["input_ids"].shape[1])


def measure(folder: Path, runs: int, new_tokens: int, sampled, threads: int):
    """Median and minimum seconds of the app path and the bare path, alternating A B B A
    so neither side always runs right after the other (caches, CPU frequency)."""
    backend = TransformersBackend(str(folder), device="cpu", dtype="fp32", threads=threads)
    backend.load()
    q = "What does the person on the left do with the right arm?"
    req = VLMRequest(messages_for(q), list(sampled.frames), GenerationParams(new_tokens),
                     fps=sampled.fps, frame_indices=list(sampled.indices))
    app = lambda: backend.generate_to(req, on_text=lambda _chunk: None)  # noqa: E731 (Ask path)
    bare = lambda: bare_generate(backend.model, backend.processor, sampled.frames, q,  # noqa: E731
                                 new_tokens, sampled.fps, sampled.indices)
    times: dict = {"app": [], "bare": [], "app_cpu": [], "bare_cpu": []}
    for i in range(runs + 1):                     # first round is warm-up
        order = (("app", app), ("bare", bare)) if i % 2 else (("bare", bare), ("app", app))
        for name, fn in order:
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            if i:
                times[name].append(time.perf_counter() - t0)
                times[name + "_cpu"].append(time.thread_time() - c0)
    n_app, n_bare = app().stats.completion_tokens, bare()
    assert backend.threads_used == threads, "the app side ran on another thread count"
    backend.unload()
    return times, n_app, n_bare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads for both sides (default 1: on a busy machine "
                         "OpenMP spin-waiting on the main thread distorts the bare side)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)        # the bare side; the app side: threads=...
    sampled = sample_frames(CLIP, FrameSelection(count=8))
    tmp = Path(tempfile.mkdtemp(prefix="aa_bench_vlm_"))
    cases = [("tiny Qwen2.5-VL", lambda: build_tiny_checkpoint("qwen2_5_vl", tmp / "tiny"))]
    if not args.skip_real:
        cases.append(("SmolVLM2-256M-like (random)",
                      lambda: build_real_size_checkpoint("smolvlm2_256m", tmp / "smol256")))
    print(f"8 frames of {CLIP.name}, greedy, {args.new_tokens} new tokens, median of "
          f"{args.runs} alternating runs, CPU fp32, {args.threads} torch thread(s)")
    for name, build in cases:
        folder = build()
        runs = args.runs * 4 if name.startswith("tiny") else args.runs   # tiny: cheap, noisy
        t, n_app, n_bare = measure(folder, runs, args.new_tokens, sampled, args.threads)
        med = {k: statistics.median(v) for k, v in t.items()}
        print(f"{name:30s} app {med['app'] * 1e3:8.1f} ms  bare {med['bare'] * 1e3:8.1f} ms  "
              f"tokens {n_app}/{n_bare}  ratio app/bare: wall median "
              f"{med['app'] / med['bare']:5.3f}, wall min {min(t['app']) / min(t['bare']):5.3f}, "
              f"CPU median {med['app_cpu'] / med['bare_cpu']:5.3f}")


if __name__ == "__main__":
    main()
