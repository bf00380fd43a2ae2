"""The dataset driver as a real subprocess: SIGKILLed mid-run then rerun; the CLI's
one-line errors, status and plan."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
MOD = "tests.engine.stages_for_tests"


def _main(*args, timeout=120):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _clips(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"v{i:03d}.mp4").write_bytes(f"item {i}".encode() * 8)


def _rows(run: Path) -> list[dict]:
    out = []
    for p in sorted((run / "results").glob("*/part-*.parquet")):
        out.extend(pq.read_table(p, columns=["key", "stage", "status"]).to_pylist())
    return out


def test_driver_sigkilled_mid_run_then_rerun_gives_every_key_exactly_once(tmp_path):
    n = 200
    _clips(tmp_path / "clips", n)
    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\nmanifest = "clips"\noutput = "out"\nflush_rows = 10\n'
                   '[stages.t_sleep]\nseconds = 0.02\n')
    run = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(REPO / "main.py"), "dataset", "run", str(cfg),
                             "--stages-module", MOD, "--quiet"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(run.glob("results/*/part-*.parquet"))) < 3:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = _rows(run)
    assert 0 < len(before) < n
    st = _main("dataset", "status", str(run), "--json")
    assert st.returncode == 0 and json.loads(st.stdout)["state"] == "interrupted"
    again = _main("dataset", "run", str(cfg), "--stages-module", MOD, "--quiet")
    assert again.returncode == 0, again.stderr
    rows = _rows(run)
    keys = [r["key"] for r in rows if r["status"] == "ok"]
    assert len(keys) == n and len(set(keys)) == n          # none missing, none twice
    assert set(r["key"] for r in before) <= set(keys)      # the killed run's shards kept


def test_cli_config_typo_is_one_error_line_naming_the_key(tmp_path):
    _clips(tmp_path / "clips", 2)
    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\nmanifest = "clips"\noutput = "out"\n[stages.t_sleep]\nsecnds = 1\n')
    r = _main("dataset", "run", str(cfg), "--stages-module", MOD)
    assert r.returncode == 2
    assert r.stderr.startswith("error: config: [stages.t_sleep] has no parameter 'secnds'")
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()
    r = _main("dataset", "status", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.startswith("error: ")


def test_cli_run_status_plan_and_merge(tmp_path, clip):
    import shutil

    (tmp_path / "clips").mkdir()
    shutil.copy(clip("tai_chi.mp4"), tmp_path / "clips" / "a.mp4")
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"run": {"manifest": "clips", "output": "out"},
                               "stages": {"t_double": {}}}))
    plan = _main("dataset", "plan", str(cfg), "--stages-module", MOD)
    assert plan.returncode == 0, plan.stderr
    assert "1 usable videos" in plan.stdout and "t_double" in plan.stdout
    r = _main("dataset", "run", str(cfg), "--stages-module", MOD)
    assert r.returncode == 0, r.stderr
    assert "done" in r.stdout and "t_double" in r.stderr          # progress lines
    st = _main("dataset", "status", str(tmp_path / "out"))
    assert st.returncode == 0 and "t_echo" in st.stdout and "1/1" in st.stdout
    m = _main("dataset", "merge", str(tmp_path / "out"), "--project", str(tmp_path / "p.aastudio"))
    assert m.returncode == 0, m.stderr
    assert "merged 2 results" in m.stdout
