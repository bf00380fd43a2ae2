"""Tiny PEFT LoRA adapters on the tiny test checkpoints (real peft ``save_pretrained``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path


def make_adapter(base: Path, dest: Path, seed: int = 0, std: float = 0.5,
                 targets=("q_proj", "v_proj")) -> Path:
    """A LoRA adapter of ``base`` saved in ``dest``; its B matrices are random (PEFT starts
    them at zero), so the adapted model answers differently from the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32,
                                                        local_files_only=True)
    wrapped = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=list(targets)))
    with torch.no_grad():
        for name, p in wrapped.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, std)
    wrapped.save_pretrained(dest)
    return Path(dest)


def always_letter_adapter(base: Path, dest: Path, letter: str = "A") -> Path:
    """An adapter whose LoRA bias on ``lm_head`` makes the model answer ``letter`` to
    everything (the base answers noise): the items whose right option is that letter are
    exactly the ones it gets right. LoRA biases stay unmerged by default."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    token = AutoTokenizer.from_pretrained(base, local_files_only=True).convert_tokens_to_ids(letter)
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32,
                                                        local_files_only=True)
    wrapped = get_peft_model(model, LoraConfig(r=1, lora_alpha=1, target_modules=["lm_head"],
                                               lora_bias=True))
    with torch.no_grad():
        for name, p in wrapped.named_parameters():
            if "lora_B" in name:
                p.zero_()
                if name.endswith("bias"):
                    p[token] = 100.0
    wrapped.save_pretrained(dest)
    return Path(dest)


def resized_base(base: Path, dest: Path, hidden: int = 48) -> Path:
    """A checkpoint of the same family as ``base`` with another text hidden size."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    cfg = AutoConfig.from_pretrained(base, local_files_only=True)
    cfg.text_config.hidden_size = hidden
    cfg.vision_config.out_hidden_size = hidden
    torch.manual_seed(0)
    AutoModelForImageTextToText.from_config(cfg).save_pretrained(dest)
    for f in Path(base).iterdir():
        if f.name not in ("config.json", "model.safetensors") and f.is_file():
            shutil.copy(f, dest / f.name)
    return Path(dest)


def set_base(adapter: Path, base: str) -> Path:
    cfg_path = adapter / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = base
    cfg_path.write_text(json.dumps(cfg))
    return adapter
