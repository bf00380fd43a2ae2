"""`synth-qa` and `import-captions` from the command line (in-process, real files)."""
from __future__ import annotations

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
