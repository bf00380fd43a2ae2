"""Dataset runs end to end, as a researcher runs them: `main.py dataset run|status|merge`
as real processes over short real clips, the real stages (probe, poses, facts, rule QA,
the MLLM proxy tasks P1/P2/P3) and two real `transformers serve` endpoints with the tiny
checkpoint; an endpoint killed mid-run, Ray with the real stages, the driver SIGKILLed,
and bad input.

The clips are the first frames of tests/data/clips re-encoded by the test (24 frames, or
8 for the many-clip run), so pose extraction (the slow part) stays small.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from models.engine.shards import decode_result
from tests.media_tools import encode_cfr

REPO = Path(__file__).resolve().parents[2]
CLIPS = REPO / "tests" / "data" / "clips"
NAMES = ("arm_wrestling", "tai_chi", "weightlifting_clean_and_jerk")
FRAMES = 24
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", OMP_NUM_THREADS="1",
           TF_CPP_MIN_LOG_LEVEL="3", GLOG_minloglevel="2")


# -- helpers ---------------------------------------------------------------------------------
def _main(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)], cwd=cwd,
                          env=ENV, capture_output=True, text=True, timeout=timeout)


def _popen(*args, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "main.py"), *map(str, args)], cwd=cwd,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _rows(run: Path, stage: str | None = None) -> list[dict]:
    """Every row of every shard of the run (no deduplication)."""
    out = []
    pattern = f"results/{stage or '*'}/part-*.parquet"
    for p in sorted(run.glob(pattern)):
        out.extend(pq.read_table(p).to_pylist())
    return out


def _ok(run: Path, stage: str) -> dict:
    """key -> decoded result of the stage's ok rows (asserting each key is there once)."""
    rows = [r for r in _rows(run, stage) if r["status"] == "ok"]
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)), f"{stage}: a key is stored twice"
    return {r["key"]: dict(r, result=decode_result(r["result_json"], r["blob"])) for r in rows}


def _wait_for(cond, what: str, proc=None, timeout: float = 240, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended before {what}: "
                                 f"{(proc.stderr.read() if proc.stderr else '')[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def _toml(value) -> str:
    return json.dumps(value)    # JSON strings, numbers and booleans are TOML too


def _config(path: Path, run: dict, stages: dict, runner: dict | None = None,
            endpoints: list | None = None) -> Path:
    lines = ["[run]"] + [f"{k} = {_toml(v)}" for k, v in run.items()]
    if runner:
        lines += ["[runner]"] + [f"{k} = {_toml(v)}" for k, v in runner.items()]
    for e in endpoints or []:
        lines += ["[[endpoints]]"] + [f"{k} = {_toml(v)}" for k, v in e.items()]
    for name, params in stages.items():
        lines += [f"[stages.{name}]"] + [f"{k} = {_toml(v)}" for k, v in params.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines()]


def _counts(repo) -> dict:
    return {t: repo.db.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]
            for t in ("pose_tracks", "qa_items", "model_answers")}


def _track(result: dict):
    from models.engine.stages.basic import track_from_result

    return track_from_result(result)


def _same_track(a, b) -> bool:
    return (len(a) == len(b) and np.array_equal(a.image, b.image, equal_nan=True)
            and np.array_equal(a.world, b.world, equal_nan=True))


@pytest.fixture(scope="module")
def short_clips(tmp_path_factory) -> Path:
    """The first frames (every second one) of three real clips, re-encoded; 8-frame
    versions of them for the many-clip run."""
    folder = tmp_path_factory.mktemp("short_clips")
    for name in NAMES:
        encode_cfr(CLIPS / f"{name}.mp4", folder / f"{name}.mp4", FRAMES, fps=12, step=2)
        encode_cfr(CLIPS / f"{name}.mp4", folder / f"{name}_8.mp4", 8, fps=12, step=2)
    return folder


# -- two real `transformers serve` endpoints ---------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two servers of the tiny Qwen2.5-VL checkpoint: [(process, base url)], model id.
    The endpoint-death test kills one of them: it runs after the tests that need both."""
    from tests.vlm_fixtures import tiny_checkpoint
    from tests.vlm_servers import serving

    ckpt = tiny_checkpoint("qwen2_5_vl")
    with serving(ckpt, tmp_path_factory.mktemp("serve_logs"), 2) as servers:
        yield [(s.proc, s.url) for s in servers], str(ckpt)


def _endpoints(servers, model: str) -> list:
    return [{"name": f"e{i}", "url": url, "model": model, "concurrency": 1}
            for i, (_proc, url) in enumerate(servers)]


# -- 5. bad input ------------------------------------------------------------------------------
def test_config_typo_in_a_stage_parameter_is_one_error_line_and_creates_nothing(tmp_path,
                                                                                short_clips):
    cfg = _config(tmp_path / "run.toml", {"manifest": str(short_clips), "output": "out"},
                  {"poses": {}, "facts": {"max_frame": 3}})
    r = _main("dataset", "run", cfg, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr
    assert "'max_frame'" in lines[0] and "[stages.facts]" in lines[0]
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.toml"]


def test_output_folder_of_another_run_is_refused_with_a_clear_message(tmp_path):
    shutil.copy(CLIPS / "street_pedestrians.mp4", tmp_path / "street.mp4")
    (tmp_path / "list.csv").write_text("video\nstreet.mp4\n")
    first = _config(tmp_path / "first.toml", {"manifest": "list.csv", "output": "out"},
                    {"probe": {}})
    r = _main("dataset", "run", first, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    other = _config(tmp_path / "other.toml", {"manifest": "list.csv", "output": "out"},
                    {"probe": {"check": False}})
    r = _main("dataset", "run", other, "--quiet", cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr
    assert str(tmp_path / "out") in lines[0] and "belongs to another run" in lines[0]
    assert "force" in lines[0]
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before                                   # the other run is untouched


def test_status_counts_the_manifest_bad_entries_in_the_probe_total(tmp_path):
    """probe is both a configured stage and where unusable manifest lines fail: its total
    counts both, so done + failed adds up to it (first run and rerun)."""
    shutil.copy(CLIPS / "street_pedestrians.mp4", tmp_path / "street.mp4")
    (tmp_path / "notes.txt").write_text("text\n")
    (tmp_path / "list.csv").write_text("video\nstreet.mp4\nnotes.txt\nmissing.mp4\n")
    cfg = _config(tmp_path / "run.toml", {"manifest": "list.csv", "output": "out"},
                  {"probe": {}})
    for attempt in (1, 2):
        r = _main("dataset", "run", cfg, "--quiet", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        st = json.loads(_main("dataset", "status", tmp_path / "out", "--json",
                              cwd=tmp_path).stdout)
        (probe,) = st["stages"]
        assert (probe["total"], probe["done"], probe["failed"], probe["pending"]) == \
            (3, 1, 2, 0), (attempt, probe)
        assert {f["name"]: f["attempts"] for f in st["failures"]} == \
            {"notes.txt": attempt, "missing.mp4": attempt}
    # the rerun probed no clip: the bad entries, failed again at once, make no rate
    assert probe["items_per_s"] == 0.0 and probe["eta_s"] is None


# -- 1. the whole pipeline through the CLI over two real endpoints -----------------------------
PROXY = {"model": "endpoints", "max_new_tokens": 6}


def test_full_pipeline_over_two_real_endpoints_then_merge(tmp_path, short_clips, served):
    from models.qa.record import check_record
    from models.store import Repository
    from models.video import content_hash

    servers, model = served
    urls = {url for _p, url in servers}
    for name in NAMES:
        shutil.copy(short_clips / f"{name}.mp4", tmp_path / f"{name}.mp4")
    shutil.copy(tmp_path / "tai_chi.mp4", tmp_path / "tai_chi_again.mp4")    # a duplicate
    (tmp_path / "notes.txt").write_text("not a video\n")
    (tmp_path / "list.csv").write_text(
        "video,label\n" + "".join(f"{n}.mp4,{n}\n" for n in NAMES)
        + "notes.txt,text\nmissing.mp4,gone\ntai_chi_again.mp4,copy\n")
    cfg = _config(tmp_path / "run.toml",
                  {"manifest": "list.csv", "output": "out", "retries": 1, "flush_rows": 1},
                  {"probe": {}, "poses": {}, "facts": {"max_frames": 3},
                   "qa": {"max_frames": 4},
                   "p1_describe": dict(PROXY, windows=2, window_s=1.0, frames=2),
                   "p2_differences": dict(PROXY, pairs=1, gap_s=0.5),
                   "p3_qa": dict(PROXY, max_new_tokens=24, questions=1)},
                  endpoints=_endpoints(servers, model))
    ran = _main("dataset", "run", cfg, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "done" in ran.stdout and "2 failed" in ran.stdout
    run = tmp_path / "out"
    stages = ["probe", "poses", "facts", "qa", "p1_describe", "p2_differences", "p3_qa"]

    # status: every stage, counts that add up; the two bad lines failed with their reasons
    st = _main("dataset", "status", run, "--json", cwd=tmp_path)
    assert st.returncode == 0, st.stderr
    status = json.loads(st.stdout)
    assert status["state"] == "done"
    by = {s["name"]: s for s in status["stages"]}
    assert list(by) == stages
    for s in by.values():
        assert s["done"] + s["failed"] + s.get("blocked", 0) + s["pending"] == s["total"], s
        assert s["pending"] == 0
    assert by["probe"] == dict(by["probe"], total=5, done=3, failed=2)
    for name in stages[1:]:
        assert (by[name]["total"], by[name]["done"], by[name]["failed"]) == (3, 3, 0), by[name]
    fails = {f["name"]: f for f in status["failures"]}
    assert set(fails) == {"notes.txt", "missing.mp4"}
    assert "not a video" in fails["notes.txt"]["error"]
    assert "not found" in fails["missing.mp4"]["error"]
    assert status["manifest"]["duplicates"] == 1 and status["manifest"]["items"] == 3
    text = _main("dataset", "status", run, cwd=tmp_path)
    assert "notes.txt" in text.stdout and "missing.mp4" in text.stdout

    # the duplicate is done once: one ok result per stage per clip, named by its first name
    hashes = {n: content_hash(tmp_path / f"{n}.mp4") for n in NAMES}
    for name in stages[1:]:
        ok = _ok(run, name)
        assert sorted(r["item_id"] for r in ok.values()) == sorted(hashes.values()), name
        assert "tai_chi_again.mp4" not in {r["name"] for r in ok.values()}

    # both endpoints answered P1 windows (the pool spread the batch)
    p1 = _ok(run, "p1_describe")
    windows = [w for r in p1.values() for w in r["result"]["windows"]]
    assert len(windows) == 6
    assert {w["provenance"]["endpoint"] for w in windows} == urls
    assert all(w["provenance"]["model_id"] == model and w["text"] for w in windows)
    # P3 from the tiny model's random text: recorded as invalid output, not a failure
    p3 = _ok(run, "p3_qa")
    for r in p3.values():
        res = r["result"]
        assert res["invalid_output"] or res["items"] or res["rejected"], res
        if res["invalid_output"]:
            assert res["rejected"] and res["raw_output"] and res["items"] == []

    # progress on stderr: every stage with its rate and ETA
    for name in stages:
        assert any(line.startswith(name) and "/s ETA" in line
                   for line in _lines(ran.stderr)), (name, ran.stderr[-2000:])

    # merge into a project, check it with the repository API; a second merge adds nothing
    proj = tmp_path / "p.aastudio"
    m = _main("dataset", "merge", run, "--project", proj, cwd=tmp_path)
    assert m.returncode == 0, m.stderr
    qa_results = _ok(run, "qa")
    rule_ids = [rec["qa_id"] for r in qa_results.values() for rec in r["result"]["records"]]
    assert rule_ids
    repo = Repository(proj)
    try:
        for n, h in hashes.items():
            tracks = repo.track_status(h)
            assert len(tracks) == 1 and tracks[0]["complete"] and tracks[0]["frames"] == FRAMES, n
        # each clip is known to the project by its path, as opening it would make it
        assert sorted(c["content_hash"] for c in repo.clips()) == sorted(hashes.values())
        for qa_id in rule_ids:
            rec = repo.qa_record(qa_id)
            assert rec is not None
            check_record(rec)
        answers = repo.answers(limit=1000)
        p1_answers = [a for a in answers if a["template_id"] == windows[0]["provenance"]["template_id"]]
        p2_answers = [a for a in answers if a["template_id"] == "p2_spatial_difference"]
        assert len(p1_answers) == 6 and len(p2_answers) == 3
        assert {a["generation_params"]["endpoint"] for a in p1_answers} == urls
        assert all(a["model_id"] == model and a["answer"] for a in p1_answers + p2_answers)
        assert sorted(a["answer"] for a in p1_answers) == sorted(w["text"] for w in windows)
        counts = _counts(repo)
    finally:
        repo.close()
    again = _main("dataset", "merge", run, "--project", proj, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 pose tracks, 0 QA items, 0 model texts" in again.stdout
    # the merged rule QA is checked against the merged poses, like the desktop's own
    check = _main("qa-check", "--project", proj, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "no cached poses" not in check.stdout, check.stdout
    repo = Repository(proj)
    try:
        assert _counts(repo) == counts
    finally:
        repo.close()


# -- 2. an endpoint dies mid-run ---------------------------------------------------------------
def test_endpoint_killed_mid_run_the_survivor_serves_the_rest(tmp_path, short_clips, served):
    """Keep after the tests that need both servers: this one kills one of them."""
    servers, model = served
    (victim, victim_url), (_survivor, survivor_url) = servers
    assert victim.poll() is None
    # 12 distinct 8-frame clips (a few trailing bytes make each copy's content differ):
    # P1 runs them in two batches of 8 and 4 tasks
    lines = ["video"]
    for i in range(12):
        src = short_clips / f"{NAMES[i % 3]}_8.mp4"
        dst = tmp_path / f"c{i:02d}.mp4"
        shutil.copy(src, dst)
        with open(dst, "ab") as fh:
            fh.write(b"\0" * (i + 1))
        lines.append(dst.name)
    (tmp_path / "list.csv").write_text("\n".join(lines) + "\n")
    cfg = _config(tmp_path / "run.toml",
                  {"manifest": "list.csv", "output": "out", "retries": 2, "flush_rows": 1},
                  {"poses": {}, "p1_describe": dict(PROXY, windows=4, window_s=0.25, frames=1)},
                  endpoints=_endpoints(servers, model))
    run = tmp_path / "out"
    proc = _popen("dataset", "run", cfg, "--quiet", cwd=tmp_path)
    try:
        _wait_for(lambda: list(run.glob("results/p1_describe/part-*.parquet")),
                  "the first P1 results", proc)
        victim.kill()
        killed_at = time.time()
        victim.wait(10)
        assert proc.wait(240) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rows = _rows(run, "p1_describe")
    assert len(rows) == 12 and all(r["status"] == "ok" for r in rows), \
        [r["error"] for r in rows if r["status"] != "ok"]
    before = [r for r in rows if r["finished"] <= killed_at]
    after = [r for r in rows if r["finished"] > killed_at]
    assert before and after, "the kill did not land mid-run"
    served_before = {w["provenance"]["endpoint"] for r in before
                     for w in decode_result(r["result_json"], r["blob"])["windows"]}
    assert served_before == {victim_url, survivor_url}        # both worked before the kill
    late = [w["provenance"]["endpoint"] for r in after
            for w in decode_result(r["result_json"], r["blob"])["windows"]]
    assert len(late) == 4 * len(after) and survivor_url in late
    # the victim answered at most what it had finished or had in flight before it died
    assert late.count(survivor_url) > late.count(victim_url)


# -- 3. Ray with the real stages ---------------------------------------------------------------
def test_ray_runner_gives_the_local_runner_results(tmp_path, short_clips):
    (tmp_path / "list.csv").write_text(
        "video\n" + "".join(f"{short_clips / n}.mp4\n" for n in NAMES[1:]))
    stages = {"probe": {}, "poses": {}, "qa": {"max_frames": 4}}
    local = _config(tmp_path / "local.toml", {"manifest": "list.csv", "output": "local"}, stages)
    ray = _config(tmp_path / "ray.toml", {"manifest": "list.csv", "output": "ray"}, stages,
                  runner={"kind": "ray", "workers": 2})
    r = _main("dataset", "run", ray, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    r = _main("dataset", "run", local, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for stage in ("probe", "poses", "qa"):
        a, b = _ok(tmp_path / "local", stage), _ok(tmp_path / "ray", stage)
        assert sorted(a) == sorted(b) and len(a) == 2, stage
    ray_workers = {r["worker"] for r in _ok(tmp_path / "ray", "poses").values()}
    local_workers = {r["worker"] for r in _ok(tmp_path / "local", "poses").values()}
    assert len(local_workers) == 1 and not ray_workers & local_workers   # Ray's processes
    local_qa, ray_qa = _ok(tmp_path / "local", "qa"), _ok(tmp_path / "ray", "qa")
    for key in local_qa:
        assert local_qa[key]["result"]["records"] == ray_qa[key]["result"]["records"]
        assert local_qa[key]["result"]["count"] > 0
    lp, rp = _ok(tmp_path / "local", "poses"), _ok(tmp_path / "ray", "poses")
    for key in lp:
        assert _same_track(_track(lp[key]["result"]), _track(rp[key]["result"]))


# -- 4. the driver SIGKILLed with the real poses stage -----------------------------------------
def test_driver_sigkilled_during_poses_then_rerun_completes_exactly_once(tmp_path, short_clips):
    names = [f"{n}.mp4" for n in NAMES]
    for n in names:
        shutil.copy(short_clips / n, tmp_path / n)
    shutil.copy(CLIPS / "street_pedestrians.mp4", tmp_path / "street_pedestrians.mp4")
    names.append("street_pedestrians.mp4")
    (tmp_path / "list.csv").write_text("video\n" + "".join(n + "\n" for n in names))
    stages = {"probe": {}, "poses": {}}
    cfg = _config(tmp_path / "run.toml",
                  {"manifest": "list.csv", "output": "out", "flush_rows": 1}, stages)
    ref_cfg = _config(tmp_path / "ref.toml", {"manifest": "list.csv", "output": "ref"}, stages)
    run = tmp_path / "out"
    proc = _popen("dataset", "run", cfg, "--quiet", cwd=tmp_path)
    try:
        _wait_for(lambda: list(run.glob("results/poses/part-*.parquet")),
                  "the first poses result", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed = [r for r in _rows(run, "poses") if r["status"] == "ok"]
    assert 1 <= len(killed) < 4, "the driver finished before the kill"
    st = _main("dataset", "status", run, "--json", cwd=tmp_path)
    assert json.loads(st.stdout)["state"] == "interrupted"
    again = _main("dataset", "run", cfg, "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    ref = _main("dataset", "run", ref_cfg, "--quiet", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr[-3000:]
    for stage in stages:
        rows = _rows(run, stage)
        keys = [r["key"] for r in rows]
        assert all(r["status"] == "ok" for r in rows)
        assert len(keys) == 4 and len(set(keys)) == 4, stage          # none missing, none twice
        assert sorted(keys) == sorted(_ok(tmp_path / "ref", stage)), stage
    assert {r["key"] for r in killed} <= set(_ok(run, "poses"))      # the killed run's kept
    got, want = _ok(run, "poses"), _ok(tmp_path / "ref", "poses")
    for key in want:
        assert _same_track(_track(got[key]["result"]), _track(want[key]["result"])), \
            got[key]["name"]
    # merged twice: the second merge adds (and reports) nothing
    proj = tmp_path / "p.aastudio"
    m = _main("dataset", "merge", run, "--project", proj, cwd=tmp_path)
    assert m.returncode == 0 and "4 pose tracks" in m.stdout, m.stdout + m.stderr
    m = _main("dataset", "merge", run, "--project", proj, cwd=tmp_path)
    assert m.returncode == 0 and "merged 8 results: 0 pose tracks" in m.stdout, m.stdout
