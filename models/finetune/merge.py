"""Fold a trained adapter into its base: a full local checkpoint any backend can load.

``merge_adapter(adapter_dir, out_dir)`` loads the base named by the adapter's
``adapter_config.json`` the way the local backend loads checkpoints, applies the LoRA
weights (PEFT ``merge_and_unload``) and saves model, processor and generation config
(safetensors) into ``out_dir``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import FinetuneConfig, FinetuneError


def adapter_base(adapter_dir) -> str:
    path = Path(adapter_dir) / "adapter_config.json"
    try:
        conf = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FinetuneError(f"{path} cannot be read ({exc})") from None
    base = conf.get("base_model_name_or_path") if isinstance(conf, dict) else None
    if not isinstance(base, str) or not base:
        raise FinetuneError(f"{path} names no base model")
    return base


def merge_adapter(adapter_dir, out_dir, device: str = "cpu") -> Path:
    from peft import PeftModel  # noqa: PLC0415

    from .train import load_base  # noqa: PLC0415

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FinetuneError(f"The folder {out} is not empty")
    backend = load_base(adapter_base(adapter_dir), FinetuneConfig(device=device, dtype="fp32"))
    merged = PeftModel.from_pretrained(backend.model, str(adapter_dir)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    backend.processor.save_pretrained(str(out))
    if getattr(merged, "generation_config", None) is not None:
        merged.generation_config.save_pretrained(str(out))
    backend.unload()
    return out
