"""Video collator: one example -> the exact inputs evaluation feeds the model, plus the
answer; a batch -> padded tensors with labels on the answer tokens only.

The prompt part is ``models.evaluate.build_request`` (frame sampling, MCQ prompt) through
``models.vlm.inputs.processor_inputs`` (chat template with the generation prompt, the
family's video/image processor). The answer's tokens are what the chat template renders
after that prompt for an assistant turn holding the target, cut after the end-of-turn
token (the model learns to stop). Labels are -100 everywhere else.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

from .config import FinetuneError
from .data import Example

IGNORE = -100
# per-token tensors and their padding value (labels and input ids handled apart)
TOKEN_PAD = {"attention_mask": 0, "mm_token_type_ids": 0, "token_type_ids": 0}


class TooLong(FinetuneError):
    """An example is longer than the run's ``max_length``."""


def answer_ids(processor, chat: list, prompt_text: str, target: str, end_ids: set) -> list[int]:
    """Token ids of the assistant's turn after ``prompt_text``: the target and the
    end-of-turn token, as the chat template writes them."""
    tok = getattr(processor, "tokenizer", processor)
    turn = [{"role": "assistant", "content": [{"type": "text", "text": target}]}]
    try:
        full = processor.apply_chat_template(chat + turn, add_generation_prompt=False,
                                             tokenize=False)
    except Exception:  # noqa: BLE001 (a template that cannot render an assistant turn)
        full = ""
    suffix = full[len(prompt_text):] if full.startswith(prompt_text) and target in full[len(prompt_text):] \
        else target
    ids = list(tok(suffix, add_special_tokens=False)["input_ids"])
    for k, i in enumerate(ids):
        if i in end_ids:
            return ids[:k + 1]
    eos = tok.eos_token_id
    if eos is None:
        raise FinetuneError("The checkpoint's tokenizer names no end-of-sequence token")
    return ids + [int(eos)]


def end_of_turn_ids(processor, model) -> set:
    tok = getattr(processor, "tokenizer", processor)
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    gen = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(gen if isinstance(gen, (list, tuple)) else [gen] if gen is not None else [])
    return {int(i) for i in ids}


class VideoCollator:
    """Builds (and keeps, up to ``cache_bytes``) each example's tensors on the CPU; calling
    it with a list of examples returns the padded batch."""

    def __init__(self, processor, family, model, settings, video_root: Optional[str],
                 max_length: int = 4096, cache_bytes: int = 0) -> None:
        self.processor, self.family, self.settings = processor, family, settings
        self.video_root, self.max_length, self.cache_bytes = video_root, max_length, cache_bytes
        self._dtype = getattr(model, "dtype", None)
        self.end_ids = end_of_turn_ids(processor, model)
        tok = getattr(processor, "tokenizer", processor)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self._cache: dict = {}
        self._cached_bytes = 0

    def features(self, ex: Example) -> dict:
        """The example's tensors (batch of one, on the CPU): the evaluation inputs with the
        answer appended, and ``labels``."""
        hit = self._cache.get(ex.qa_id)
        if hit is not None:
            return hit
        feats = self._build(ex)
        size = sum(v.numel() * v.element_size() for v in feats.values() if hasattr(v, "numel"))
        if self._cached_bytes + size <= self.cache_bytes:
            self._cache[ex.qa_id] = feats
            self._cached_bytes += size
        return feats

    def _build(self, ex: Example) -> dict:
        import torch  # noqa: PLC0415

        from ..evaluate import build_request  # noqa: PLC0415
        from ..vlm.inputs import chat_with_media, processor_inputs, use_video  # noqa: PLC0415

        request = build_request(ex.record, self.settings, self.video_root)
        holder = SimpleNamespace(processor=self.processor, family=self.family,
                                 model=SimpleNamespace(device=torch.device("cpu"), dtype=self._dtype))
        feats = processor_inputs(holder, request)
        chat = chat_with_media(request, use_video(self.family, request))
        prompt_text = self.processor.apply_chat_template(chat, add_generation_prompt=True,
                                                         tokenize=False)
        answer = answer_ids(self.processor, chat, prompt_text, ex.target, self.end_ids)
        ids = feats["input_ids"]
        n, extra = ids.shape[1], len(answer)
        if n + extra > self.max_length:
            raise TooLong(f"Item {ex.qa_id} needs {n + extra} tokens, above max_length "
                          f"{self.max_length}")
        add = torch.tensor([answer], dtype=ids.dtype)
        out = dict(feats)
        out["input_ids"] = torch.cat([ids, add], dim=1)
        out["labels"] = torch.cat([torch.full_like(ids, IGNORE), add], dim=1)
        for key, value in feats.items():
            if key != "input_ids" and _per_token(value, n):
                fill = 1 if key == "attention_mask" else TOKEN_PAD.get(key, 0)
                out[key] = torch.cat([value, torch.full((1, extra), fill, dtype=value.dtype)], dim=1)
        return out

    def signature(self, ex: Example) -> tuple:
        """Examples with equal signatures can share a batch (same media kind and layout)."""
        feats = self.features(ex)
        n = feats["input_ids"].shape[1]
        return tuple(sorted((k, tuple(v.shape[2:]) if v.dim() >= 4 else ())
                            for k, v in feats.items() if hasattr(v, "dim") and not _per_token(v, n)))

    def __call__(self, examples: list) -> dict:
        return collate([self.features(ex) for ex in examples], self.pad_id)


def _per_token(value, n: int) -> bool:
    return hasattr(value, "dim") and value.dim() == 2 and value.shape[0] == 1 and value.shape[1] == n


def collate(items: list, pad_id: int) -> dict:
    """Right-pad the per-token tensors of batch-of-one feature dicts and join the media
    tensors along their first dimension (padding a count dimension, e.g. images per
    example, with zeros)."""
    import torch  # noqa: PLC0415

    lengths = [f["input_ids"].shape[1] for f in items]
    width = max(lengths)
    keys = list(items[0])
    if any(list(f) != keys for f in items):
        raise FinetuneError("Examples of one batch carry different inputs (video and image "
                            "items mixed); use batch_size 1")
    out: dict = {}
    for key in keys:
        values = [f[key] for f in items]
        if not hasattr(values[0], "dim"):
            out[key] = values[0]
            continue
        if all(_per_token(v, n) for v, n in zip(values, lengths)):
            fill = pad_id if key == "input_ids" else IGNORE if key == "labels" else TOKEN_PAD.get(key, 0)
            out[key] = torch.cat([torch.nn.functional.pad(v, (0, width - v.shape[1]), value=fill)
                                  for v in values], dim=0)
            continue
        if values[0].dim() >= 3 and len({v.shape[1] for v in values}) > 1:
            most = max(v.shape[1] for v in values)
            values = [torch.cat([v, v.new_zeros((v.shape[0], most - v.shape[1], *v.shape[2:]))], 1)
                      for v in values]
        try:
            out[key] = torch.cat(values, dim=0)
        except RuntimeError:
            raise FinetuneError(f"Examples of one batch have '{key}' of different shapes "
                                f"({', '.join(str(tuple(v.shape)) for v in values)}); "
                                "use batch_size 1") from None
    return out
