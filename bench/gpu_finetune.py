"""GPU benchmark of the fine-tuning loop: LoRA training through the app's own ``finetune``
(video collator, loss on the answer tokens only) on random-weight models whose configs are
written in code (no download), then generation with the trained adapter merged into the
base (the default) and kept as separate LoRA layers.

Models: a SmolVLM2-256M-like and a Qwen2.5-VL-3B-like checkpoint, random weights, bf16,
8 frames per example (the app's frame sampling of the real test clips). Reported per model:
training tokens/s, seconds per optimizer step, peak GPU memory, final loss; then generation
tokens/s of the adapter merged vs unmerged on the same request.

    python bench/gpu_finetune.py                  # CUDA: both models, bf16, 8 frames
    python bench/gpu_finetune.py --smoke          # CPU: tiny models, 2 frames, a few steps

Without CUDA (and without --smoke) it says so and exits with status 2: the real-size run is
only meaningful on a GPU. Needs the repository's requirements (torch, transformers, peft,
cv2 for decoding the clips); no network.
"""
from __future__ import annotations

import argparse
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


def _qwen2_5_vl_3b(tok):
    """Qwen2.5-VL-3B-like: 36-layer 2048-wide text model (tied embeddings), 32-block
    1280-wide vision tower."""
    import transformers as t

    from models.vlm import tiny

    rope = {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1000000.0}
    cfg = t.Qwen2_5_VLConfig(
        text_config=tiny._text_cfg(tok, vocab_size=151936, hidden_size=2048,
                                   intermediate_size=11008, num_hidden_layers=36,
                                   num_attention_heads=16, num_key_value_heads=2,
                                   max_position_embeddings=128000, rope_parameters=rope,
                                   tie_word_embeddings=True),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16,
                           out_hidden_size=2048, patch_size=14, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31]),
        tie_word_embeddings=True, **tiny._ids(tok, **tiny._QWEN_IDS))
    image = t.Qwen2VLImageProcessor(patch_size=14, merge_size=2, temporal_patch_size=2)
    video = t.Qwen2VLVideoProcessor(patch_size=14, merge_size=2, temporal_patch_size=2)
    proc = t.Qwen2_5_VLProcessor(image_processor=image, tokenizer=tok, video_processor=video,
                                 chat_template=tiny._QWEN_TEMPLATE)
    return cfg, proc


def build(name: str, root: Path, smoke: bool, device: str) -> Path:
    """The checkpoint folder of ``name`` (tiny family model in --smoke mode)."""
    import torch
    import transformers as t

    from models.vlm import tiny

    if smoke:
        family = {"smolvlm2_256m_like": "smolvlm", "qwen2_5_vl_3b_like": "qwen2_5_vl"}[name]
        return tiny.build_tiny_checkpoint(family, root / name)
    if name == "smolvlm2_256m_like":
        return tiny.build_real_size_checkpoint("smolvlm2_256m", root / name, dtype="bf16",
                                               device=device)
    specials, named, eos, _ = tiny.FAMILIES["qwen2_5_vl"]
    tok = tiny._train_tokenizer(specials, named, eos=eos, pad="<|endoftext|>")
    config, processor = _qwen2_5_vl_3b(tok)
    torch.manual_seed(0)
    with torch.device(device):
        model = t.AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    del model
    return out


def train(base: Path, out: Path, args) -> dict:
    from models.finetune.config import make_config
    from models.finetune.data import build_dataset
    from models.finetune.train import finetune
    from models.jobs import JobContext
    from tests.finetune.items import VIDEO_ROOT, learn_items

    records = learn_items(args.items)
    cfg = make_config(frames=args.frames, max_pixels=args.max_pixels, learning_rate=2e-4,
                      epochs=1, max_steps=args.steps, rank=16, alpha=32.0, batch_size=1,
                      checkpoint_every=0, device=args.device, dtype=args.dtype, seed=0)
    seen: list = []
    ctx = JobContext(on_partial=lambda info: seen.append(dict(info)))
    result = finetune(str(base), build_dataset(records, "bench", VIDEO_ROOT), cfg, out, ctx)
    steady = seen[1:] or seen                      # the first step warms up kernels
    return {"steps": result.steps, "seconds": result.seconds,
            "tok_s": seen[-1]["tokens_per_s"] if seen else None,
            "step_s": sum(s["step_s"] for s in steady) / len(steady) if steady else None,
            "peak": max((s["peak_memory"] or 0) for s in seen) if seen else None,
            "loss": result.losses[-1]["loss"] if result.losses else None,
            "record": records[0]}


def infer(adapter: Path, record, args, merge: bool) -> dict:
    from models.evaluate import EvalSettings, build_request
    from models.vlm.specs import backend_for
    from tests.finetune.items import VIDEO_ROOT

    backend = backend_for(str(adapter), None, device=args.device, dtype=args.dtype,
                          merge_adapter=merge)
    backend.load()
    settings = EvalSettings(frames=args.frames, max_pixels=args.max_pixels,
                            max_new_tokens=args.new_tokens)
    req = build_request(record, settings, VIDEO_ROOT)
    backend.generate_to(req, on_text=lambda _c: None)          # warm-up
    runs = [backend.generate_to(req, on_text=lambda _c: None).stats for _ in range(args.repeats)]
    rates = sorted(s.tokens_per_s for s in runs if s.tokens_per_s)
    out = {"merged": merge, "tok_s": rates[len(rates) // 2] if rates else None,
           "new": runs[-1].completion_tokens, "peak": runs[-1].peak_mem_bytes}
    backend.unload() if hasattr(backend, "unload") else None
    del backend
    _free(args.device)
    return out


def _free(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _gib(n) -> str:
    return "-" if not n else f"{n / 1024 ** 3:.2f} GiB"


def _num(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true",
                   help="tiny random models on the CPU (checks the script, numbers mean little)")
    p.add_argument("--models", nargs="+", default=["smolvlm2_256m_like", "qwen2_5_vl_3b_like"],
                   choices=["smolvlm2_256m_like", "qwen2_5_vl_3b_like"])
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default 20; smoke 3)")
    p.add_argument("--items", type=int, default=None, help="training items (default 24; smoke 4)")
    p.add_argument("--new-tokens", type=int, default=None, help="generated tokens per answer")
    p.add_argument("--repeats", type=int, default=3, help="generations timed per setting")
    p.add_argument("--keep", default=None, help="keep the checkpoints and adapters here")
    args = p.parse_args(argv)
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("error: no CUDA device here; this benchmark trains real-size models on a GPU. "
              "Run `python bench/gpu_finetune.py --smoke` to check the script on a CPU.",
              file=sys.stderr)
        return 2
    args.device = "cpu" if args.smoke else "cuda"
    args.dtype = "fp32" if args.smoke else "bf16"
    args.frames = 2 if args.smoke else 8
    args.max_pixels = 56 * 56 if args.smoke else 448 * 448
    args.steps = args.steps or (3 if args.smoke else 20)
    args.items = args.items or (4 if args.smoke else 24)
    args.new_tokens = args.new_tokens or (8 if args.smoke else 64)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gpu_finetune_"))
    root.mkdir(parents=True, exist_ok=True)
    where = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU (smoke)"
    print(f"device {where}, dtype {args.dtype}, {args.frames} frames, max pixels "
          f"{args.max_pixels}, {args.steps} steps of batch 1, {args.items} items")
    rows = []
    try:
        for name in args.models:
            t0 = time.perf_counter()
            base = build(name, root, args.smoke, args.device)
            build_s = time.perf_counter() - t0
            _free(args.device)
            tr = train(base, root / f"{name}-adapter", args)
            _free(args.device)
            merged = infer(root / f"{name}-adapter", tr["record"], args, True)
            unmerged = infer(root / f"{name}-adapter", tr["record"], args, False)
            rows.append((name, build_s, tr, merged, unmerged))
            print(f"{name}: built in {build_s:.1f} s; train {tr['steps']} steps in "
                  f"{tr['seconds']:.1f} s (incl. load)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print("| model | train tok/s | s/step | train peak | last loss | gen tok/s merged "
          "| gen tok/s unmerged | unmerged/merged |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _b, tr, m, u in rows:
        ratio = (u["tok_s"] / m["tok_s"]) if m["tok_s"] and u["tok_s"] else None
        print(f"| {name} | {_num(tr['tok_s'], '.0f')} | {_num(tr['step_s'], '.3f')} | "
              f"{_gib(tr['peak'])} | {_num(tr['loss'], '.3f')} | {_num(m['tok_s'], '.1f')} | "
              f"{_num(u['tok_s'], '.1f')} | {_num(ratio, '.2f')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
