"""`ask`, `compare` and `models` commands, run in-process through cli.run_cli."""
from __future__ import annotations

import json

import pytest

from cli import run_cli
from models.store import Repository
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401


@pytest.fixture
def proj(tmp_path):
    return str(tmp_path / "p.aastudio")


def test_ask_streams_answer_and_timings(clip, tiny_ckpt, proj, capsys):
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", str(tiny_ckpt("qwen2_5_vl")),
                  "--frames", "8", "--max-new-tokens", "6", "--device", "cpu",
                  "--project", proj, "What are they doing?"])
    out, err = capsys.readouterr()
    assert rc == 0 and out.strip()
    assert "[frames [17, 52, 87, 122, 157, 192, 227, 262]] load" in err
    assert "TTFT" in err and "tok/s" in err and "prompt" in err


def test_ask_frame_pair_json_saved(clip, tiny_ckpt, proj, capsys):
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", str(tiny_ckpt("smolvlm")),
                  "--a", "10", "--b", "200", "--template", "frame_difference", "--json", "--save",
                  "--max-new-tokens", "4", "--seed", "3", "--project", proj])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["frame_indices"] == [10, 200] and data["id"]
    saved = Repository(proj).answer(data["id"])
    assert saved["template_id"] == "frame_difference" and saved["seed"] == 3
    assert saved["answer"] == data["answer"] and saved["backend"] == "transformers"


def test_compare_json_marks_mcq(clip, tiny_ckpt, proj, capsys):
    rc = run_cli(["compare", str(clip("arm_wrestling.mp4")),
                  "--model", str(tiny_ckpt("internvl")), "--model", str(tiny_ckpt("llava_onevision")),
                  "--template", "mcq_letter", "--options", "left arm|right arm", "--answer", "0",
                  "--frames", "4", "--max-new-tokens", "3", "--json", "--save", "--project", proj,
                  "Which arm is raised?"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(data["answers"]) == 2 and data["comparison_id"]
    for a in data["answers"]:
        assert a["frame_indices"] == data["frame_indices"] and a["status"] == "ok"
        assert a["correct"] in (True, False) or a["chosen_index"] is None
    assert len(Repository(proj).comparison(data["comparison_id"])["answers"]) == 2


@pytest.mark.parametrize("extra,msg", [
    (["--start", "500", "--end", "600", "why?"], "No frames in the chosen interval 500..600"),
    (["   "], "The question is empty"),
    (["--frames", "0", "why?"], "--frames must be at least 1 (got 0)"),
    (["--frames", "-2", "why?"], "--frames must be at least 1 (got -2)"),
    (["--max-pixels", "-5", "why?"], "--max-pixels must be positive"),
])
def test_bad_input_one_line_error(clip, tiny_ckpt, proj, capsys, extra, msg):
    model = str(tiny_ckpt("smolvlm"))
    capsys.readouterr()                  # building the tiny checkpoint may print progress
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", model,
                  "--project", proj, *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and msg in err and len(err.splitlines()) == 1


def test_ask_not_a_checkpoint(clip, tmp_path, proj, capsys):
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", str(tmp_path),
                  "--project", proj, "hi"])
    assert rc == 2 and "is not a model checkpoint" in capsys.readouterr().err


def test_models_lists_checkpoints_endpoints_templates(tiny_ckpt, proj, capsys, tmp_path,
                                                      monkeypatch):
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    folder = tiny_ckpt("qwen3_vl").parent
    assert run_cli(["models", "--add-folder", str(folder), "--add-endpoint", "lab",
                    "http://127.0.0.1:9/v1", "--endpoint-model", "m", "--project", proj,
                    "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    fams = {e["family"] for e in data["checkpoints"] if e["runnable"]}
    assert {"qwen3_vl", "smolvlm"} <= fams
    assert data["endpoints"][0]["name"] == "lab" and "mcq_letter" in data["templates"]
    assert run_cli(["models", "--remove-endpoint", "lab", "--project", proj]) == 0
    out = capsys.readouterr().out
    assert "runnable" in out and "endpoint:lab" not in out


def test_models_lists_old_endpoint_rows_without_credentials(proj, capsys, tmp_path,
                                                             monkeypatch):
    """A row saved before credentials were refused is still listed redacted."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    repo = Repository(proj)
    with repo.db.write() as conn:
        conn.execute("INSERT INTO endpoints(name, base_url, model, api_key_env) VALUES "
                     "('old', 'http://bob:pw-777@10.1.1.1/v1?key=k-888', 'm', '')")
    for extra in ([], ["--json"]):
        assert run_cli(["models", "--project", proj, *extra]) == 0
        out = capsys.readouterr().out
        assert "10.1.1.1/v1" in out and "pw-777" not in out and "k-888" not in out
