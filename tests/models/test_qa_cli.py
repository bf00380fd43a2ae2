"""`synth-qa` and `import-captions` from the command line (in-process, real files)."""
from __future__ import annotations

import json

import pytest

from main import main
from models.store import Repository


@pytest.mark.slow
def test_synth_qa_without_poses_says_so_then_extracts(tmp_path, clip, capsys):
    proj = str(tmp_path / "p.aastudio")
    video = str(clip("street_pedestrians.mp4"))
    assert main(["synth-qa", video, "--project", proj]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--extract-poses" in err[0] and "Traceback" not in err[0]
    rc = main(["synth-qa", video, "--project", proj, "--extract-poses", "--seed", "2",
               "--per-clip", "5", "--json"])
    out = capsys.readouterr().out
    assert rc == 0 and '"clips": 1' in out
    repo = Repository(proj)
    n = repo.qa_count()
    repo.close()
    assert main(["synth-qa", video, "--project", proj, "--seed", "2", "--per-clip", "5"]) == 0
    assert "1 already done" in capsys.readouterr().out
    repo = Repository(proj)
    assert repo.qa_count() == n
    repo.close()


def test_synth_qa_bad_task_and_import_errors_are_one_line(tmp_path, clip, capsys):
    proj = str(tmp_path / "p.aastudio")
    assert main(["synth-qa", str(clip("street_pedestrians.mp4")), "--project", proj,
                 "--tasks", "body_part_pose,juggling"]) == 2
    assert "juggling" in capsys.readouterr().err
    bad = tmp_path / "c.json"
    bad.write_text('[{"video": "a.mp4", "text": "ok"},\n{"video": 3, "text": "no"}]', encoding="utf-8")
    assert main(["import-captions", str(bad), "--project", proj]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: c.json line 2: missing 'video'"
    good = tmp_path / "c.csv"
    good.write_text("video,text\na.mp4,first\nb.mp4,second\n", encoding="utf-8")
    assert main(["import-captions", str(good), "--project", proj]) == 0
    repo = Repository(proj)
    assert [c["text"] for c in repo.captions()] == ["first", "second"]
    repo.close()


@pytest.mark.slow
def test_synth_from_text_with_a_tiny_real_checkpoint_and_qa_check(tmp_path, capsys):
    pytest.importorskip("torch")
    from models.vlm.tiny import build_tiny_checkpoint

    proj = str(tmp_path / "p.aastudio")
    model = build_tiny_checkpoint("qwen2_5_vl", tmp_path / "tiny")
    assert main(["synth-qa", "cup.mp4", "--from-text", "--model", str(model),
                 "--project", proj]) == 2
    assert "import captions first" in capsys.readouterr().err
    caps = tmp_path / "c.csv"
    caps.write_text("video,text\ncup.mp4,A man lifts a cup and waves.\n", encoding="utf-8")
    assert main(["import-captions", str(caps), "--project", proj]) == 0
    assert main(["synth-qa", "cup.mp4", "--from-text", "--model", str(model), "--device", "cpu",
                 "--per-clip", "2", "--max-new-tokens", "16", "--project", proj]) == 0
    out = capsys.readouterr().out
    assert "from 1 model outputs" in out and "rejected 1 invalid outputs" in out
    assert main(["qa-check", "--project", proj, "--json"]) == 0
    assert '"items": 0' in capsys.readouterr().out


# -- damaged projects, read-only projects, the duplicate check ------------------------------
def _damaged_project(path, clip_path) -> None:
    """A project whose cached poses of ``clip_path`` and whose item q1 are damaged (q2 is fine)."""
    import numpy as np

    from models.pose.extract import DEFAULT_BACKEND, _settings
    from models.pose.track import PoseTrack
    from models.qa.record import QARecord

    repo = Repository(path)
    img = np.full((5, 33, 4), 0.5, dtype=np.float32)
    repo.save_track(repo.clip_hash(clip_path), PoseTrack(
        img, img, 25.0, 960, 540, DEFAULT_BACKEND, "", _settings(DEFAULT_BACKEND, None)))
    repo.add_qa_items([QARecord(q, "body_part_pose", clip_path.name, f"{q}?", ["a", "b"], 0)
                       for q in ("q1", "q2")])
    repo.set_qa_status(["q1", "q2"], "accepted")
    with repo.db.write() as conn:
        conn.execute("UPDATE pose_tracks SET data=?", (b"\x00garbage",))
        conn.execute("UPDATE qa_items SET options='[\"a\", ' WHERE qa_id='q1'")
    repo.close()


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    return err[0]


def test_damaged_project_content_is_one_error_line_per_command(tmp_path, clip, capsys):
    proj = str(tmp_path / "p.aastudio")
    video = clip("street_pedestrians.mp4")
    _damaged_project(proj, video)
    assert main(["describe", str(video), "--frame", "1", "--project", proj]) == 2
    line = _one_error(capsys)
    assert str(video) in line and "damaged" in line and "extract-poses" in line
    assert main(["qa-check", "--project", proj]) == 2
    assert "QA item q1 in the project is damaged: its options are not valid JSON" in \
        _one_error(capsys)
    assert main(["synth-qa", str(video), "--project", proj]) == 2
    assert "QA item q1" in _one_error(capsys)


def test_export_leaves_damaged_items_out_and_says_which(tmp_path, clip, capsys):
    proj = str(tmp_path / "p.aastudio")
    video = clip("street_pedestrians.mp4")
    _damaged_project(proj, video)
    out = tmp_path / "out"
    assert main(["export", proj, "--format", "jsonl", "--out", str(out), "--no-copy-videos",
                 "--video-root", str(video.parent)]) == 0
    err = capsys.readouterr().err
    assert "warning: QA item q1 in the project is damaged" in err and "left out" in err
    assert "Traceback" not in err
    text = "".join(p.read_text() for p in out.rglob("*.jsonl"))
    assert "q2" in text and "q1" not in text


def test_extract_poses_replaces_a_damaged_cached_track(tmp_path, clip, capsys):
    proj = str(tmp_path / "p.aastudio")
    video = clip("street_pedestrians.mp4")
    _damaged_project(proj, video)
    assert main(["extract-poses", str(video), "--project", proj, "--quiet"]) == 0
    assert "were damaged" in capsys.readouterr().err
    assert main(["describe", str(video), "--frame", "1", "--project", proj]) == 0


def test_read_only_project_serves_read_commands_and_refuses_writes(public_tmp, clip):
    from models.qa.record import QARecord
    from tests.conftest import run_unprivileged

    proj = public_tmp / "ro.aastudio"
    repo = Repository(proj)
    repo.add_qa_items([QARecord("q1", "body_part_pose", "street_pedestrians.mp4", "Q?",
                                ["a", "b"], 0)])
    repo.set_qa_status(["q1"], "accepted")
    repo.close()
    proj.chmod(0o444)
    caps = public_tmp / "c.csv"
    caps.write_text("video,text\na.mp4,x\n", encoding="utf-8")
    caps.chmod(0o644)
    before = proj.read_bytes()
    video = str(clip("street_pedestrians.mp4"))
    code = (
        "import sys, main\n"
        "def run(*a):\n"
        "    rc = main.main(list(a))\n"
        "    print('rc', a[0], rc, flush=True)\n"
        f"P = {str(proj)!r}\n"
        "run('qa-check', '--project', P)\n"
        f"run('export', P, '--format', 'jsonl', '--out', {str(public_tmp / 'out')!r},"
        " '--no-copy-videos', '--video-root', '/tmp')\n"
        f"run('info', {video!r}, '--project', P)\n"
        f"run('import-captions', {str(caps)!r}, '--project', P)\n")
    public_tmp.chmod(0o777)  # the export may write its folder; the project stays read-only
    res = run_unprivileged(code, cwd=public_tmp)
    assert "rc qa-check 0" in res.stdout and "1 items" in res.stdout, res.stdout + res.stderr
    assert "rc export 0" in res.stdout and "rc info 0" in res.stdout, res.stdout + res.stderr
    assert "rc import-captions 2" in res.stdout
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "read-only" in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert proj.read_bytes() == before


def test_duplicate_check_matches_the_pairwise_algorithm():
    from models.qa.checks import duplicates, quality_report
    from tests.models.qa_reference import duplicates_pairwise, generated_items

    kinds = set()
    for seed in range(12):
        for kw in ({}, {"videos": 3, "tasks": 2}, {"answers": 1}):
            items = generated_items(300, seed, **kw)
            expected = duplicates_pairwise(items)
            assert list(duplicates(items).items()) == list(expected.items()), (seed, kw)
            kinds |= {v.split(" of ")[0] for v in expected.values()}
    assert kinds == {"duplicate", "near-duplicate"}
    report = quality_report(generated_items(300, 1))
    assert report["flag_counts"]["near-duplicate"] > 0


def test_duplicate_check_edge_cases():
    from models.qa.checks import duplicates
    from models.qa.record import QARecord
    from tests.models.qa_reference import duplicates_pairwise

    words = [f"w{i}" for i in range(40)]
    qs = ["", "???", "12?", "a b c d e f g h i", "a b c d e f g h i j",  # 9 vs 10 words: J=0.9
          " ".join(words[:30]), " ".join(words[:27]), " ".join(words[1:31]),
          " ".join(words[:10]) + " x", "A B C D E F G H I J", "a b c d e f g h i j?"]
    items = [QARecord(f"q{i}", "t", "v.mp4", q, ["x", "y"], 0) for i, q in enumerate(qs * 2)]
    got = duplicates(items)
    assert list(got.items()) == list(duplicates_pairwise(items).items())
    assert got["q4"] == "near-duplicate of q3" and got["q9"] == "near-duplicate of q3"
    assert got["q1"] == "duplicate of q0" and got["q2"] == "near-duplicate of q0"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_import_captions_refuses_devices_and_fifos(tmp_path, capsys, kind):
    """A symlink to /dev/zero used to read without end, a FIFO to block forever."""
    import os

    path = tmp_path / "c.csv"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    assert main(["import-captions", str(path), "--project", str(tmp_path / "p.aastudio")]) == 2
    err = capsys.readouterr().err
    assert err == "error: c.csv: not a regular file (a folder, FIFO or device); nothing read\n"


def test_caption_jsonl_keeps_unicode_line_separators(tmp_path, capsys):
    path = tmp_path / "c.jsonl"
    text = "lifts\u2028the cup\u2029and\x85waves"
    path.write_text(json.dumps({"video": "a.mp4", "text": text}, ensure_ascii=False) + "\n"
                    + '{"video": "b.mp4", "text": "x", "start_s": 1e400}\n',
                    encoding="utf-8")
    proj = str(tmp_path / "p.aastudio")
    assert main(["import-captions", str(path), "--project", proj]) == 2
    assert capsys.readouterr().err == ("error: c.jsonl line 2: invalid JSON: number 1e400 is "
                                       "too large\n")
    path.write_text(json.dumps({"video": "a.mp4", "text": text}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    assert main(["import-captions", str(path), "--project", proj]) == 0
    repo = Repository(proj)
    assert [c["text"] for c in repo.captions()] == [text]
    repo.close()


def test_ask_refuses_an_answer_outside_the_options(tmp_path, clip, capsys):
    """Checked before any model is looked up or loaded (the model path does not exist)."""
    base = ["ask", str(clip("arm_wrestling.mp4")), "--model", str(tmp_path / "no-model"),
            "--template", "mcq_letter", "--project", str(tmp_path / "p.aastudio"),
            "Which arm is raised?"]
    args = base + ["--options", "left arm|right arm"]
    assert main(args + ["--answer", "7"]) == 2
    assert capsys.readouterr().err == ("error: The right answer must be an option index in 0..1 "
                                       "(there are 2 options), got 7\n")
    assert main(base + ["--answer", "0"]) == 2
    assert "needs the options" in capsys.readouterr().err
    assert main(args + ["--answer", "-1"]) == 2
    assert "0..1" in capsys.readouterr().err


def test_import_errors_are_one_line_naming_record_and_field(tmp_path, capsys):
    from tests.models.export_samples import sample_records

    path = tmp_path / "qa.jsonl"
    rows = [r.to_dict() for r in sample_records()]
    rows[1]["options"] = [str(i) for i in range(100)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["import", str(path), "--project", str(tmp_path / "p.aastudio")]) == 2
    assert capsys.readouterr().err == ("error: qa.jsonl: record 2 (line 2): field 'options' must "
                                       "hold 2-10 options, got 100\n")
