"""Export and evaluation benchmarks (run by hand: `.venv/bin/python bench/bench_export.py [N]`).

1. Export N (default 100,000) items to every format without copying videos: seconds per
   format. Items spread over the real small clips with a few windows / frame pairs, so the
   frame formats decode each distinct window once (as a real set of a few clips would).
2. Evaluation overhead per item beyond the model's own generate time (`--eval-only` skips 1,
   `--real-size` adds a random SmolVLM2-256M-like checkpoint), with a real tiny
   transformers checkpoint on real clips: (total per item - generate) / generate, split into
   the wait for frames not hidden by the prefetch thread, and bookkeeping (store, progress).
"""
from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.export import ExportOptions, export, formats  # noqa: E402
from models.pose.track import PoseTrack  # noqa: E402
from tests.conftest import CLIPS  # noqa: E402
from tests.models.export_samples import sample_records  # noqa: E402

CLIP_NAMES = ("arm_wrestling.mp4", "basketball_gym.mp4")
WINDOWS = [(None, None, None, None), (0.5, 1.5, None, None), (2.0, 3.0, None, None),
           (None, None, 10, 40), (None, None, 5, None)]


def many_records(n: int) -> list:
    base = sample_records()
    out = []
    for i in range(n):
        rec = base[i % len(base)]
        start, end, fa, fb = WINDOWS[i % len(WINDOWS)]
        out.append(dataclasses.replace(
            rec, qa_id=f"qa_{i:07d}", task=f"task_{i % 8}", video=CLIP_NAMES[i % 2],
            question=f"{rec.question} (variant {i})", start_s=start, end_s=end,
            frame_a=fa, frame_b=fb))
    return out


def pose_tracks(n: int) -> list:
    per = 2500
    tracks = []
    for k in range(max(1, n // per)):
        img = np.random.default_rng(k).random((per, 33, 4)).astype(np.float32)
        tracks.append((f"clip_{k:03d}.mp4", PoseTrack(img, img.copy(), 30.0, 640, 480)))
    return tracks


def bench_exports(n: int, tmp: Path) -> None:
    records = many_records(n)
    print(f"export of {n:,} items, no video copying (seconds per format)")
    for f in formats():
        opts = ExportOptions(video_root=str(CLIPS), copy_videos=False, frames_per_item=4,
                             extra={"tracks": pose_tracks(n)} if f.id == "coco-keypoints" else {})
        out = tmp / f.id
        t0 = time.perf_counter()
        report = export(f.id, [] if f.id == "coco-keypoints" else records, out, opts)
        dt = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"  {f.id:18s} {dt:7.2f} s  {report.items / dt:9.0f} items/s  "
              f"{size / 1e6:8.1f} MB")
        shutil.rmtree(out)


def bench_eval_overhead(tmp: Path, items: int = 24, real_size: bool = False) -> None:
    """``real_size``: a random SmolVLM2-256M-like checkpoint (built from its config in
    code) instead of the tiny one, so the model's generate time is realistic."""
    from models.evaluate import EvalSettings, evaluate_models, open_backend
    from models.store import Repository
    from models.vlm.tiny import build_real_size_checkpoint, build_tiny_checkpoint

    name = "SmolVLM2-256M-like (random)" if real_size else "tiny qwen2_5_vl"
    ckpt = (build_real_size_checkpoint("smolvlm2_256m", tmp / "ckpt_real") if real_size
            else build_tiny_checkpoint("qwen2_5_vl", tmp / "ckpt"))
    records = many_records(items)
    repo = Repository(tmp / "bench.aastudio")
    backend = open_backend(str(ckpt), "cpu")
    backend.load()
    settings = EvalSettings(frames=4, max_new_tokens=8)
    t0 = time.perf_counter()
    (run_id,) = evaluate_models(repo, [backend], records, settings, str(CLIPS))
    wall = time.perf_counter() - t0
    answers = list(repo.eval_answers(run_id).values())
    gen = sum(a["gen_s"] for a in answers)
    total = sum(a["total_s"] for a in answers)
    prep = total - gen   # waiting for frames (not hidden by the prefetch) + parse, in the run
    book = bookkeeping_s(repo, run_id, records)
    print(f"evaluation of {items} items, {name} on CPU:")
    print(f"  generate (model's own, incl. processor)  {1e3 * gen / items:8.2f} ms/item")
    print(f"  frame wait (after prefetch) + parse      {1e3 * prep / items:8.2f} ms/item")
    print(f"  bookkeeping (store answer, progress)     {1e3 * book:8.2f} ms/item")
    print(f"  run wall time incl. load/setup           {1e3 * wall / items:8.2f} ms/item")
    print(f"  overhead beyond generate, incl. frames:  {100 * (prep + book * items) / gen:6.1f} %")
    print(f"  overhead beyond generate + frames:       {100 * book * items / gen:6.1f} %")
    repo.close()


def bookkeeping_s(repo, run_id: int, records, reps: int = 500) -> float:
    """Seconds per item to parse an answer and store it (one transaction) + progress."""
    from models.answer_parse import parse_choice
    from models.jobs import JobContext

    ctx = JobContext(on_progress=lambda d, t, m: None, on_partial=lambda v: None)
    t0 = time.perf_counter()
    for k in range(reps):
        rec = records[k % len(records)]
        parsed = parse_choice("The answer is (B).", rec.options)
        repo.save_eval_answer(run_id, rec.qa_id, "The answer is (B).", parsed, parsed == 1,
                              False, 0.1, 0.1)
        ctx.partial(parsed)
        ctx.progress(k, reps, "x")
    return (time.perf_counter() - t0) / reps


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="aa_bench_export_"))
    try:
        if "--eval-only" not in sys.argv:
            bench_exports(n, tmp)
        bench_eval_overhead(tmp)
        if "--real-size" in sys.argv:  # slower: seconds per item
            bench_eval_overhead(tmp, items=6, real_size=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
