"""QA speed: synthesis from pose facts, store inserts, and the curation table on 100k items.

    .venv/bin/python bench/bench_qa.py [--clips 1000] [--items 100000] [--frames 100]

Prints (one run, same machine):
* items/s generating QA from facts for ``--clips`` synthetic tracks (a standing person
  with landmark noise and arm/leg movement), both end to end (measure facts + generate)
  and for the generation step alone (facts measured beforehand);
* items/s inserting ``--items`` QA items into a fresh project file in batched
  transactions (1,000 per transaction);
* the time until the curation table shows its first rows on those items (target < 1 s)
  and the time for a filter (status, then sub-task + text search) to apply (target < 0.5 s).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from models.qa.record import Provenance, QARecord  # noqa: E402
from models.qa.synth import Balancer, SynthSettings, clip_facts, synthesize_clip  # noqa: E402
from models.store import Repository  # noqa: E402
from tests.models.qa_poses import standing_frame  # noqa: E402
from models.pose.skeleton import blazepose  # noqa: E402

TASKS = ("body_part_pose", "full_body_posture", "relative_position", "movement_direction",
         "repetition_count", "spatial_difference")


def synthetic_world(i: int, frames: int) -> np.ndarray:
    """Standing person, noise, one forearm and one shin swinging (varies with i)."""
    rng = np.random.default_rng(i)
    sk = blazepose()
    w = np.repeat(standing_frame()[None], frames, axis=0)
    w[..., :3] += rng.normal(0, 0.01, (frames, sk.n, 3))
    t = np.arange(frames) / 25.0
    side = "left" if i % 2 else "right"
    w[:, sk.index(f"{side}_wrist"), 1] -= 0.25 * (1 + np.sin(2 * np.pi * (0.5 + i % 3 * 0.3) * t))
    w[:, sk.index(f"{side}_ankle"), 2] -= 0.3 * np.clip(np.sin(np.pi * t / 2), 0, 1) * (i % 4 == 0)
    return w


def bench_generation(clips: int, frames: int) -> None:
    s = SynthSettings(tasks=TASKS, per_clip=12)
    worlds = [synthetic_world(i, frames) for i in range(clips)]
    t0 = time.perf_counter()
    facts = [clip_facts(w, 25.0, f"clip_{i:04d}.mp4", s) for i, w in enumerate(worlds)]
    t1 = time.perf_counter()
    balancer = Balancer()
    n = sum(len(synthesize_clip(f, s, balancer)) for f in facts)
    t2 = time.perf_counter()
    print(f"generation: {clips} clips x {frames} frames -> {n} items")
    print(f"  end to end (facts + generate): {t2 - t0:.2f} s = {n / (t2 - t0):,.0f} items/s "
          f"({clips / (t2 - t0):,.0f} clips/s)")
    print(f"  generate only (facts given):  {t2 - t1:.2f} s = {n / (t2 - t1):,.0f} items/s")


def fake_items(n: int):
    rng = np.random.default_rng(0)
    prov = Provenance(seed=0, facts=[{"part": "left_knee", "quantity": "angle", "value": 92.1,
                                      "unit": "deg", "frame": 3, "visibility": 0.9}])
    for i in range(n):
        yield QARecord(f"qa_{i:07d}", TASKS[i % 6], f"clip_{i // 12:05d}.mp4",
                       f"In the frame at {i % 97 / 10:.2f} s, how is the person's left knee ({i})?",
                       ["straight", "fully bent", "partly bent", "slightly bent"],
                       int(rng.integers(4)), frame_a=i % 100, provenance=prov)


def bench_store(path: str, n: int, batch: int = 1000) -> Repository:
    repo = Repository(path)
    items = list(fake_items(n))
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        repo.add_qa_items(items[i:i + batch])
    dt = time.perf_counter() - t0
    print(f"store: {n:,} items in {n // batch} transactions: {dt:.2f} s = {n / dt:,.0f} items/s")
    ids = repo.qa_ids()[:n // 4]
    repo.set_qa_status(ids[::3], "accepted")
    return repo


def bench_table(repo) -> None:
    from types import SimpleNamespace

    from PySide6.QtWidgets import QApplication, QTableView

    from app.controllers.curation import CurationController
    from widgets.curation.table_model import QATableModel

    app = QApplication.instance() or QApplication([])
    ctx = SimpleNamespace(repo=repo, player=None, message=print, warn=print)
    t0 = time.perf_counter()
    controller = CurationController(ctx)
    model = QATableModel(controller)
    view = QTableView()
    view.setModel(model)
    view.resize(900, 600)
    model.reload()
    view.show()
    app.processEvents()
    view.grab()  # forces a paint: the first rows are on screen
    first = time.perf_counter() - t0
    print(f"curation table: first rows of {model.rowCount():,} items shown in {first:.3f} s "
          f"(target < 1 s)")
    for label, key, value in (("status = accepted", "status", "accepted"),
                              ("+ sub-task", "task", "body_part_pose"),
                              ("+ text search", "text", "(12")):
        t0 = time.perf_counter()
        controller.set_filter(key, value)
        app.processEvents()
        view.grab()
        print(f"  filter {label}: {model.rowCount():,} rows in {time.perf_counter() - t0:.3f} s "
              f"(target < 0.5 s)")
    controller.filters.clear()
    t0 = time.perf_counter()
    controller.set_filter("text", "knee (4")  # text search alone: a LIKE over every row
    app.processEvents()
    view.grab()
    print(f"  filter text search alone: {model.rowCount():,} rows in "
          f"{time.perf_counter() - t0:.3f} s (target < 0.5 s)")
    view.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--items", type=int, default=100_000)
    args = ap.parse_args()
    bench_generation(args.clips, args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        repo = bench_store(os.path.join(tmp, "bench.aastudio"), args.items)
        bench_table(repo)
        repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
