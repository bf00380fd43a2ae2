"""Dataset engine core on real files: runners, Parquet shards, run folder, manifests,
config checking, the run loop and merging into a real project."""
from __future__ import annotations

import csv
import json
import os
import shutil
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import tests.engine.stages_for_tests as S
from models.engine.config import load_config, parse_config
from models.engine.manifest import read_manifest
from models.engine.merge import merge_run
from models.engine.run import run_dataset
from models.engine.runner import LocalRunner
from models.engine.shards import RunFolder, RunFolderError, ShardSink, decode_result, encode_result
from models.engine.stage import ConfigError, Item, Outcome, Task
from models.engine.status import list_runs, request_cancel, run_failures, run_status
from models.jobs import JobContext


def _fake_clips(folder: Path, n: int, prefix: str = "c") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"{prefix}{i:03d}.mp4"
        p.write_bytes(f"not decoded, only hashed: {prefix}{i}".encode() * 3)
        out.append(p)
    return out


def _cfg(base: Path, stages: dict, manifest="clips", output="out", **run):
    return parse_config({"run": dict({"manifest": manifest, "output": output}, **run),
                         "stages": stages}, base)


def _raw_rows(run_dir: Path, stage: str) -> list[dict]:
    rows = []
    for p in sorted((run_dir / "results" / stage).glob("part-*.parquet")):
        rows.extend(pq.read_table(p).to_pylist())
    return rows


# -- runners -------------------------------------------------------------------------------
def _tasks(stage: str, n: int, params: dict, names=None) -> list[Task]:
    names = names or {}
    return [Task(key=f"k{i}", stage=stage, params=params,
                 item=Item(id=f"id{i}", video="", name=names.get(i, f"n{i}"))) for i in range(n)]


def test_inline_runner_retries_and_records_one_line_errors():
    tasks = _tasks("t_fail_on", 5, {"bad": "n3"})
    outs = {o.key: o for o in LocalRunner(1).map(S.FAIL_ON, tasks, JobContext(), retries=2)}
    assert len(outs) == 5
    assert outs["k3"].status == "failed" and outs["k3"].attempts == 3
    assert outs["k3"].error == "ValueError: refused n3 second line"   # one line
    assert all(outs[k].status == "ok" and outs[k].attempts == 1 for k in ("k0", "k1", "k2", "k4"))


def test_inline_runner_stops_when_cancelled():
    ctx = JobContext()
    seen = []
    with pytest.raises(Exception) as info:
        for o in LocalRunner(1).map(S.SLEEP, _tasks("t_sleep", 10, {"seconds": 0.01}), ctx):
            seen.append(o)
            if len(seen) == 3:
                ctx.token.cancel()
    assert type(info.value).__name__ == "Cancelled"
    assert len(seen) == 3


def test_thread_runner_batches_and_retries_failed_members():
    tasks = _tasks("t_batch", 10, {}, names={3: "bad3"})
    outs = {o.key: o for o in LocalRunner(3).map(S.BATCH, tasks, JobContext(), retries=1)}
    assert len(outs) == 10
    assert outs["k3"].status == "failed" and outs["k3"].attempts == 2
    assert "batch item refused" in outs["k3"].error
    assert max(o.result["len"] for o in outs.values() if o.status == "ok") == 4   # batch size


def test_process_runner_retries_a_task_whose_worker_died(tmp_path):
    tasks = _tasks("t_kill_once", 3, {"marker_dir": str(tmp_path)})
    with LocalRunner(2) as runner:
        outs = list(runner.map(S.KILL_ONCE, tasks, JobContext(), retries=1))
    assert sorted(o.key for o in outs) == ["k0", "k1", "k2"]
    assert all(o.status == "ok" and o.attempts == 2 for o in outs)    # the death counted
    for o in outs:   # each item finished in another process than the one that died on it
        assert int((tmp_path / f"{o.task.item.id}.started").read_text()) != o.result["pid"]


def test_process_runner_reports_a_dead_worker_when_out_of_attempts(tmp_path):
    tasks = _tasks("t_kill_once", 1, {"marker_dir": str(tmp_path)})
    with LocalRunner(2) as runner:
        (o,) = list(runner.map(S.KILL_ONCE, tasks, JobContext(), retries=0))
    assert o.status == "failed" and o.attempts == 1
    assert "worker process was killed by SIGKILL" in o.error


# -- shards and the run folder ---------------------------------------------------------------
def test_results_with_bytes_round_trip_through_json_and_blob():
    res = {"a": b"\x00\x01\x02", "b": [1, {"c": b"xyz"}], "d": "text"}
    text, blob = encode_result(res)
    assert blob == b"\x00\x01\x02xyz"
    assert decode_result(text, blob) == res


def test_shards_are_deduplicated_by_key_and_ok_wins(tmp_path):
    item = Item(id="h1", video="/v.mp4", name="v.mp4")
    t = Task(key="K", stage="s", item=item, params={})
    sink = ShardSink(tmp_path, flush_rows=1)
    sink.write(Outcome(t, "failed", None, "boom", 1))
    sink.write(Outcome(t, "ok", {"x": 1}))
    sink.write(Outcome(t, "ok", {"x": 1}))          # a recomputed duplicate
    sink.close()
    assert len(list((tmp_path / "results" / "s").glob("part-*.parquet"))) == 3
    again = ShardSink(tmp_path)
    assert again.done() == {"K"} and again.failed() == {}
    assert again.results(["K"]) == {"K": {"x": 1}}
    assert len(list(again.rows("s"))) == 1


def test_a_half_written_shard_is_ignored_and_removed(tmp_path):
    folder = tmp_path / "results" / "s"
    folder.mkdir(parents=True)
    (folder / ".part-abc.parquet.tmp").write_bytes(b"PAR1 half")
    sink = ShardSink(tmp_path)
    assert sink.done() == set()
    assert not list(folder.iterdir())


def test_second_driver_refused_and_lock_of_a_dead_driver_taken_over(tmp_path):
    import subprocess
    import sys

    a = RunFolder(tmp_path / "run")
    a.lock()
    with pytest.raises(RunFolderError, match=r"in use by driver pid \d+"):
        RunFolder(tmp_path / "run").lock()
    a.unlock()
    # a driver that dies holding the lock (SIGKILL): its lock is free for the next one
    code = ("import sys, os, time; sys.path.insert(0, %r)\n"
            "from models.engine.shards import RunFolder\n"
            "RunFolder(%r).lock(); print('locked', flush=True); time.sleep(60)"
            % (str(Path(__file__).resolve().parents[2]), str(tmp_path / "run")))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert RunFolder(tmp_path / "run").holder()[0] == proc.pid
        with pytest.raises(RunFolderError, match=f"pid {proc.pid}"):
            RunFolder(tmp_path / "run").lock()
    finally:
        proc.kill()
        proc.wait()
    b = RunFolder(tmp_path / "run")
    b.lock()
    assert b.holder() is None or b.holder()[0] == os.getpid()
    b.unlock()


def test_output_folder_of_another_run_or_other_content_is_refused(tmp_path):
    _fake_clips(tmp_path / "clips", 3)
    cfg = _cfg(tmp_path, {"t_echo": {}})
    run_dataset(cfg, LocalRunner(1))
    other = _cfg(tmp_path, {"t_echo": {"scale": 2.0}})
    with pytest.raises(RunFolderError, match="belongs to another run"):
        run_dataset(other, LocalRunner(1))
    assert not _raw_rows(tmp_path / "out", "t_echo")[0]["params_json"].count("2.0")
    forced = run_dataset(other, LocalRunner(1), force=True)
    assert forced["state"] == "done"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not empty and is not a dataset run folder"):
        run_dataset(_cfg(tmp_path, {"t_echo": {}}, output="notes"), LocalRunner(1))
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["thesis.txt"]


# -- manifests -------------------------------------------------------------------------------
def test_manifest_kinds_folder_csv_jsonl_and_hf_datasets(tmp_path):
    clips = _fake_clips(tmp_path / "data" / "clips", 3)
    (tmp_path / "data" / "clips" / "readme.txt").write_text("not a video")
    folder = read_manifest(tmp_path / "data" / "clips")
    assert folder.kind == "folder" and [i.name for i in folder.items] == ["c000.mp4", "c001.mp4", "c002.mp4"]
    from models.video import content_hash

    assert folder.items[0].id == content_hash(clips[0])

    with open(tmp_path / "data" / "list.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["video", "label"])
        w.writerow(["clips/c000.mp4", "run"])
        w.writerow(["clips/missing.mp4", "walk"])
        w.writerow(["clips/readme.txt", "x"])
        w.writerow(["clips/c001.mp4", "jump"])
    m = read_manifest(tmp_path / "data" / "list.csv")
    assert [i.name for i in m.items] == ["clips/c000.mp4", "clips/c001.mp4"]
    assert m.items[0].meta["label"] == "run" and m.items[0].video == str(clips[0])
    reasons = {name: why for name, _p, why in m.failures}
    assert "file not found" in reasons["clips/missing.mp4"]
    assert "not a video file" in reasons["clips/readme.txt"]

    lines = [json.dumps({"video": "clips/c002.mp4"}), "{broken", json.dumps({"path": "x"}),
             json.dumps({"video": str(clips[1])})]
    (tmp_path / "data" / "list.jsonl").write_text("\n".join(lines) + "\n")
    j = read_manifest(tmp_path / "data" / "list.jsonl")
    assert [i.video for i in j.items] == [str(clips[2]), str(clips[1])]
    assert len(j.failures) == 2

    import datasets

    ds = datasets.Dataset.from_dict({"clip": ["clips/c000.mp4", "clips/c002.mp4", "clips/nope.mp4"],
                                     "label": ["a", "b", "c"]})
    ds.save_to_disk(str(tmp_path / "data" / "hf"))
    h = read_manifest(tmp_path / "data" / "hf", video_column="clip")
    assert h.kind == "hf" and [i.video for i in h.items] == [str(clips[0]), str(clips[2])]
    assert len(h.failures) == 1
    with pytest.raises(ConfigError, match="no column 'video'"):
        read_manifest(tmp_path / "data" / "hf")


def test_duplicate_video_is_done_once_and_reported(tmp_path):
    clips = _fake_clips(tmp_path / "clips", 3)
    shutil.copy(clips[1], tmp_path / "clips" / "copy_of_c001.mp4")
    cfg = _cfg(tmp_path, {"t_echo": {}})
    status = run_dataset(cfg, LocalRunner(1))
    assert status["manifest"]["duplicates"] == 1
    assert status["manifest"]["duplicate_names"] == [{"name": "copy_of_c001.mp4", "same_as": "c001.mp4"}]
    rows = _raw_rows(tmp_path / "out", "t_echo")
    assert len(rows) == 3 and len({r["item_id"] for r in rows}) == 3


# -- config ----------------------------------------------------------------------------------
def test_config_typos_are_errors_naming_the_key_before_anything_runs(tmp_path):
    _fake_clips(tmp_path / "clips", 2)
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\nmanifest = "clips"\noutput = "out"\n[stages.t_echo]\nscael = 2.0\n')
    with pytest.raises(ConfigError,
                       match=r"\[stages.t_echo\] has no parameter 'scael' \(its parameters: scale\)"):
        load_config(toml)
    assert not (tmp_path / "out").exists()
    cases = [
        ({"run": {"manifest": "clips", "output": "o", "retires": 1}, "stages": {"t_echo": {}}},
         r"\[run\] has no key 'retires'"),
        ({"run": {"manifest": "clips", "output": "o"}, "stages": {"t_ecko": {}}},
         r"\[stages.t_ecko\] is not a known stage"),
        ({"run": {"manifest": "clips", "output": "o"}, "stages": {"t_echo": {"scale": "big"}}},
         r"\[stages.t_echo\] scale must be a number"),
        ({"run": {"manifest": "clips", "output": "o", "retries": "two"}, "stages": {"t_echo": {}}},
         r"\[run\] retries must be an integer"),
        ({"run": {"manifest": "clips", "output": "o"}, "runner": {"kind": "slurm"},
          "stages": {"t_echo": {}}}, r"\[runner\] kind must be one of local, ray"),
        ({"run": {"manifest": "clips", "output": "o"}, "stagse": {}}, r"unknown section \[stagse\]"),
    ]
    for doc, pattern in cases:
        with pytest.raises(ConfigError, match=pattern):
            parse_config(doc, tmp_path)


def test_config_adds_needed_stages_in_dependency_order(tmp_path):
    cfg = _cfg(tmp_path, {"t_double": {"factor": 2}})
    assert cfg.stage_order() == ["t_echo", "t_double"] and cfg.added == ["t_echo"]
    assert cfg.stages["t_echo"] == {"scale": 1.0}


# -- the run loop ----------------------------------------------------------------------------
def test_run_feeds_upstream_results_and_a_rerun_skips_done_keys(tmp_path):
    _fake_clips(tmp_path / "clips", 6)
    cfg = _cfg(tmp_path, {"t_double": {"factor": 3}}, retries=0)
    first = run_dataset(cfg, LocalRunner(1))
    assert first["state"] == "done"
    by = {s["name"]: s for s in first["stages"]}
    assert by["t_double"]["done"] == 6 and by["t_echo"]["done"] == 6
    rows = _raw_rows(tmp_path / "out", "t_double")
    r0 = decode_result(rows[0]["result_json"], rows[0]["blob"])
    assert r0["twice"] == 32 * 2 * 3 and r0["blob"] == b"\x00\x01" * 32
    second = run_dataset(cfg, LocalRunner(1))
    assert len(_raw_rows(tmp_path / "out", "t_double")) == 6           # nothing recomputed
    assert {s["name"]: s["done"] for s in second["stages"]} == {"t_echo": 6, "t_double": 6}
    st = run_status(tmp_path / "out")
    assert st["state"] == "done" and not st["alive"] and st["run_id"] == first["run_id"]
    assert [r["run_id"] for r in list_runs(tmp_path)] == [first["run_id"]]


def test_failed_items_are_retried_across_reruns_up_to_retries(tmp_path):
    _fake_clips(tmp_path / "clips", 4)
    cfg = _cfg(tmp_path, {"t_fail_on": {"bad": "c002"}}, retries=2)
    # one attempt per run: a runner given retries=0 per map shows the budget across runs
    attempts = []
    for _ in range(4):
        run_dataset(cfg, _OneTry())
        fails = run_failures(tmp_path / "out")
        attempts.append(fails[0]["attempts"])
    assert attempts == [1, 2, 3, 3]            # 1 + retries attempts in all, then left alone
    assert "refused c002.mp4" in fails[0]["error"]


class _OneTry(LocalRunner):
    def map(self, stage, tasks, ctx, retries=0):
        return super().map(stage, tasks, ctx, 0)


def test_an_undecodable_clip_is_recorded_with_its_reason_and_the_run_finishes(tmp_path, clip):
    src = clip("tai_chi.mp4")
    (tmp_path / "clips").mkdir()
    shutil.copy(src, tmp_path / "clips" / "good.mp4")
    data = src.read_bytes()
    (tmp_path / "clips" / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (tmp_path / "clips" / "empty.mp4").write_bytes(b"")
    cfg = _cfg(tmp_path, {"t_decode": {}}, retries=1)
    status = run_dataset(cfg, LocalRunner(1))
    assert status["state"] == "done"
    by = {s["name"]: s for s in status["stages"]}
    assert by["t_decode"]["done"] == 1 and by["t_decode"]["failed"] == 1
    assert by["probe"]["failed"] == 1
    fails = {f["name"]: f for f in run_failures(tmp_path / "out")}
    assert fails["truncated.mp4"]["attempts"] == 2 and fails["truncated.mp4"]["stage"] == "t_decode"
    assert fails["truncated.mp4"]["error"]
    assert fails["empty.mp4"]["stage"] == "probe" and "empty" in fails["empty.mp4"]["error"]


def test_cancel_file_stops_the_run_and_a_rerun_finishes_it(tmp_path):
    _fake_clips(tmp_path / "clips", 40)
    cfg = _cfg(tmp_path, {"t_sleep": {"seconds": 0.05}}, flush_rows=5)
    result = {}

    def go():
        result["status"] = run_dataset(cfg, LocalRunner(1))

    th = threading.Thread(target=go)
    th.start()
    while not list(tmp_path.glob("out/results/*/part-*.parquet")):
        th.join(0.05)
        assert th.is_alive()
    request_cancel(tmp_path / "out")
    th.join(30)
    assert result["status"]["state"] == "cancelled"
    partial = len(_raw_rows(tmp_path / "out", "t_sleep"))
    assert 0 < partial < 40
    final = run_dataset(cfg, LocalRunner(1))
    assert final["state"] == "done"
    rows = _raw_rows(tmp_path / "out", "t_sleep")
    assert len(rows) == 40 and len({r["key"] for r in rows}) == 40


# -- merge -----------------------------------------------------------------------------------
def _qa(i: int, video: str) -> dict:
    return {"qa_id": f"qa_test_{i}", "task": "left_right", "video": video,
            "question": f"Which hand is higher ({i})?", "options": ["left", "right"],
            "answer_index": i % 2, "source": "rule"}


def test_merge_brings_tracks_qa_and_answers_in_once(tmp_path, project):
    from models.pose.track import PoseTrack
    import numpy as np

    folder = RunFolder(tmp_path / "run")
    folder.prepare({}, "h")
    sink = ShardSink(tmp_path / "run", flush_rows=3)
    n = 4
    track = PoseTrack(image=np.full((5, 33, 4), 0.5, np.float32),
                      world=np.zeros((5, 33, 4), np.float32), fps=30.0, width=64, height=48,
                      backend="mediapipe-full", backend_version="1", settings={})
    for i in range(n):
        item = Item(id=f"{i:032x}", video=f"/clips/v{i}.mp4", name=f"v{i}.mp4")
        sink.write(Outcome(Task(f"qa{i}", "rule_qa", item, {}), "ok",
                           {"qa": [_qa(2 * i, item.video), _qa(2 * i + 1, "")]}))
        sink.write(Outcome(Task(f"p1{i}", "p1_describe", item, {}), "ok",
                           {"answer": {"backend": "openai", "model_id": "m", "question": "Describe",
                                       "prompt": "Describe the pose", "answer": f"text {i}",
                                       "status": "ok"}}))
        sink.write(Outcome(Task(f"po{i}", "poses", item, {}), "ok",
                               {"track_npz": track.to_npz_bytes()}))
        sink.write(Outcome(Task(f"bad{i}", "rule_qa", item, {}), "failed", None, "nope"))
    sink.close()
    first = merge_run(tmp_path / "run", project)
    assert first["qa"] == 2 * n and first["answers"] == n
    assert first["tracks"] == n
    assert project.load_track(f"{1:032x}", "mediapipe-full", {}) is not None
    assert project.qa_count() == 2 * n
    assert project.qa_record("qa_test_1").video == "/clips/v0.mp4"    # filled from the item
    assert len(project.answers()) == n
    again = merge_run(tmp_path / "run", project)
    assert again["qa"] == 0 and again["answers"] == 0
    assert project.qa_count() == 2 * n and len(project.answers()) == n
