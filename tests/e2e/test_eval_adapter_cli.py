"""Base vs tuned through the real evaluation path: a tiny Qwen2.5-VL base and a tiny PEFT
adapter on it, a project with accepted items on a real clip, `main.py eval --model BASE
--model ADAPTER --compare --split heldout --general-qa-file MVBENCH` in a subprocess."""
from __future__ import annotations

import json
import shutil

import pytest

from models.store import Repository
from models.video import probe
from tests.adapter_fixtures import always_letter_adapter
from tests.conftest import CLIPS
from tests.e2e.test_export_eval_cli import cli, one_error_line
from tests.models.test_evaluate import synth_records
from tests.vlm_fixtures import tiny_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tuned")
    repo = Repository(tmp / "p.aastudio")
    repo.upsert_clip(probe(CLIPS / "arm_wrestling.mp4"))
    recs = synth_records()[:8]
    for r in recs:
        r.review.status = "accepted"
    repo.add_qa_items(recs)
    repo.close()
    base = tiny_checkpoint("qwen2_5_vl")
    adapter = always_letter_adapter(base, tmp / "lora")
    held = [r.qa_id for r in recs[3:7]]        # two of them: A is right
    (adapter / "card.json").write_text(json.dumps({"held_out_ids": held + ["not-in-project"]}))
    general = tmp / "general"
    general.mkdir()
    shutil.copy(CLIPS / "arm_wrestling.mp4", general / "arm_wrestling.mp4")
    (general / "action_count.json").write_text(json.dumps([
        {"video": "arm_wrestling.mp4", "question": "How many people are there?",
         "candidates": ["two", "one", "three"], "answer": "two"},
        {"video": "arm_wrestling.mp4", "question": "Are they standing?",
         "candidates": ["yes", "no"], "answer": "no"}]))
    return tmp, base, adapter, recs, held, general / "action_count.json"


def test_base_vs_adapter_report_per_sub_task_with_flips(setup):
    tmp, base, adapter, recs, held, general = setup
    r = cli("eval", tmp / "p.aastudio", "--model", base, "--model", adapter, "--compare",
            "--split", "heldout", "--general-qa-file", general, "--frames", "2",
            "--max-new-tokens", "1", "--device", "cpu", "--quiet", "--resamples", "300",
            "--json", tmp / "c.json", "--md", tmp / "c.md")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp / "c.json").read_text())
    held_sec, gen_sec = data["sections"]
    assert held_sec["section"] == "held-out split (4 of 5 listed items)"
    assert gen_sec["section"] == "general set action_count.json"
    assert held_sec["model_b"].endswith("qwen2_5_vl + lora") and held_sec["overall"]["n"] == 4
    by_id = {x.qa_id: x for x in recs}
    assert [row["sub_task"] for row in held_sec["tasks"]] == sorted({by_id[q].task for q in held})
    assert sum(row["n"] for row in held_sec["tasks"]) == 4
    assert [row["sub_task"] for row in gen_sec["tasks"]] == ["action_count"]
    assert gen_sec["overall"]["n"] == 2 and gen_sec["bootstrap"]["resamples"] == 300
    # the flip lists are exactly what the stored answers say
    repo = Repository(tmp / "p.aastudio", allow_read_only=True)
    try:
        raw_differs, flips = False, []
        for sec in (held_sec, gen_sec):
            a, b = repo.eval_answers(sec["run_a"]), repo.eval_answers(sec["run_b"])
            assert sec["run_a"] != sec["run_b"] and repo.eval_run(sec["run_b"])["model"] == str(adapter)
            up = sorted(q for q in a if b[q]["correct"] and not a[q]["correct"])
            down = sorted(q for q in a if a[q]["correct"] and not b[q]["correct"])
            assert [x["qa_id"] for x in sec["became_correct"]] == up
            assert [x["qa_id"] for x in sec["became_wrong"]] == down
            tasks = {x.qa_id: x.task for x in repo.eval_run_records(sec["run_b"])}
            for row in sec["tasks"]:
                assert row["became_correct"] + row["became_wrong"] == sum(
                    1 for q in up + down if tasks[q] == row["sub_task"])
            raw_differs |= any(a[q]["raw"] != b[q]["raw"] for q in a)
            # the tuned model says "A" to everything: right exactly where A is right
            truth = {x.qa_id: x.answer_index for x in repo.eval_run_records(sec["run_b"])}
            assert {q for q in b if b[q]["correct"]} == {q for q in b if truth[q] == 0}
            assert all(b[q]["raw"] == "A" for q in b)
            flips.append((len(up), len(down)))
        assert raw_differs and sum(u for u, _ in flips) > 0   # the adapter changes answers
    finally:
        repo.close()
    md = (tmp / "c.md").read_text()
    assert md == r.stdout and "## held-out split (4 of 5 listed items)" in md
    assert "## general set action_count.json" in md and "right → wrong (" in md
    for q in held_sec["became_wrong"]:
        assert f"- {q['qa_id']} [{q['task']}] {q['question']}" in md
    # the same comparison reopened from the stored runs
    past = cli("eval", tmp / "p.aastudio", "--compare", held_sec["run_a"], held_sec["run_b"],
               "--resamples", "300")
    assert past.returncode == 0 and "| overall (micro) | 4 |" in past.stdout


def test_compare_refusals_are_one_error_line(setup, tmp_path):
    tmp, base, adapter, recs, held, general = setup
    proj = tmp / "p.aastudio"
    common = ["--device", "cpu", "--quiet"]
    msg = one_error_line(cli("eval", proj, "--model", base, "--model", f"{base}x", "--compare",
                             "--split", "heldout", *common))
    assert "no --model is an adapter" in msg
    msg = one_error_line(cli("eval", proj, "--model", base, "--compare", *common))
    assert "two models" in msg
    msg = one_error_line(cli("eval", proj, "--model", base, "--split", "heldout", *common))
    assert "go with --compare" in msg
    ids = tmp_path / "ids.txt"
    ids.write_text("nothing-here\n")
    msg = one_error_line(cli("eval", proj, "--model", base, "--model", adapter, "--compare",
                             "--split", ids, *common))
    assert "None of the 1 held-out item ids" in msg
    orphan = shutil.copytree(adapter, tmp_path / "orphan")
    cfg = json.loads((orphan / "adapter_config.json").read_text())
    (orphan / "adapter_config.json").write_text(json.dumps(
        dict(cfg, base_model_name_or_path=str(tmp_path / "gone"))))
    msg = one_error_line(cli("eval", proj, "--model", base, "--model", orphan, "--compare",
                             *common))
    assert "orphan" in msg and "gone" in msg and "missing" in msg


def _with_card(adapter, dest, **settings):
    """A copy of ``adapter`` whose card.json records the evaluation settings it was trained
    with (as ``finetune`` writes them)."""
    out = shutil.copytree(adapter, dest)
    card = {"held_out_ids": [], "eval_settings": dict(
        {"frames": 8, "max_pixels": 448 * 448, "max_new_tokens": 16, "as_video": True,
         "template": "mcq-letter-v1"}, **settings)}
    (out / "card.json").write_text(json.dumps(card))
    return out


def test_adapter_card_settings_are_the_default_and_mismatches_are_refused_or_stated(setup, tmp_path):
    tmp, base, adapter, recs, held, general = setup
    proj = tmp / "p.aastudio"
    common = ["--device", "cpu", "--quiet", "--max-new-tokens", "1", "--resamples", "50",
              "--tasks", recs[0].task]
    two = _with_card(adapter, tmp_path / "two", frames=2, max_pixels=56 * 56,
                     template="mcq-letter-text-v1")
    # no flags: both models are asked with the adapter's recorded frames, pixels, template
    r = cli("eval", proj, "--model", base, "--model", two, "--compare", "--json",
            tmp_path / "a.json", *common)
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "a.json").read_text())
    assert (data["settings"]["frames"], data["settings"]["max_pixels"],
            data["settings"]["template"]) == (2, 56 * 56, "mcq-letter-text-v1")
    assert "frames 2 from two/card.json" in r.stdout.splitlines()[0]
    repo = Repository(proj, allow_read_only=True)
    try:
        sec = data["sections"][0]
        for run in (sec["run_a"], sec["run_b"]):
            stored = repo.eval_run(run)["settings"]
            assert (stored["frames"], stored["max_pixels"], stored["template"]) == (
                2, 56 * 56, "mcq-letter-text-v1")
    finally:
        repo.close()
    # two adapters trained on other inputs: refused unless the setting is given, then stated
    three = _with_card(adapter, tmp_path / "three", frames=3, max_pixels=56 * 56,
                       template="mcq-letter-text-v1")
    msg = one_error_line(cli("eval", proj, "--model", two, "--model", three, "--compare",
                             *common))
    assert "different frames" in msg and "two: 2" in msg and "three: 3" in msg
    assert "--frames" in msg
    r = cli("eval", proj, "--model", two, "--model", three, "--compare", "--frames", "3",
            "--json", tmp_path / "b.json", *common)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "b.json").read_text())["settings"]["frames"] == 3
    first = r.stdout.splitlines()[0]
    assert "--frames 3 differs from the 2 adapter two was trained with" in first
    assert "adapter three" not in first           # three's own frames were used
    # a given max pixels that differs from the card is used and stated
    r = cli("eval", proj, "--model", base, "--model", two, "--compare", "--max-pixels", "4096",
            "--json", tmp_path / "c.json", *common)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "c.json").read_text())["settings"]["max_pixels"] == 4096
    assert "--max-pixels 4096 differs from the 3136 adapter two was trained with" in r.stdout
