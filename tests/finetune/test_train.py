"""The LoRA trainer on a real tiny checkpoint: progress through the JobContext, cancel then
resume along the same loss trajectory, a save interrupted before its rename leaves the
previous checkpoint valid, the adapter files and card, refusals."""
from __future__ import annotations

import json

import pytest

from models.errors import Cancelled
from models.finetune.config import FinetuneError, make_config
from models.finetune.data import build_dataset
from models.finetune.train import Trainer, finetune, is_out_of_memory, oom_message
from models.jobs import CancelToken, JobContext
from tests.finetune.items import VIDEO_ROOT, learn_items
from tests.vlm_fixtures import tiny_checkpoint

FAMILY = "qwen2_5_vl"


def small_config(**kw):
    base = dict(frames=2, max_pixels=56 * 56, learning_rate=5e-3, epochs=2, max_steps=6,
                rank=4, alpha=8.0, dropout=0.1, batch_size=2, checkpoint_every=2,
                device="cpu", seed=1)
    base.update(kw)
    return make_config(**base)


@pytest.fixture(scope="module")
def dataset():
    return build_dataset(learn_items(40)[::5], "test", VIDEO_ROOT, held_out=0.25, seed=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, dataset):
    """An uninterrupted run: its losses, reported progress and output folder."""
    out = tmp_path_factory.mktemp("ref") / "adapter"
    seen = []
    result = finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out,
                      JobContext(on_partial=seen.append))
    return result, seen, out


def test_adapter_card_and_progress(reference, dataset):
    result, seen, out = reference
    steps = [p for p in seen if isinstance(p, dict) and "loss" in p]
    assert [p["step"] for p in steps] == [1, 2, 3, 4, 5, 6] and result.steps == 6
    assert all(p["tokens_per_s"] > 0 and p["peak_memory"] > 0 and p["eta_s"] >= 0 for p in steps)
    assert steps[-1]["eta_s"] == 0 and [p["checkpoint"] for p in seen if "checkpoint" in p] == [2, 4]
    conf = json.loads((out / "adapter_config.json").read_text())
    assert conf["base_model_name_or_path"] == str(tiny_checkpoint(FAMILY).resolve())
    assert conf["r"] == 4 and "language_model" in conf["target_modules"]
    assert (out / "adapter_model.safetensors").stat().st_size > 0
    assert not (out / "checkpoints").exists()
    card = json.loads((out / "card.json").read_text())
    assert card["base_model"]["fingerprint"].startswith("sha256:")
    assert card["data"]["held_out_ids"] == sorted(e.qa_id for e in dataset.held_out)
    assert card["data"]["train_items"] == len(dataset.train)
    assert sum(c["train"] for c in card["data"]["tasks"].values()) == len(dataset.train)
    assert card["hyperparameters"]["rank"] == 4 and card["result"]["steps"] == 6
    assert card["result"]["final_loss"] == result.losses[-1]["loss"]
    assert result.held_out_loss is not None and card["result"]["held_out_loss"] == result.held_out_loss
    assert card["eval_settings"]["frames"] == 2
    md = (out / "ADAPTER_CARD.md").read_text()
    assert str(tiny_checkpoint(FAMILY).resolve()) in md and "Held-out clips:" in md
    lines = (out / "losses.jsonl").read_text().splitlines()
    assert [json.loads(x)["loss"] for x in lines] == [x["loss"] for x in result.losses]


def test_cancel_then_resume_follows_the_same_trajectory(reference, dataset, tmp_path):
    result, _, _ = reference
    out = tmp_path / "adapter"
    token = CancelToken()

    def stop_after_three(info):
        if isinstance(info, dict) and info.get("step") == 3:
            token.cancel()
    with pytest.raises(Cancelled):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out,
                 JobContext(on_partial=stop_after_three, token=token))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-0000002", "step-0000003"]
    assert not (out / "card.json").exists()
    with pytest.raises(FinetuneError, match="holds checkpoints of an earlier run"):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out)
    with pytest.raises(FinetuneError, match="the settings differ"):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(rank=8), out, resume=True)
    resumed = finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out, resume=True)
    assert resumed.resumed_from == 3
    assert [x["step"] for x in resumed.losses] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(resumed.losses, result.losses):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)
    with pytest.raises(FinetuneError, match="already finished"):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out, resume=True)


def test_a_save_killed_before_its_rename_leaves_the_previous_checkpoint(reference, dataset, tmp_path):
    result, _, _ = reference
    out = tmp_path / "adapter"
    trainer = Trainer(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out)

    def die_on_second(tmp):
        if tmp.name.startswith(".tmp-step-0000004"):
            raise KeyboardInterrupt("killed while saving")
    trainer.before_rename = die_on_second
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names[1] == "step-0000002" and names[0].startswith(".tmp-step-0000004")
    resumed = finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), out, resume=True)
    assert resumed.resumed_from == 2
    for a, b in zip(resumed.losses, result.losses):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)


def test_refusals(dataset, tmp_path):
    with pytest.raises(FinetuneError, match="No layer named nope_proj in the language model"):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(target_modules=["nope_proj"]),
                 tmp_path / "a")
    with pytest.raises(FinetuneError, match="No example could be prepared .*above max_length 20"):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(max_length=20), tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "mine.txt").write_text("x")
    with pytest.raises(FinetuneError, match="is not empty"):
        finetune(str(tiny_checkpoint(FAMILY)), dataset, small_config(), tmp_path / "c")


def test_out_of_memory_names_settings_that_fit():
    cfg = small_config(frames=8, max_pixels=448 * 448, batch_size=4)
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: "
                                         "can't allocate memory: you tried to allocate 1 bytes"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    text = oom_message(cfg, 3000, "cuda")
    assert "--frames 4" in text and "--max-pixels 50176" in text
    assert "--batch-size 1 --grad-accum 4" in text and "--max-length 1500" in text
