"""Speed of merging a dataset run's QA results into a project.

    .venv/bin/python bench/bench_merge.py [--results 100000]

Writes a run folder whose shards hold N ok results of a QA stage (one rule-style QA item
each, as the engine's sink writes them), then merges it into a new project and prints the
seconds (target: 100,000 results in < 10 s), and the seconds of a second merge (nothing
added: merging is idempotent).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.engine.merge import merge_run  # noqa: E402
from models.engine.shards import RunFolder, ShardSink  # noqa: E402
from models.engine.stage import Item, Outcome, Task  # noqa: E402


def make_run(run_dir: Path, n: int) -> None:
    folder = RunFolder(run_dir)
    folder.prepare({"bench": True}, "bench")
    sink = ShardSink(run_dir, flush_rows=10_000, flush_s=3600)
    for i in range(n):
        item = Item(id=f"{i // 10:032x}", video=f"/data/clip{i // 10}.mp4", name=f"clip{i // 10}.mp4")
        qa = {"qa_id": f"qa_bench_{i:08d}", "task": "left_right", "video": item.video,
              "question": f"Which hand is higher at {i % 97} s?",
              "options": ["left", "right", "same height"], "answer_index": i % 3,
              "start_s": float(i % 60), "end_s": float(i % 60) + 1.0, "source": "rule",
              "provenance": {"confidence": 0.9, "margin": 0.1}}
        task = Task(key=f"k{i:08d}", stage="rule_qa", item=item, params={})
        sink.write(Outcome(task, "ok", {"qa": [qa]}, "", 1, 0.001, "bench"))
    sink.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=int, default=100_000)
    args = ap.parse_args()
    from models.store import Repository  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t = time.perf_counter()
        make_run(run_dir, args.results)
        print(f"wrote {args.results} results in {time.perf_counter() - t:.2f} s")
        repo = Repository(Path(tmp) / "p.sqlite")
        try:
            t = time.perf_counter()
            counts = merge_run(run_dir, repo)
            first = time.perf_counter() - t
            t = time.perf_counter()
            again = merge_run(run_dir, repo)
            second = time.perf_counter() - t
        finally:
            repo.close()
    print(f"merge: {counts} in {first:.2f} s (target < 10 s for 100,000)")
    print(f"merge again: {again} in {second:.2f} s")
    return 0 if counts["qa"] == args.results and again["qa"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
