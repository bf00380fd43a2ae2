"""The falsifiable test of the fine-tuning loop: a tiny random Qwen2.5-VL learns 40 real
synthesized QA items, and the gain shows THROUGH THE APP'S OWN EVALUATION.

The base is the tests' tiny qwen2_5_vl checkpoint with its output layer scaled up
(``sharp_tiny_checkpoint``: still random). It is fine-tuned once per module with
``finetune`` on 40 items placed on four real clips (2 frames, 56x56 pixels); the trained
ADAPTER FOLDER is then evaluated as a model, exactly like any checkpoint (same frame
sampling, MCQ prompt and answer parser): merged into the base (the default), kept as
separate LoRA layers (``merge_adapter=False``), and, for reference, the full checkpoint
``merge_adapter`` writes. The same adapter goes through ``main.py eval --compare`` (base vs
tuned, per sub-task difference with its interval; frames and pixels come from the
adapter's card.json) and ``main.py compare`` (one clip, one question, both models on the
same frames).

Measured on 2 shared CPU cores (seed 0, lr 2e-3, 60 epochs, rank 8, batch 1): base 0/40
(0 %: every answer unparseable; chance is about 30 %), tuned 38/40 (95 %) merged and
unmerged alike; training loss 7.67 -> 0.16 (last epoch mean); training about 12-60 s
depending on load, each evaluation of both models a few seconds.
"""
from __future__ import annotations

import json
import time

import pytest

from cli import run_cli
from models.evaluate import (EvalSettings, build_request, evaluate_models, open_backend,
                             run_score)
from models.finetune.config import make_config
from models.finetune.data import build_dataset
from models.finetune.merge import merge_adapter
from models.finetune.train import finetune
from models.store import Repository
from models.video import probe
from models.vlm.specs import backend_for
from tests.finetune.items import CLIP_NAMES, VIDEO_ROOT, learn_items, sharp_tiny_checkpoint

RECIPE = dict(frames=2, max_pixels=56 * 56, learning_rate=2e-3, epochs=60, rank=8, alpha=16.0,
              dropout=0.0, batch_size=1, checkpoint_every=0, device="cpu", seed=0)
EVAL = EvalSettings(frames=2, max_pixels=56 * 56, max_new_tokens=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("learns")
    base = sharp_tiny_checkpoint("qwen2_5_vl", root / "base")
    records = learn_items(40)
    t0 = time.perf_counter()
    result = finetune(str(base), build_dataset(records, "test", VIDEO_ROOT), make_config(**RECIPE),
                      root / "adapter")
    train_s = time.perf_counter() - t0
    merged = merge_adapter(root / "adapter", root / "merged")
    return {"base": base, "adapter": root / "adapter", "merged": merged, "records": records,
            "result": result, "train_s": train_s, "root": root, "scores": {}}


def _scores(repo, runs) -> list:
    return [run_score(repo, r) for r in runs]


def test_accuracy_rises_from_chance_to_90_percent(trained, project, tmp_path):
    records, adapter = trained["records"], str(trained["adapter"])
    assert len(records) == 40
    t0 = time.perf_counter()
    # the adapter folder itself as the model (merged into the base on load, the default),
    # next to the base and the full checkpoint merge_adapter wrote
    runs = evaluate_models(
        project, [open_backend(str(trained["base"]), "cpu"), open_backend(f"local:{adapter}", "cpu"),
                  open_backend(str(trained["merged"]), "cpu")], records, EVAL, VIDEO_ROOT)
    base, tuned, full = _scores(project, runs)
    assert project.eval_run(runs[1])["model"] == f"local:{adapter}"
    # the same adapter kept as separate LoRA layers (its own project: same spec, other run)
    other = Repository(tmp_path / "unmerged.aastudio")
    try:
        backend = backend_for(adapter, None, device="cpu", merge_adapter=False)
        (run,) = evaluate_models(other, [backend], records, EVAL, VIDEO_ROOT)
        unmerged = run_score(other, run)
        assert backend.merge_adapter is False
        raw_merged = {q: a["raw"] for q, a in project.eval_answers(runs[1]).items()}
        raw_unmerged = {q: a["raw"] for q, a in other.eval_answers(run).items()}
    finally:
        other.close()
    result = trained["result"]
    print(f"\nbase {base.correct}/{base.n}, tuned adapter merged {tuned.correct}/{tuned.n}, "
          f"unmerged {unmerged.correct}/{unmerged.n}, full checkpoint {full.correct}/{full.n}; "
          f"loss {result.losses[0]['loss']:.3f} -> {result.train_loss:.3f} (last epoch); "
          f"train {trained['train_s']:.1f}s, eval {time.perf_counter() - t0:.1f}s")
    assert base.n == tuned.n == unmerged.n == full.n == 40
    assert base.overall <= 0.5
    for score in (tuned, unmerged, full):
        assert score.overall >= 0.9
    # merging changes only float rounding: the parsed answers agree on nearly every item
    same = sum(raw_merged[q] == raw_unmerged[q] for q in raw_merged)
    assert same >= 38, (same, raw_merged, raw_unmerged)
    assert result.train_loss < result.losses[0]["loss"] / 4


@pytest.fixture(scope="module")
def project_file(trained):
    """A project holding the 40 items (accepted) and the four clips they are placed on."""
    path = trained["root"] / "learn.aastudio"
    repo = Repository(path)
    try:
        for name in CLIP_NAMES:
            repo.upsert_clip(probe(f"{VIDEO_ROOT}/{name}"))
        repo.add_qa_items(trained["records"])
    finally:
        repo.close()
    return path


def test_compare_report_shows_the_gain_per_sub_task_with_an_interval(trained, project_file,
                                                                     capsys):
    out = trained["root"] / "compare.json"
    rc = run_cli(["eval", str(project_file), "--model", str(trained["base"]),
                  "--model", str(trained["adapter"]), "--compare", "--device", "cpu",
                  "--max-new-tokens", "4", "--resamples", "500", "--quiet",
                  "--json", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0, stdout
    data = json.loads(out.read_text())
    # no --frames / --max-pixels given: the adapter's training inputs were used
    assert (data["settings"]["frames"], data["settings"]["max_pixels"]) == (2, 56 * 56)
    (sec,) = data["sections"]
    assert sec["overall"]["n"] == 40
    tasks = {r.task for r in trained["records"]}
    rows = {row["sub_task"]: row for row in sec["tasks"]}
    assert set(rows) == tasks and len(tasks) >= 2
    print("\n" + stdout)
    for task, row in rows.items():
        assert row["difference"] > 0, (task, row)             # percentage points
        assert row["ci_low"] is not None and row["ci_low"] <= row["difference"] <= row["ci_high"]
    assert sec["overall"]["ci_low"] > 50              # the interval is far above zero
    assert len(sec["became_correct"]) >= 36 and not sec["became_wrong"]
    assert "## QA set of learn.aastudio" in stdout and "frames 2 from adapter/card.json" in stdout


def test_compare_models_answers_on_the_same_frames_and_the_tuned_answer_differs(trained,
                                                                              capsys):
    """`main.py compare` with the base and the adapter on one clip and one learned item:
    both are asked on the same sampled frames (the indices the evaluation samples for the
    item, marked as A/B) with the item's MCQ prompt, and their answers differ."""
    from models.answer_parse import build_mcq_prompt, parse_choice
    from models.evaluate import post_prompt

    rec = next(r for r in trained["records"] if r.frame_a is not None and r.frame_b is not None)
    req = build_request(rec, EVAL, VIDEO_ROOT)
    assert len(req.frame_indices) == 2
    prompt = build_mcq_prompt(rec.question, rec.options, post_prompt(EVAL.template))
    out = trained["root"] / "compare-models.aastudio"
    rc = run_cli(["compare", f"{VIDEO_ROOT}/{rec.video}", "--model", str(trained["base"]),
                  "--model", f"{trained['base']} + {trained['adapter']}",
                  "--a", str(req.frame_indices[0]), "--b", str(req.frame_indices[1]),
                  "--max-pixels", str(56 * 56), "--max-new-tokens", "4", "--device", "cpu",
                  "--json", "--save", "--project", str(out), prompt])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0, data
    base, tuned = data["answers"]
    assert data["frame_indices"] == req.frame_indices
    assert base["frame_indices"] == tuned["frame_indices"] == req.frame_indices
    assert tuned["label"].endswith("base + adapter")
    print(f"\nbase said {base['answer']!r}, tuned said {tuned['answer']!r}, right: "
          f"{'ABCDEFGH'[rec.answer_index]}")
    assert base["answer"] != tuned["answer"]
    assert parse_choice(tuned["answer"], rec.options) == rec.answer_index
    saved = Repository(out).comparison(data["comparison_id"])["answers"]
    assert [a["frame_indices"] for a in saved] == [req.frame_indices] * 2
