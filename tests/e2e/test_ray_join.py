"""Joining a Ray cluster started apart from the run (`ray start --head`), as on a cluster:
`dataset run --ray-address HOST:PORT` finds the head, authenticates with the token the head
wrote (Ray 2.59+ starts clusters with token authentication) and runs its tasks there."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.engine.shards import ShardSink

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def ray_head(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    temp = Path("/tmp") / f"aa-ray-{os.getpid()}-{port}"   # Ray's socket paths must stay short
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", "--port", str(port),
                             "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
                             "--include-dashboard=false", "--temp-dir", str(temp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
            assert head.poll() is None, head.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(head.pid, signal.SIGTERM)       # --block: the head stops what it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)


def test_dataset_run_joins_a_separately_started_head(tmp_path, ray_head, clips_dir):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("street_pedestrians.mp4", "two_people_room.mp4"):
        (clips / name).write_bytes((clips_dir / name).read_bytes())
    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\nmanifest = "clips"\noutput = "out"\n[runner]\nkind = "ray"\n'
                   '[stages.probe]\ncheck = false\n')
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    proc = subprocess.Popen([sys.executable, "main.py", "dataset", "run", str(cfg),
                             "--ray-address", f"127.0.0.1:{ray_head}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    rows = list(ShardSink(tmp_path / "out").rows("probe", columns=["status", "worker", "name"]))
    assert sorted(r["name"] for r in rows) == ["street_pedestrians.mp4", "two_people_room.mp4"]
    assert all(r["status"] == "ok" for r in rows)
    # the tasks ran in the cluster's worker processes, not in the driver
    assert all(r["worker"] and not r["worker"].endswith(f":{proc.pid}") for r in rows)
