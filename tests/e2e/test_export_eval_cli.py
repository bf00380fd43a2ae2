"""The headless commands in subprocesses: export, import, eval (real project file, real
clips, a real tiny checkpoint)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from tests.conftest import CLIPS, REPO
from tests.models.export_samples import sample_records
from tests.models.test_evaluate import synth_records
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401


def cli(*args, env=None):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=str(REPO))


@pytest.fixture
def project_file(tmp_path):
    from models.store import Repository
    from models.video import probe

    path = tmp_path / "p.aastudio"
    repo = Repository(path)
    repo.upsert_clip(probe(CLIPS / "arm_wrestling.mp4"))
    recs = synth_records()[:4]
    for r in recs:
        r.review.status = "accepted"
    extra = sample_records("candidate")[0]
    repo.add_qa_items(recs + [extra])
    repo.close()
    return path


def test_export_cli_and_refusals(project_file, tmp_path):
    out = tmp_path / "bench"
    r = cli("export", project_file, "--format", "lmms-eval", "--out", out, "--tasks",
            "body_part_pose", "relative_position", "full_body_posture")  # not movement_direction
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Exported 3 item(s) as lmms-eval")
    assert (out / "utils.py").is_file() and list((out / "videos").glob("*.mp4"))
    again = cli("export", project_file, "--format", "jsonl", "--out", out)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "not empty" in again.stderr and "Traceback" not in again.stderr
    none = cli("export", project_file, "--format", "jsonl", "--out", tmp_path / "x",
               "--status", "rejected")
    assert none.returncode == 2 and "no items with status rejected" in none.stderr


def tree(folder):
    return {p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def one_error_line(r):
    assert r.returncode == 2 and r.stderr.startswith("error: "), (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    return r.stderr


def test_export_overwrite_never_deletes_the_users_folder(tmp_path):
    """A folder holding the project file, its clips and a notes file: --overwrite is
    refused outright (even with a manifest claiming every file), nothing is touched; a
    folder that is not an earlier export is refused too; an earlier export is replaced."""
    from models.store import Repository
    from models.video import probe

    work = tmp_path / "work"
    work.mkdir()
    for name in ("arm_wrestling.mp4", "two_people_room.mp4", "basketball_gym.mp4",
                 "street_pedestrians.mp4"):
        (work / name).write_bytes((CLIPS / name).read_bytes())
    repo = Repository(work / "p.aastudio")
    for name in ("arm_wrestling.mp4", "two_people_room.mp4"):
        repo.upsert_clip(probe(work / name))
    repo.add_qa_items(sample_records("candidate"))
    repo.close()
    (work / "notes.txt").write_text("my notes")
    args = ["export", work / "p.aastudio", "--format", "jsonl", "--status", "candidate"]
    for forged in (False, True):
        if forged:
            (work / ".actionart-export.json").write_text(json.dumps(
                {"tool": "ActionArt Studio export",
                 "files": sorted(p.name for p in work.iterdir())}))
        before = tree(tmp_path)
        r = cli(*args, "--out", work, "--overwrite")
        assert "holds the project's own data" in one_error_line(r)
        assert tree(tmp_path) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    r = cli(*args, "--out", other, "--overwrite")
    assert "holds no earlier export" in one_error_line(r)
    assert tree(other) == {"notes.txt": b"mine"}
    bench = tmp_path / "bench"
    assert cli(*args, "--out", bench).returncode == 0
    r = cli(*args, "--out", bench, "--overwrite", "--tasks", "body_part_pose")
    assert r.returncode == 0 and r.stdout.startswith("Exported 2 item(s)"), r.stderr
    assert sorted(p.name for p in bench.iterdir()) == [".actionart-export.json", "actionart.jsonl"]


def test_import_cli_good_and_malformed(tmp_path):
    good = tmp_path / "qa.jsonl"
    good.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in sample_records()))
    proj = tmp_path / "q.aastudio"
    r = cli("import", good, "--project", proj)
    assert r.returncode == 0, r.stderr
    assert "5 QA item(s)" in r.stdout and "5 new of 5 stored" in r.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + "{broken\n")
    r = cli("import", bad, "--project", tmp_path / "other.aastudio")
    assert r.returncode == 2 and "bad.jsonl line 6: invalid JSON" in r.stderr
    assert "Traceback" not in r.stderr


def test_eval_cli_reports_and_resumes(project_file, tmp_path, tiny_ckpt):
    ckpt = tiny_ckpt("qwen2_5_vl")
    args = ["eval", project_file, "--model", ckpt, "--reference", "--frames", "4",
            "--max-new-tokens", "4", "--device", "cpu", "--quiet",
            "--csv", tmp_path / "r.csv", "--md", tmp_path / "r.md"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    models = sorted({row["model"] for row in rows})
    assert models == ["#1 qwen2_5_vl", "#2 Rule-based reference"]
    ref = {row["sub_task"]: row for row in rows if row["model"].endswith("reference")}
    assert ref["overall (micro)"]["accuracy"] == "100.0" and ref["overall (micro)"]["n"] == "4"
    assert (tmp_path / "r.md").read_text() == r.stdout
    again = cli(*args)
    assert again.returncode == 0 and again.stdout == r.stdout   # resumed: nothing re-asked
    past = cli("eval", project_file, "--runs", "1", "2")        # reopen past runs
    assert past.returncode == 0 and past.stdout == r.stdout
    flips = cli("eval", project_file, "--compare", "2", "1").stdout.splitlines()
    n_right = int(next(row["correct"] for row in rows if row["model"] == "#1 qwen2_5_vl"
                       and row["sub_task"] == "overall (micro)"))
    assert flips[0] == "Run #2 vs run #1: 4 items answered by both"
    assert flips[2].startswith(f"became wrong ({4 - n_right}):")


@pytest.fixture(scope="module")
def posed_project(tmp_path_factory):
    """A project whose clip has real MediaPipe poses and two accepted items on it."""
    from models.pose.extract import extract_video
    from models.qa.record import QARecord, Review
    from models.store import Repository

    path = tmp_path_factory.mktemp("posed") / "p.aastudio"
    repo = Repository(path)
    extract_video(CLIPS / "two_people_room.mp4", repo)
    acc = Review(status="accepted")
    repo.add_qa_items([
        QARecord("q1", "spatial_difference", "two_people_room.mp4", "What changed?",
                 ["the left elbow bends", "nothing"], 0, frame_a=5, frame_b=60, review=acc),
        QARecord("q2", "full_body_posture", "two_people_room.mp4", "Posture?",
                 ["standing", "lying"], 0, start_s=0.5, end_s=1.5, review=acc)])
    repo.close()
    return path


def test_proxy_and_coco_exports_from_real_poses(posed_project, tmp_path):
    r = cli("export", posed_project, "--format", "proxy-training", "--out", tmp_path / "proxy")
    assert r.returncode == 0, r.stderr
    pose = json.loads((tmp_path / "proxy/llava/pose_description.json").read_text())
    diff = json.loads((tmp_path / "proxy/llava/spatial_difference.json").read_text())
    assert len(pose) == 8 and "standing" in pose[0]["conversations"][1]["value"]
    pair = [d for d in diff if d["id"].startswith("diff_two_people_room.mp4_5_60")]
    assert pair and len(pair[0]["image"]) == 2 and "left elbow" in pair[0]["conversations"][1]["value"]
    assert all((tmp_path / "proxy" / p).is_file() for d in diff for p in d["image"])
    r = cli("export", posed_project, "--format", "coco-keypoints", "--out", tmp_path / "coco")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Exported 72 item(s) as coco-keypoints")
    whole = cli("export", posed_project, "--format", "coco-keypoints", "--out", tmp_path / "all",
                "--status", "rejected", "--no-copy-videos")   # no items: every clip's poses
    assert whole.returncode == 0 and whole.stdout.startswith("Exported 72 item(s)"), whole.stderr
    r = cli("import", tmp_path / "coco/actionart_blazepose33.json", "--project", tmp_path / "n.aastudio")
    assert r.returncode == 0 and "72 person pose(s) on 72 image(s); 72 new of 72 stored" in r.stdout


def test_eval_cli_over_an_exported_file(tmp_path):
    qa = tmp_path / "set.jsonl"
    qa.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in synth_records()[:5]))
    r = cli("eval", tmp_path / "e.aastudio", "--model", "rule", "--qa-file", qa,
            "--video-root", CLIPS, "--quiet")
    assert r.returncode == 0, r.stderr
    overall = [ln for ln in r.stdout.splitlines() if "overall (micro)" in ln][0]
    assert "| 5 | 5 | 100.0 | 0 | 0 |" in overall
    mv = tmp_path / "action_antonym.json"     # a peer benchmark, imported then evaluated
    mv.write_text(json.dumps([{"video": "arm_wrestling.mp4", "question": "Which arm wins?",
                               "candidates": ["left", "right"], "answer": "right"}]))
    assert cli("import", mv, "--project", tmp_path / "e.aastudio").returncode == 0
    r = cli("eval", tmp_path / "e.aastudio", "--model", "rule", "--imported", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "| action_antonym | 0 | 0 |  | 0 | 1 |" in r.stdout   # the reference abstains


def test_eval_csv_neutralises_formula_like_cells(tmp_path):
    """Task names (and model labels) that a spreadsheet would run as formulas are written
    with a leading quote; the Markdown report keeps them as they are."""
    import dataclasses

    hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "\tcmd", "\rx"]
    recs = [dataclasses.replace(r, task=t) for r, t in zip(synth_records(), hostile)]
    qa = tmp_path / "set.jsonl"
    qa.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    r = cli("eval", tmp_path / "e.aastudio", "--model", "rule", "--qa-file", qa,
            "--video-root", CLIPS, "--quiet", "--csv", tmp_path / "r.csv", "--md", tmp_path / "r.md")
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    tasks = [row["sub_task"] for row in rows]
    assert sorted(tasks[:len(hostile)]) == sorted("'" + t for t in hostile)
    cells = [v for row in rows for v in row.values()]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "=HYPERLINK" in (tmp_path / "r.md").read_text()


def test_eval_cli_with_a_model_that_cannot_load(project_file, tmp_path):
    r = cli("eval", project_file, "--model", tmp_path / "no_such_model", "--quiet")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    from models.store import Repository
    repo = Repository(project_file)
    assert repo.eval_runs() == []
    repo.close()


def test_proxy_training_layouts_chosen_on_the_command_line(project_file, tmp_path):
    from tests.models.trainer_layouts import check_sharegpt, check_swift

    out = tmp_path / "proxy"
    r = cli("export", project_file, "--format", "proxy-training", "--out", out,
            "--layout", "swift,sharegpt")
    assert r.returncode == 0, r.stderr
    dirs = {p.name for p in out.iterdir() if p.is_dir()}
    assert {"sharegpt", "swift"} <= dirs and not dirs & {"llava", "messages"}
    assert len(check_sharegpt(out)["actionart_synth_qa"]) == len(check_swift(out)["synth_qa"]) == 4
    bad = one_error_line(cli("export", project_file, "--format", "proxy-training", "--out",
                             tmp_path / "b", "--layout", "sharegpt,axolotl"))
    assert "'axolotl'" in bad and "known: llava, messages, sharegpt, swift" in bad
    other = one_error_line(cli("export", project_file, "--format", "jsonl", "--out",
                               tmp_path / "j", "--layout", "swift"))
    assert "--layout applies to the proxy-training format only" in other
    assert not (tmp_path / "b").exists() and not (tmp_path / "j").exists()
