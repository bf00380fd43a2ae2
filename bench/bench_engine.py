"""Engine overhead: a trivial stage over N items through the local runner vs a plain loop.

    .venv/bin/python bench/bench_engine.py [--items 10000] [--ray]

The plain loop is what a script without the engine does for the same job: call the stage
function on each task, catch its errors, keep (key, result). The local runner (workers=1,
inline) must stay within 1.1x of it (best of 5 rounds each, interleaved). With --ray it
also reports the same map on a local Ray instance (2 CPUs; 1 and 64 tasks per call).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.engine.runner import LocalRunner  # noqa: E402
from models.engine.stage import Item, Stage, Task, register  # noqa: E402
from models.jobs import JobContext  # noqa: E402


PAYLOAD = bytes(range(256)) * 16     # 4 KiB: what a cheap stage might read of an item


def trivial(task, ctx):
    """A cheap stage (~10 us): a digest of 4 KiB tied to the item, a few numbers."""
    d = hashlib.blake2b(PAYLOAD, digest_size=8, key=task.item.id[:32].encode()).hexdigest()
    return {"digest": d, "n": len(task.item.name), "scale": task.params["scale"]}


def bare(task, ctx):
    """The least a stage can do (~1 us): the engine's own cost per task shows here."""
    return {"n": len(task.item.name), "scale": task.params["scale"]}


STAGE = register(Stage("bench_trivial", "1", trivial, defaults={"scale": 1.0}))
BARE = register(Stage("bench_bare", "1", bare, defaults={"scale": 1.0}))


def tasks(n: int) -> list:
    return [Task(key=f"k{i}", stage=STAGE.name, item=Item(id=f"{i:032x}", video="", name=f"v{i}.mp4"),
                 params={"scale": 1.0}) for i in range(n)]


def plain(ts, ctx, fn=trivial) -> float:
    t = time.perf_counter()
    out = []
    for task in ts:
        try:
            out.append((task.key, fn(task, ctx)))
        except Exception as exc:  # noqa: BLE001
            out.append((task.key, exc))
    return time.perf_counter() - t


def engine(ts, ctx, runner, stage=STAGE) -> float:
    t = time.perf_counter()
    out = []
    for o in runner.map(stage, ts, ctx, retries=2):
        out.append(o)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ray", action="store_true")
    args = ap.parse_args()
    ts, ctx = tasks(args.items), JobContext()
    runner = LocalRunner(1)
    p, e = [], []
    for _ in range(args.rounds):
        p.append(plain(ts, ctx))
        e.append(engine(ts, ctx, runner))
    ratio = min(e) / min(p)
    print(f"cheap stage: plain loop {min(p) * 1e3:.1f} ms, local runner {min(e) * 1e3:.1f} ms "
          f"over {args.items} items -> ratio {ratio:.3f} (target <= 1.1)")
    bp, be = [], []
    for _ in range(args.rounds):
        bp.append(plain(ts, ctx, bare))
        be.append(engine(ts, ctx, runner, BARE))
    print(f"bare stage: plain loop {min(bp) * 1e3:.1f} ms, local runner {min(be) * 1e3:.1f} ms "
          f"-> ratio {min(be) / min(bp):.2f}; engine cost "
          f"{(min(be) - min(bp)) / args.items * 1e6:.2f} us per task")
    if args.ray:
        from models.engine.ray_runner import RayRunner  # noqa: PLC0415

        t = time.perf_counter()
        for chunk in (1, 64):
            rr = RayRunner(num_cpus=2, chunk=chunk)
            if chunk == 1:
                print(f"ray start: {time.perf_counter() - t:.1f} s")
            secs = engine(ts, ctx, rr)
            print(f"ray ({chunk} task(s) per call): {secs:.2f} s over {args.items} items "
                  f"-> {secs / min(p):.0f}x the plain loop, {args.items / secs:.0f} items/s")
            rr.close()
    return 0 if ratio <= 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
