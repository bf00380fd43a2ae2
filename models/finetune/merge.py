"""Fold a trained adapter into its base: a full local checkpoint any backend can load.

``merge_adapter(adapter_dir, out_dir)`` loads the base named by the adapter's
``adapter_config.json`` the way the local backend loads checkpoints, applies the LoRA
weights (PEFT ``merge_and_unload``) and saves model, processor and generation config
(safetensors) into ``out_dir``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .config import FinetuneConfig, FinetuneError


def adapter_base(adapter_dir) -> str:
    """The base checkpoint an adapter folder names (its ``adapter_config.json``, read with a
    bound)."""
    from ..vlm.adapter import read_adapter_config  # noqa: PLC0415

    path = Path(adapter_dir) / "adapter_config.json"
    base = read_adapter_config(adapter_dir).get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise FinetuneError(f"{path} names no base model")
    return base


def check_merge_target(out_dir) -> Path:
    """The folder a merged checkpoint may be written to: absent, or an empty folder."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FinetuneError(f"{out} is a file, not a folder for the merged checkpoint")
    if out.is_dir() and any(out.iterdir()):
        raise FinetuneError(f"The folder {out} is not empty")
    return out


def merge_adapter(adapter_dir, out_dir, device: str = "cpu") -> Path:
    from peft import PeftModel  # noqa: PLC0415

    from .train import load_base  # noqa: PLC0415

    out = check_merge_target(out_dir)
    backend = load_base(adapter_base(adapter_dir), FinetuneConfig(device=device, dtype="fp32"))
    merged = PeftModel.from_pretrained(backend.model, str(adapter_dir)).merge_and_unload()
    # written beside the target, then renamed into place: a failure leaves no half checkpoint
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        backend.processor.save_pretrained(str(tmp))
        if getattr(merged, "generation_config", None) is not None:
            merged.generation_config.save_pretrained(str(tmp))
        if out.exists():
            out.rmdir()                  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        backend.unload()
    return out
