"""GPU benchmark: load time, time to first token and tokens/s of a real-size random-init
Qwen2.5-VL-7B-like model (config written in code, no download) at 8 and 32 frames in bf16,
through the app's backend and through bare transformers, on identical inputs.

Needs only this repository + torch + transformers (+ tokenizers, Pillow); no network, no
cv2/mediapipe: without cv2 (or without the shared clips) the frames are synthesised with
numpy. Prints a compact table. Typical run on an H100/H200: 2-3 minutes.

    python bench/gpu_vlm.py                       # CUDA, 7B-like, bf16, 8 and 32 frames
    python bench/gpu_vlm.py --device cpu --tiny   # smoke test of the script on a CPU
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402

CLIP = REPO / "tests" / "data" / "clips" / "arm_wrestling.mp4"
QUESTION = "Describe how the two people move their arms, step by step."


def frames_for(n: int) -> tuple[list, float, list[int], str]:
    """(RGB frames, fps, indices, source): a real clip when cv2 can decode it, else numpy."""
    if importlib.util.find_spec("cv2") and CLIP.is_file():
        from models.vlm.frames import FrameSelection, sample_frames

        s = sample_frames(CLIP, FrameSelection(count=n, max_pixels=448 * 448))
        return list(s.frames), s.fps, s.indices, f"{CLIP.name} (cv2)"
    h, w = 336, 448
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        img = np.stack([(xx + 7 * i) % 256, (yy + 3 * i) % 256, (xx + yy) % 256], -1)
        img[100:220, 40 + 9 * i:120 + 9 * i] = 255                 # a moving block
        out.append(img.astype(np.uint8))
    return out, 28.0, list(range(0, 10 * n, 10)), "synthetic (numpy)"


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak(device: str):
    import torch

    return torch.cuda.max_memory_allocated() if device.startswith("cuda") else None


def build(args, root: Path) -> Path:
    from models.vlm.tiny import build_real_size_checkpoint, build_tiny_checkpoint

    if args.tiny:
        return build_tiny_checkpoint("qwen2_5_vl", root / "tiny")
    return build_real_size_checkpoint("qwen2_5_vl_7b", root / "qwen2_5_vl_7b_like",
                                      dtype=args.dtype, device=args.device)


# -- through the app -----------------------------------------------------------------------------
def app_setup(folder: Path, args):
    from models.vlm.local import TransformersBackend

    t0 = time.perf_counter()
    b = TransformersBackend(str(folder), device=args.device, dtype=args.dtype)
    b.load()
    sync(args.device)
    return b, time.perf_counter() - t0


def app_once(b, case, new: int, device: str) -> dict:
    from models.vlm.types import GenerationParams, VLMRequest, messages_for

    frames, fps, idx, _src = case
    req = VLMRequest(messages_for(QUESTION), frames, GenerationParams(new), fps=fps,
                     frame_indices=idx)
    reset_peak(device)
    st = b.generate_to(req, on_text=lambda _chunk: None).stats   # what Ask/Compare run
    return dict(path="app", frames=len(frames), ttft_s=st.ttft_s, tok_s=st.tokens_per_s,
                prompt=st.prompt_tokens, new=st.completion_tokens, total_s=st.total_s,
                peak=st.peak_mem_bytes)


# -- bare transformers ---------------------------------------------------------------------------
class _FirstToken:
    """Minimal streamer: notes when the first generated token arrives."""

    def __init__(self) -> None:
        self.calls, self.first = 0, None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2:                       # call 1 is the prompt
            self.first = time.perf_counter()

    def end(self) -> None:
        pass


def bare_setup(folder: Path, args):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    t0 = time.perf_counter()
    proc = AutoProcessor.from_pretrained(folder, local_files_only=True)
    kw = {"device_map": {"": args.device}} if importlib.util.find_spec("accelerate") else {}
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype, local_files_only=True,
                                                        use_safetensors=True, **kw)
    model = model if kw else model.to(args.device)
    sync(args.device)
    return (model, proc), time.perf_counter() - t0


def bare_once(bare, case, new: int, device: str) -> dict:
    import torch

    model, proc = bare
    frames = case[0]
    t0 = time.perf_counter()
    msgs = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    extra = {"cap_pixels_per_frame": True} if hasattr(proc.video_processor, "cap_pixels_per_frame") else {}
    inputs = proc(text=[text], videos=[np.stack(frames)], return_tensors="pt",
                  do_sample_frames=False, **extra).to(device)
    reset_peak(device)
    streamer = _FirstToken()
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=new, do_sample=False, streamer=streamer)
    sync(device)
    total = time.perf_counter() - t0
    n = int(out.shape[1] - inputs["input_ids"].shape[1])
    ttft = (streamer.first or time.perf_counter()) - t0
    return dict(path="bare", frames=len(frames), ttft_s=ttft,
                tok_s=(n - 1) / (total - ttft) if n > 1 else None,
                prompt=int(inputs["input_ids"].shape[1]), new=n, total_s=total, peak=peak(device))


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def measure(folder: Path, args, cases) -> list[dict]:
    """Both paths loaded side by side; warm-up of every shape; then alternating runs,
    median of ``--repeat`` per (path, frames)."""
    app, app_load = app_setup(folder, args)
    bare, bare_load = bare_setup(folder, args)
    for case in cases:
        app_once(app, case, 4, args.device)
        bare_once(bare, case, 4, args.device)
    runs: dict = {}
    for _ in range(args.repeat):
        for case in cases:
            for name, fn, obj in (("app", app_once, app), ("bare", bare_once, bare)):
                runs.setdefault((name, len(case[0])), []).append(fn(obj, case, args.new_tokens,
                                                                    args.device))
    app.unload()
    rows = []
    for (name, _n), rs in runs.items():
        row = sorted(rs, key=lambda r: r["total_s"])[len(rs) // 2]      # median run
        rows.append(dict(row, load_s=app_load if name == "app" else bare_load))
    return rows


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: (r["path"], r["frames"]))
    print(f"{'path':5s} {'frames':>6s} {'prompt':>7s} {'new':>4s} {'load s':>7s} {'TTFT s':>7s} "
          f"{'tok/s':>7s} {'total s':>8s} {'peak GiB':>9s}")
    for r in rows:
        gib = None if r["peak"] is None else r["peak"] / 1024 ** 3
        print(f"{r['path']:5s} {r['frames']:6d} {r['prompt']:7d} {r['new']:4d} "
              f"{fmt(r['load_s'], '7.2f')} {fmt(r['ttft_s'], '7.3f')} {fmt(r['tok_s'], '7.1f')} "
              f"{fmt(r['total_s'], '8.2f')} {fmt(gib, '9.2f')}")
    app = {r["frames"]: r for r in rows if r["path"] == "app"}
    for r in (r for r in rows if r["path"] == "bare"):
        a = app.get(r["frames"])
        if a:
            print(f"ratio app/bare at {r['frames']} frames: total {a['total_s'] / r['total_s']:.3f}"
                  f"  TTFT {a['ttft_s'] / r['ttft_s']:.3f}  load {a['load_s'] / r['load_s']:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    ap.add_argument("--tiny", action="store_true", help="tiny Qwen2.5-VL config (smoke test)")
    ap.add_argument("--frames", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs per case (median)")
    ap.add_argument("--workdir", help="where the random checkpoint is written (default: temp)")
    args = ap.parse_args()
    import torch
    import transformers

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: no CUDA device; use --device cpu --tiny for a smoke test", file=sys.stderr)
        return 2
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    root = Path(args.workdir or tempfile.mkdtemp(prefix="aa_gpu_vlm_"))
    cases = [frames_for(n) for n in args.frames]
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, numpy "
          f"{np.__version__}, device {gpu}, dtype {args.dtype}, frames from {cases[0][3]}")
    t0 = time.perf_counter()
    folder = build(args, root)
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    from models.vlm.checkpoint import safetensors_params

    print(f"built {'tiny' if args.tiny else '7B-like'} Qwen2.5-VL checkpoint "
          f"({safetensors_params(folder) / 1e6:.1f} M params) in {time.perf_counter() - t0:.1f} s")
    try:
        rows = measure(folder, args, cases)
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
