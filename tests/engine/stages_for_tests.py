"""Small stages for the engine tests (registered on import; worker processes import this
module by name to find them)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from models.engine.stage import Stage, register
from models.errors import VideoError


def _echo(task, ctx):
    return {"name": task.item.name, "n": len(task.item.id), "scale": task.params["scale"]}


def _double(task, ctx):
    up = task.upstream["t_echo"]
    return {"twice": up["n"] * 2 * task.params["factor"], "blob": b"\x00\x01" * up["n"]}


def _fail_on(task, ctx):
    if task.params["bad"] and task.params["bad"] in task.item.name:
        raise ValueError(f"refused {task.item.name}\nsecond line")
    return {"ok": True}


def _sleep(task, ctx):
    time.sleep(task.params["seconds"])
    return {"pid": os.getpid(), "name": task.item.name}


def _decode(task, ctx):
    from models.video import VideoReader, probe  # noqa: PLC0415

    info = probe(task.item.video)
    n = 0
    with VideoReader(task.item.video) as r:
        for _i, _frame in r.frames(0, info.frame_count):
            n += 1
            ctx.check()
    if n < info.frame_count:
        raise VideoError(f"{task.item.name}: decoding stopped at frame {n} of {info.frame_count}")
    return {"frames": n}


def _kill_once(task, ctx):
    """Kills its own worker process the first time it runs an item (marker file)."""
    marker = Path(task.params["marker_dir"]) / (task.item.id + ".started")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), 9)
    return {"pid": os.getpid()}


def _flaky_many(tasks, ctx):
    out = []
    for t in tasks:
        if "bad" in t.item.name:
            out.append(RuntimeError("batch item refused"))
        else:
            out.append({"len": len(tasks)})
    return out


ECHO = register(Stage("t_echo", "1", _echo, defaults={"scale": 1.0}, describe="echo"))
DOUBLE = register(Stage("t_double", "1", _double, needs=("t_echo",), defaults={"factor": 1}))
FAIL_ON = register(Stage("t_fail_on", "1", _fail_on, defaults={"bad": ""}))
SLEEP = register(Stage("t_sleep", "1", _sleep, defaults={"seconds": 0.01}))
DECODE = register(Stage("t_decode", "1", _decode))
KILL_ONCE = register(Stage("t_kill_once", "1", _kill_once, defaults={"marker_dir": ""}))
BATCH = register(Stage("t_batch", "1", fn_many=_flaky_many, batch=4, resource="endpoint"))
