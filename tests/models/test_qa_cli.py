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
