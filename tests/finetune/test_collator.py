"""The video collator on each tiny family: the prompt part is exactly what evaluation feeds
the model, and labels are -100 everywhere except the answer and the end-of-turn token."""
from __future__ import annotations

import pytest

from models.answer_parse import parse_choice
from models.evaluate import EvalSettings
from models.finetune.collator import IGNORE, VideoCollator
from models.finetune.data import build_dataset
from tests.finetune.items import VIDEO_ROOT, learn_items
from tests.vlm_fixtures import tiny_checkpoint

# every tiny family whose processor builds training inputs on this CPU
FAMILIES = ("qwen2_5_vl", "qwen3_vl", "qwen2_vl", "smolvlm", "llava_onevision", "internvl")
SETTINGS = EvalSettings(frames=2, max_pixels=56 * 56)


@pytest.fixture(scope="module")
def examples():
    recs = learn_items(40)
    video = [r for r in recs if r.frame_a is None][:2]      # uniform frames: a video input
    marked = [r for r in recs if r.frame_a is not None][:2]  # one or two marked frames
    return build_dataset(video + marked, "test", VIDEO_ROOT).train


@pytest.mark.parametrize("family", FAMILIES)
def test_only_the_answer_tokens_carry_labels(family, examples):
    from models.evaluate import build_request
    from models.vlm.local import TransformersBackend

    backend = TransformersBackend(str(tiny_checkpoint(family)), device="cpu")
    backend.load()
    tok = backend.processor.tokenizer
    coll = VideoCollator(backend.processor, backend.family, backend.model, SETTINGS, VIDEO_ROOT)
    for pair in (examples[:2], examples[2:]):
        batch = coll(pair)
        labels, ids = batch["labels"], batch["input_ids"]
        assert labels.shape == ids.shape == batch["attention_mask"].shape
        for row, ex in enumerate(pair):
            # the prompt is token for token the evaluation's input
            prompt = backend.prepare(build_request(ex.record, SETTINGS, VIDEO_ROOT))["input_ids"][0]
            n = len(prompt)
            assert ids[row, :n].tolist() == prompt.tolist()
            marked = (labels[row] != IGNORE).nonzero().flatten().tolist()
            answer = list(range(n, n + len(marked)))
            assert marked == answer and len(marked) >= 2
            # the target as the chat template writes an assistant turn (SmolVLM2: " B")
            text = tok.decode(labels[row, marked])
            assert text.lstrip() == ex.target + tok.eos_token
            answer_text = tok.decode(labels[row, marked[:-1]])
            assert parse_choice(answer_text, ex.record.options) == ex.record.answer_index
            assert labels[row, marked].tolist() == ids[row, marked].tolist()
            assert batch["attention_mask"][row, :n + len(marked)].all()
            assert not batch["attention_mask"][row, n + len(marked):].any()
        backend.model.train()
        loss = backend.model(**batch).loss
        assert loss.isfinite()
    backend.unload()
