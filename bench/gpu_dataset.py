"""GPU benchmark: dataset-run throughput (items/s) of a P1-like task (describe the pose of
the person over sampled frames) through the local vLLM backend vs the local transformers
backend, on the same random-weight Qwen2.5-VL-7B-like checkpoint (built from a config in
code, saved to a temp folder, loaded by both), at 8 and 32 frames.

Each engine runs in its own child process (GPU memory is given back between them); both
get the identical requests through ``models.vlm.many.generate_many`` (transformers: left-
padded batches of ``--batch``; vLLM: all requests in one ``LLM.generate``). Prints a table.
Without a CUDA GPU, or without vllm (``pip install vllm``), it says so and exits (status
2); ``--engines transformers`` runs the transformers side alone.

    python bench/gpu_dataset.py [--items 32] [--new-tokens 64] [--batch 8]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

P1_PROMPT = ("Describe the body pose of the person in these frames: the position of the "
             "torso, both arms and both legs, and how they change over time.")
FRAME_COUNTS = (8, 32)


def requests_for(n_frames: int, items: int, new_tokens: int):
    """``items`` P1-like requests of ``n_frames`` synthetic 336x448 frames each (different
    content per item, so no engine can reuse one item's vision work for another)."""
    import numpy as np

    from models.vlm.types import GenerationParams, VLMRequest, messages_for

    h, w = 336, 448
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for item in range(items):
        frames = []
        for i in range(n_frames):
            img = np.stack([(xx + 7 * i + item) % 256, (yy + 3 * i) % 256,
                            (xx + yy + 11 * item) % 256], -1).astype(np.uint8)
            img[100:220, 40 + 9 * i % 300:120 + 9 * i % 300] = 255      # a moving block
            frames.append(img)
        out.append(VLMRequest(messages_for(P1_PROMPT), frames,
                              GenerationParams(max_new_tokens=new_tokens), fps=2.0,
                              frame_indices=list(range(0, 15 * n_frames, 15))))
    return out


def child(engine: str, folder: str, items: int, new_tokens: int, batch: int) -> None:
    """Load ``engine``, warm up, then time every frame count; one JSON line each."""
    from models.vlm.many import Generated, generate_many

    t0 = time.perf_counter()
    if engine == "vllm":
        from models.vlm.vllm_backend import VLLMBackend

        backend = VLLMBackend(folder, dtype="bf16", max_model_len=32768,
                              gpu_memory_utilization=0.85)
    else:
        from models.vlm.local import TransformersBackend

        backend = TransformersBackend(folder, device="cuda", dtype="bf16")
    backend.load()
    load_s = time.perf_counter() - t0
    for n_frames in FRAME_COUNTS:
        reqs = requests_for(n_frames, items, new_tokens)
        generate_many(backend, reqs[:2], max_concurrency=batch)           # warm-up
        _sync()
        t0 = time.perf_counter()
        out = generate_many(backend, reqs, max_concurrency=None if engine == "vllm" else batch)
        _sync()
        took = time.perf_counter() - t0
        errors = [str(o) for o in out if not isinstance(o, Generated)]
        tokens = sum(o.stats.completion_tokens or 0 for o in out if isinstance(o, Generated))
        print(json.dumps({"engine": engine, "frames": n_frames, "items": items,
                          "seconds": took, "items_per_s": items / took,
                          "new_tokens_per_s": tokens / took, "load_s": load_s,
                          "errors": errors[:3], "n_errors": len(errors)}), flush=True)
    backend.unload()


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8, help="transformers batch size")
    ap.add_argument("--engines", default="vllm,transformers")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--folder", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.folder, args.items, args.new_tokens, args.batch)
        return 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ("vllm", "transformers")]
    if unknown:
        print(f"error: unknown engine {unknown[0]!r}; choose vllm and/or transformers")
        return 2
    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA GPU: this benchmark needs an NVIDIA GPU (vLLM runs on CUDA only)")
        return 2
    if "vllm" in engines and importlib.util.find_spec("vllm") is None:
        print("error: vllm is not installed (pip install vllm, the GPU extra); "
              "run with --engines transformers for the transformers side alone")
        return 2
    from models.vlm.tiny import build_real_size_checkpoint

    root = Path(tempfile.mkdtemp(prefix="aa_gpu_dataset_"))
    try:
        t0 = time.perf_counter()
        folder = build_real_size_checkpoint("qwen2_5_vl_7b", root / "qwen2_5_vl_7b_like",
                                            dtype="bf16", device="cuda")
        print(f"built a random-weight Qwen2.5-VL-7B-like checkpoint in "
              f"{time.perf_counter() - t0:.0f} s ({torch.cuda.get_device_name(0)})", flush=True)
        rows = []
        for engine in engines:
            proc = subprocess.run([sys.executable, __file__, "--child", engine, "--folder",
                                   str(folder), "--items", str(args.items), "--new-tokens",
                                   str(args.new_tokens), "--batch", str(args.batch)],
                                  capture_output=True, text=True)
            got = [json.loads(line) for line in proc.stdout.splitlines()
                   if line.startswith("{")]
            if proc.returncode or not got:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"{engine}: failed (exit {proc.returncode}): {tail}")
            rows += got
        print(f"\nP1-like items/s, {args.items} items, {args.new_tokens} new tokens each "
              f"(transformers batch {args.batch})")
        print(f"{'engine':<13}{'frames':>7}{'items/s':>10}{'tok/s':>10}{'load s':>9}{'errors':>8}")
        for r in rows:
            print(f"{r['engine']:<13}{r['frames']:>7}{r['items_per_s']:>10.2f}"
                  f"{r['new_tokens_per_s']:>10.1f}{r['load_s']:>9.1f}{r['n_errors']:>8}")
        by = {(r["engine"], r["frames"]): r["items_per_s"] for r in rows}
        for n in FRAME_COUNTS:
            if ("vllm", n) in by and ("transformers", n) in by:
                print(f"{n} frames: vLLM / transformers = "
                      f"{by[('vllm', n)] / by[('transformers', n)]:.2f}x")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
