"""The Ray runner on a real local Ray instance (started once for this module)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import tests.engine.stages_for_tests as S
from models.engine.config import parse_config
from models.engine.run import run_dataset
from models.engine.shards import ShardSink
from models.engine.stage import Item, Task
from models.jobs import JobContext

ray = pytest.importorskip("ray")
REPO = str(Path(__file__).resolve().parents[2])


@pytest.fixture(scope="module")
def ray_runner():
    from models.engine.ray_runner import RayRunner

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": REPO}})
    try:
        yield RayRunner(max_in_flight=4)
    finally:
        ray.shutdown()


def test_a_task_whose_ray_worker_is_killed_is_retried_and_the_run_completes(tmp_path, ray_runner):
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(4):
        (clips / f"v{i}.mp4").write_bytes(f"clip {i}".encode() * 10)
    markers = tmp_path / "markers"
    markers.mkdir()
    cfg = parse_config({"run": {"manifest": "clips", "output": "out", "retries": 0},
                        "stages": {"t_kill_once": {"marker_dir": str(markers)}}}, tmp_path)
    status = run_dataset(cfg, ray_runner)
    assert status["state"] == "done"
    (st,) = status["stages"]
    assert st["done"] == 4 and st["failed"] == 0
    killed = {p.name.split(".")[0]: int(p.read_text()) for p in markers.iterdir()}
    assert len(killed) == 4                 # every item's first worker died
    sink = ShardSink(tmp_path / "out")
    for row in sink.rows("t_kill_once"):
        import json
        assert json.loads(row["result_json"])["pid"] != killed[row["item_id"]]
        assert row["worker"] and not row["worker"].endswith(f":{os.getpid()}")


def test_stage_errors_on_ray_are_our_retries_and_recorded(ray_runner):
    tasks = [Task(key=f"k{i}", stage="t_fail_on", item=Item(id=f"i{i}", video="", name=f"n{i}"),
                  params={"bad": "n1"}) for i in range(6)]
    outs = {o.key: o for o in ray_runner.map(S.FAIL_ON, tasks, JobContext(), retries=2)}
    assert len(outs) == 6
    assert outs["k1"].status == "failed" and outs["k1"].attempts == 3
    assert outs["k1"].error == "ValueError: refused n1 second line"
    assert all(outs[k].status == "ok" for k in outs if k != "k1")
