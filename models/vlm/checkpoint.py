"""Inspect a checkpoint folder without loading weights: family, parameter count (from the
safetensors headers), whether this app can run it and why not; memory estimates.

Used by discovery (never raises) and by the local backend before loading (raises the
``reason`` as a one-line ``VLMError``).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .registry import GENERIC, Family, family_for
from .types import NotEnoughMemory, VLMError

BYTES_PER_PARAM = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                     "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
SAFE_WEIGHTS = "model.safetensors"                  # what transformers loads, one file ...
SAFE_INDEX = "model.safetensors.index.json"         # ... or the shards this index names
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
MAX_HEADER_BYTES = 100 * 1024 ** 2                  # far above any real checkpoint's header
MAX_INDEX_BYTES = 50 * 1024 ** 2
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


@dataclass
class CheckpointInfo:
    path: str
    model_type: str = ""
    family: Optional[Family] = None
    params: Optional[int] = None
    revision: str = ""
    runnable: bool = False
    reason: str = ""
    needs_remote_code: bool = False
    config: dict = field(default_factory=dict, repr=False)

    @property
    def family_label(self) -> str:
        return self.family.label if self.family else (self.model_type or "?")

    def as_dict(self) -> dict:
        return {"path": self.path, "model_type": self.model_type,
                "family": self.family.id if self.family else None, "params": self.params,
                "revision": self.revision, "runnable": self.runnable, "reason": self.reason}


def known_model_types() -> set[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES  # noqa: PLC0415

    return set(CONFIG_MAPPING_NAMES)


def image_text_model_types() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES  # noqa: PLC0415

    return set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)


def _read_config(folder: Path) -> dict:
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise VLMError(f"{folder} is not a model checkpoint (no config.json)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VLMError(f"{cfg_path} cannot be read as JSON ({exc})") from None
    if not isinstance(cfg, dict) or not cfg.get("model_type"):
        raise VLMError(f"{cfg_path} has no model_type; not a transformers checkpoint")
    return cfg


def _revision(folder: Path) -> str:
    parts = folder.resolve().parts
    if len(parts) >= 2 and parts[-2] == "snapshots":
        return parts[-1]
    digest = hashlib.blake2b((folder / "config.json").read_bytes(), digest_size=6).hexdigest()
    return f"local-{digest}"


def _family(cfg: dict, trust_remote_code: bool) -> tuple[Optional[Family], str, bool]:
    """(family, reason if not runnable, needs remote code)."""
    model_type = cfg["model_type"]
    fam = family_for(model_type)
    if fam is not None:
        return fam, "", False
    known = known_model_types()
    if model_type not in known:
        if cfg.get("auto_map"):
            if trust_remote_code:
                return GENERIC, "", True
            return None, (f"Architecture '{model_type}' needs remote code from the checkpoint; "
                          "enable 'trust remote code' for this model only if you trust its "
                          "author"), True
        import transformers  # noqa: PLC0415

        return None, (f"Architecture '{model_type}' is not known to transformers "
                      f"{transformers.__version__}; upgrade transformers or pick another "
                      "model"), False
    if model_type in image_text_model_types():
        return GENERIC, "", False
    return None, f"'{model_type}' is not a vision-language model (it cannot take images)", False


def _files_reason(folder: Path) -> str:
    names = set(os.listdir(folder))
    if not names & set(PROCESSOR_FILES):
        return (f"{folder.name}: missing processor files ({' or '.join(PROCESSOR_FILES)}); "
                "the checkpoint is incomplete")
    if not names & set(TOKENIZER_FILES):
        return f"{folder.name}: missing tokenizer files ({', '.join(TOKENIZER_FILES)})"
    try:
        weight_files(folder)
    except VLMError as exc:
        return str(exc)
    return ""


def _pickle_note(folder: Path, names) -> str:
    pickles = sorted(n for n in names if n.lower().endswith(PICKLE_SUFFIXES))
    if not pickles:
        return ""
    kinds = ", ".join(sorted({Path(n).suffix.lower() for n in pickles}))
    return (f"weights are pickle files ({kinds}: {', '.join(pickles[:3])}"
            f"{', ...' if len(pickles) > 3 else ''}), which this app does not load for safety; "
            "convert them to safetensors")


def weight_files(folder) -> list[Path]:
    """The safetensors files transformers will load from ``folder`` (``model.safetensors``
    or the shards of ``model.safetensors.index.json``), each with a checked header.
    Raises ``VLMError`` saying why the folder's weights cannot be used: none, pickles only,
    a shard missing, or a file that is not valid safetensors (a decoy beside pickles)."""
    folder = Path(folder)
    names = set(os.listdir(folder))
    pickles = _pickle_note(folder, names)
    if SAFE_INDEX in names:
        shards = _index_shards(folder / SAFE_INDEX)
    elif SAFE_WEIGHTS in names:
        shards = [SAFE_WEIGHTS]
    elif pickles:
        raise VLMError(f"{folder.name}: {pickles}")
    elif any(n.endswith(".safetensors") for n in names):
        raise VLMError(f"{folder.name}: no {SAFE_WEIGHTS} (or {SAFE_INDEX}); the other "
                       ".safetensors files are not weights transformers would load")
    else:
        raise VLMError(f"{folder.name}: no weight files ({SAFE_WEIGHTS})")
    files = []
    for shard in shards:
        path = folder / shard
        try:
            if not path.is_file():
                raise ValueError("the file is missing")
            read_header(path)
        except (OSError, ValueError) as exc:
            why = f"{folder.name}: {shard} is not a valid safetensors file ({exc})"
            raise VLMError(why + (f"; besides, its {pickles}" if pickles else "")) from None
        files.append(path)
    return files


def _index_shards(index: Path) -> list[str]:
    try:
        if index.stat().st_size > MAX_INDEX_BYTES:
            raise ValueError("too large")
        data = json.loads(index.read_bytes())
        shards = sorted(set(data["weight_map"].values()))
    except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError):
        raise VLMError(f"{index.parent.name}: {index.name} is not a valid safetensors index") \
            from None
    bad = [s for s in shards if not isinstance(s, str) or not s or Path(s).name != s]
    if bad or not shards:
        raise VLMError(f"{index.parent.name}: {index.name} names no shard files in the folder "
                       f"({bad[0] if bad else 'none'!r})")
    return shards


def inspect_checkpoint(path, trust_remote_code: bool = False) -> CheckpointInfo:
    """Everything discovery shows about one folder; never raises for bad checkpoints."""
    folder = Path(path)
    info = CheckpointInfo(path=str(folder))
    try:
        if not folder.is_dir():
            raise VLMError(f"{folder} is not a folder")
        cfg = _read_config(folder)
    except VLMError as exc:
        info.reason = str(exc)
        return info
    info.config, info.model_type = cfg, cfg["model_type"]
    info.revision = _revision(folder)
    info.family, reason, info.needs_remote_code = _family(cfg, trust_remote_code)
    try:
        info.reason = reason or _files_reason(folder)
    except OSError as exc:
        info.reason = f"{folder.name}: cannot read the folder ({exc.strerror or exc})"
    info.params = safetensors_params(folder)
    info.runnable = not info.reason
    return info


def require_runnable(path, trust_remote_code: bool = False) -> CheckpointInfo:
    info = inspect_checkpoint(path, trust_remote_code)
    if not info.runnable:
        raise VLMError(info.reason)
    return info


# -- safetensors headers and parameter counts ---------------------------------------------
def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_header(file: Path) -> dict:
    """The JSON header of a safetensors file, checked against the file without reading any
    weights: its length fits in the file (and under ``MAX_HEADER_BYTES``), it is a JSON
    object of tensors with a dtype, a shape and data offsets inside the data section that
    match the shape, and it holds at least one tensor. Raises ``ValueError`` saying why not."""
    size = os.path.getsize(file)
    with open(file, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise ValueError(f"{size} bytes, shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", raw)
        if length > min(size - 8, MAX_HEADER_BYTES):
            raise ValueError(f"header length {length} does not fit a {size}-byte file")
        text = fh.read(length)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("the header is not JSON") from None
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    data_size = size - 8 - length
    tensors = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(dtype, str) and isinstance(shape, list) and all(map(_count, shape))
                and isinstance(offsets, list) and len(offsets) == 2
                and all(map(_count, offsets))):
            raise ValueError(f"tensor {name[:60]!r} has no valid dtype, shape and data_offsets")
        begin, end = offsets
        if not begin <= end <= data_size:
            raise ValueError(f"tensor {name[:60]!r} lies outside the file's data")
        per = SAFETENSORS_BYTES.get(dtype)
        if per is not None and end - begin != _product(shape) * per:
            raise ValueError(f"tensor {name[:60]!r} has {end - begin} bytes for shape {shape}")
        tensors += 1
    if not tensors:
        raise ValueError("it holds no tensors")
    return header


def _product(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def safetensors_params(folder) -> Optional[int]:
    """Parameter count from the safetensors headers of the weights transformers would load
    (no weights read); None if unknown or the weights are not usable."""
    try:
        files = weight_files(folder)
        return sum(_product(entry["shape"]) for f in files
                   for name, entry in read_header(f).items() if name != "__metadata__")
    except (OSError, ValueError, VLMError):
        return None


def params_from_config(config) -> int:
    """Exact parameter count of a config (a transformers config object) via the meta device."""
    import torch  # noqa: PLC0415
    from transformers import AutoModelForImageTextToText  # noqa: PLC0415

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    return sum(p.numel() for p in model.parameters())


# -- memory -------------------------------------------------------------------------------
def estimate_bytes(params: int, dtype: str, quantization: Optional[str] = None) -> int:
    """Weights x bytes/param plus 15% and 256 MiB for activations, KV cache and buffers."""
    per = BYTES_PER_PARAM[{"8bit": "int8", "4bit": "int4"}.get(quantization or "", dtype)]
    return int(params * per * 1.15 + 256 * 1024 ** 2)


def available_bytes(device: str) -> int:
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        import psutil  # noqa: PLC0415
    except ImportError:  # Linux fallback: free pages (less generous than "available")
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return int(psutil.virtual_memory().available)


def check_fits(params: int, dtype: str, device: str, quantization: Optional[str] = None,
               limit_bytes: Optional[int] = None) -> int:
    """Raise ``NotEnoughMemory`` when the model cannot fit; returns the estimate in bytes."""
    need = estimate_bytes(params, dtype, quantization)
    have = available_bytes(device)
    if limit_bytes is not None:
        have = min(have, int(limit_bytes))
    if need > have:
        raise NotEnoughMemory(
            f"Not enough memory on {device}: the model ({fmt_params(params)} parameters, "
            f"{dtype}{' ' + quantization if quantization else ''}) needs about "
            f"{fmt_bytes(need)}, {fmt_bytes(have)} is available; try a smaller dtype, "
            "4/8-bit quantisation or another device")
    return need


def memory_hint(path, trust_remote_code: bool = False) -> str:
    """One line shown before loading: family, size and the memory it will need (from the
    safetensors headers), or why the folder cannot be run. Reads headers only (no torch)."""
    info = inspect_checkpoint(path, trust_remote_code)
    if not info.runnable:
        return f"cannot run {Path(path).name}: {info.reason}"
    if not info.params:
        return f"{info.family_label}: size unknown (no safetensors weights to measure)"
    need = {d: fmt_bytes(estimate_bytes(info.params, d)) for d in ("bf16", "fp32")}
    return (f"{info.family_label}, {fmt_params(info.params)} parameters: needs about "
            f"{need['bf16']} in bf16 / {need['fp32']} in fp32 to load "
            f"({fmt_bytes(available_bytes('cpu'))} RAM free)")


def fmt_params(n: Optional[int]) -> str:
    """1234 -> "1.2 K", 256e6 -> "256.0 M", 7.6e9 -> "7.60 B"."""
    if n is None:
        return "?"
    if n >= 1e9:
        return f"{n / 1e9:.2f} B"
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} K"


def fmt_bytes(n: Optional[float]) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
