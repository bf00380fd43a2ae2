"""Fine-tuned adapters as models: a base checkpoint plus a PEFT adapter folder.

An adapter folder holds PEFT's ``adapter_config.json`` (its ``base_model_name_or_path``
names the base: a folder or a Hugging Face cache id) and ``adapter_model.safetensors``.
A model spec chooses one in three ways (CLI ``--model``, GUI pickers, dataset-run configs):

- ``/path/to/adapter`` or ``local:/path/to/adapter``: on the base the adapter records;
- ``BASE + /path/to/adapter`` (spaces around ``+``): on the base chosen explicitly,
  refused when it is not the one the adapter was trained on (a different folder whose
  ``model_type`` or hidden sizes differ, or whose weight shapes do not fit the adapter's).

Nothing here imports torch or peft; ``local.TransformersBackend`` loads the base exactly as
any checkpoint, then ``peft.PeftModel.from_pretrained(base, adapter)``. By default the
adapter is merged into the base weights after loading (``merge_and_unload``): answers are
the same (within float rounding) and generation runs at the base model's speed; pass
``merge_adapter=False`` to keep the LoRA layers separate (quantised bases and adapters
with LoRA biases stay unmerged by default: merging would round 8/4-bit weights, and PEFT
cannot merge a bias into a layer that has none). Adapter weights are read from
safetensors only: a folder holding ``adapter_model.bin`` (a pickle) is refused.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .types import VLMError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CARD = "card.json"
MAX_ADAPTER_CONFIG_BYTES = 1024 * 1024          # PEFT writes a few KiB
SEPARATOR = " + "
LOCAL_PREFIX = "local:"
FULL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


class AdapterError(VLMError):
    """An adapter cannot be used as asked (missing base, other base, bad files)."""


@dataclass(frozen=True)
class AdapterSpec:
    adapter: str                     # the adapter folder as given
    base: Optional[str] = None       # the base chosen explicitly, None: the recorded one


@dataclass
class Adapter:
    folder: Path
    base_name: str                   # the base as the adapter records it
    base_folder: Path                # the base checkpoint that will be loaded
    base_chosen: Optional[str]       # the base the user chose (None: recorded)
    params: int = 0
    digest: str = ""
    config: dict = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"{_short(self.base_chosen or self.base_name)}{SEPARATOR}{self.folder.name}"


def _short(name: str) -> str:
    return Path(name.rstrip("/")).name or name


def looks_like_adapter(folder) -> bool:
    """A folder with ``adapter_config.json`` and no full model weights of its own."""
    p = Path(folder)
    try:
        return (p / ADAPTER_CONFIG).is_file() and not any((p / n).exists() for n in FULL_WEIGHTS)
    except OSError:
        return False


def split_spec(spec: str) -> Optional[AdapterSpec]:
    """The adapter a model spec names, or None when it names a plain checkpoint."""
    s = (spec or "").strip()
    if s.startswith(LOCAL_PREFIX):
        s = s[len(LOCAL_PREFIX):].strip()
    if s.startswith("+ ") or s.endswith(" +"):
        raise AdapterError(f"'{spec}': write a base and an adapter as 'BASE + ADAPTER_FOLDER'")
    if SEPARATOR in s:
        base, adapter = (part.strip() for part in s.split(SEPARATOR, 1))
        if not base or not adapter:
            raise AdapterError(f"'{spec}': write a base and an adapter as 'BASE + ADAPTER_FOLDER'")
        return AdapterSpec(adapter, base)
    p = Path(s).expanduser()
    if p.is_dir() and (looks_like_adapter(p) or (
            not (p / "config.json").is_file() and (p / ADAPTER_WEIGHTS).is_file())):
        return AdapterSpec(s)
    return None


def strip_local(spec: str) -> str:
    s = (spec or "").strip()
    return s[len(LOCAL_PREFIX):].strip() if s.startswith(LOCAL_PREFIX) else s


def read_adapter_config(folder) -> dict:
    """``adapter_config.json`` of a folder: read with a bound, strict JSON, an object with a
    ``peft_type``; ``AdapterError`` saying why not."""
    from ..bounded_read import read_text, parse_json  # noqa: PLC0415

    folder = Path(folder)
    path = folder / ADAPTER_CONFIG
    if not path.is_file():
        raise AdapterError(f"{folder} is not an adapter folder: it has no {ADAPTER_CONFIG}")
    text = read_text(path, AdapterError, MAX_ADAPTER_CONFIG_BYTES)
    cfg = parse_json(text, f"{folder.name}/{ADAPTER_CONFIG}", AdapterError)
    if not isinstance(cfg, dict):
        raise AdapterError(f"{folder.name}/{ADAPTER_CONFIG} is not a JSON object")
    if not isinstance(cfg.get("peft_type"), str) or not cfg["peft_type"]:
        raise AdapterError(f"{folder.name}/{ADAPTER_CONFIG} names no peft_type; "
                           "not a PEFT adapter")
    base = cfg.get("base_model_name_or_path")
    if base is not None and not isinstance(base, str):
        raise AdapterError(f"{folder.name}/{ADAPTER_CONFIG}: base_model_name_or_path is not text")
    return cfg


def adapter_weights(folder) -> tuple[Path, dict]:
    """(``adapter_model.safetensors``, its checked header); pickled weights are refused."""
    from .checkpoint import PICKLE_SUFFIXES, read_header  # noqa: PLC0415

    folder = Path(folder)
    path = folder / ADAPTER_WEIGHTS
    if not path.is_file():
        pickles = sorted(n for n in os.listdir(folder) if n.lower().endswith(PICKLE_SUFFIXES))
        if pickles:
            raise AdapterError(f"{folder.name}: the adapter weights are a pickle file "
                               f"({pickles[0]}), which this app does not load for safety; "
                               f"save the adapter as {ADAPTER_WEIGHTS} "
                               "(save_pretrained(..., safe_serialization=True))")
        raise AdapterError(f"{folder.name}: no adapter weights ({ADAPTER_WEIGHTS})")
    try:
        header = read_header(path)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{folder.name}: {ADAPTER_WEIGHTS} is not a valid safetensors "
                           f"file ({exc})") from None
    return path, header


def _digest(folder: Path, weights: Path) -> str:
    """The adapter's revision: a hash of its config and of all of its weights (read in
    chunks; two adapters differing anywhere get different revisions)."""
    h = hashlib.blake2b(digest_size=6)
    with open(folder / ADAPTER_CONFIG, "rb") as fh:
        h.update(fh.read(MAX_ADAPTER_CONFIG_BYTES))
    with open(weights, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return f"adapter-{h.hexdigest()}"


def _signature(folder: Path) -> tuple:
    """What must match between two bases for an adapter to fit: the architecture and the
    sizes of its layers (``model_type``, hidden sizes, layer counts, vocabulary)."""
    from .checkpoint import _read_config  # noqa: PLC0415

    cfg = _read_config(folder)
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "vocab_size", "out_hidden_size", "depth", "embed_dim")
    parts: list = [cfg.get("model_type")]
    for sub in (cfg, cfg.get("text_config") or {}, cfg.get("vision_config") or {}):
        if isinstance(sub, dict):
            parts.append(tuple(sub.get(k) for k in keys))
    return tuple(parts)


def _describe(sig: tuple) -> str:
    model_type, *sizes = sig
    hidden = [s[0] for s in sizes if s and s[0] is not None]
    return f"{model_type}, hidden size {'/'.join(map(str, hidden)) or '?'}"


def _suffixes(name: str, least: int = 3):
    parts = name.split(".")
    for i in range(0, len(parts) - least + 1):
        yield ".".join(parts[i:])


def shape_mismatches(header: dict, base_folder: Path, limit: int = 3) -> list[str]:
    """Adapter matrices whose base layer has other dimensions: ``lora_A`` [r, in] and
    ``lora_B`` [out, r] against the base weight [out, in], read from the safetensors
    headers. Saved names and module names may differ by a prefix (``model.`` vs
    ``model.language_model.``), so a layer is found by the longest ending of its name
    (three parts at least, e.g. ``layers.0.self_attn.q_proj``) that names one base weight
    shape; layers not found are left to PEFT, which reports them when it loads."""
    from .checkpoint import read_header, weight_files  # noqa: PLC0415

    try:
        names = {name[:-len(".weight")]: entry["shape"] for f in weight_files(base_folder)
                 for name, entry in read_header(f).items()
                 if name.endswith(".weight") and isinstance(entry, dict)}
    except (OSError, ValueError, VLMError):
        return []
    by_ending: dict = {}
    for name, shape in names.items():
        for ending in _suffixes(name):
            known = by_ending.setdefault(ending, shape)
            if known != shape:
                by_ending[ending] = None        # two shapes: this ending says nothing
    bad = []
    for name, entry in header.items():
        for part, dim in ((".lora_A.weight", 1), (".lora_B.weight", 0)):
            if not name.endswith(part) or not isinstance(entry, dict):
                continue
            module = name[:-len(part)]
            shape = next((by_ending[e] for e in _suffixes(module) if by_ending.get(e)), None)
            if shape is None or len(shape) != 2 or len(entry["shape"]) != 2:
                continue
            want = shape[1] if dim == 1 else shape[0]
            if entry["shape"][dim] != want:
                bad.append(f"{module.removeprefix('base_model.model.')}: {entry['shape']} "
                           f"against {shape}")
    return bad[:limit]


def resolve_adapter(adapter: str, base: Optional[str] = None) -> Adapter:
    """The adapter folder checked and its base resolved offline (``local.resolve_model``).
    Raises ``AdapterError`` naming both the adapter and the base when the base is missing,
    when the chosen base is not the one the adapter was trained on, or when the adapter's
    files cannot be used."""
    from .local import resolve_model  # noqa: PLC0415

    folder = Path(strip_local(adapter)).expanduser()
    if not folder.is_dir():
        raise AdapterError(f"Adapter {adapter}: not a folder")
    cfg = read_adapter_config(folder)
    weights, header = adapter_weights(folder)
    recorded = (cfg.get("base_model_name_or_path") or "").strip()
    recorded_folder: Optional[Path] = None
    if recorded:
        try:
            recorded_folder = resolve_model(recorded)
        except VLMError:
            recorded_folder = None
    if base is None:
        if not recorded:
            raise AdapterError(f"Adapter {folder.name} does not record its base model "
                               f"(no base_model_name_or_path); choose it as "
                               f"'BASE{SEPARATOR}{folder}'")
        if recorded_folder is None:
            raise AdapterError(f"The base model of adapter {folder.name}, '{recorded}', is "
                               "missing (neither a folder nor in the Hugging Face cache); "
                               f"put it back or choose it as 'BASE{SEPARATOR}{folder}'")
        base_folder = recorded_folder
    else:
        try:
            base_folder = resolve_model(base)
        except VLMError:
            raise AdapterError(f"Base model '{base}' chosen for adapter {folder.name} is "
                               "missing (neither a folder nor in the Hugging Face cache)"
                               + (f"; the adapter was trained on '{recorded}'" if recorded
                                  else "")) from None
        if recorded_folder is not None and base_folder.resolve() != recorded_folder.resolve():
            try:
                mine, theirs = _signature(base_folder), _signature(recorded_folder)
            except VLMError as exc:
                raise AdapterError(f"Base model '{base}' for adapter {folder.name}: {exc}") \
                    from None
            if mine != theirs:
                raise AdapterError(f"Adapter {folder.name} was trained on '{recorded}' "
                                   f"({_describe(theirs)}), not on the chosen base '{base}' "
                                   f"({_describe(mine)}); choose the base it was trained on")
    bad = shape_mismatches(header, base_folder)
    if bad:
        raise AdapterError(f"Adapter {folder.name} does not fit base "
                           f"'{base or recorded}': layer sizes differ ({'; '.join(bad)})"
                           + (f"; it was trained on '{recorded}'" if recorded else ""))
    params = sum(_product(e["shape"]) for n, e in header.items() if n != "__metadata__")
    return Adapter(folder, recorded, base_folder, base, params, _digest(folder, weights), cfg)


def _product(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def adapter_entry(folder, source: str = "folder") -> dict:
    """A discovery entry for an adapter folder (never raises): ``spec`` is
    ``BASE + ADAPTER`` with the base it records, runnable when the base is found and fits."""
    from .checkpoint import estimate_bytes, inspect_checkpoint  # noqa: PLC0415

    folder = Path(folder)
    entry = {"path": str(folder), "model_type": "", "family": None, "params": None,
             "revision": "", "runnable": False, "reason": "", "adapter": str(folder),
             "base": "", "spec": str(folder), "source": source,
             "family_label": "adapter", "memory_bf16": None, "label": folder.name}
    try:
        cfg = read_adapter_config(folder)
        base = (cfg.get("base_model_name_or_path") or "").strip()
        entry["base"] = base
        if base:
            entry["spec"] = f"{base}{SEPARATOR}{folder}"
            entry["label"] = f"{_short(base)}{SEPARATOR}{folder.name}"
        found = resolve_adapter(str(folder))
    except (VLMError, OSError) as exc:
        entry["reason"] = str(exc)
        return entry
    info = inspect_checkpoint(found.base_folder)
    params = (info.params or 0) + found.params if info.params else None
    entry.update(model_type=info.model_type, family=info.family.id if info.family else None,
                 params=params, revision=f"{info.revision}+{found.digest}",
                 runnable=info.runnable, reason=info.reason,
                 family_label=f"{info.family_label} + adapter",
                 memory_bf16=estimate_bytes(params, "bf16") if params else None)
    return entry


MAX_CARD_BYTES = 64 * 1024 * 1024


def read_card(folder) -> Optional[dict]:
    """An adapter folder's ``card.json`` (read with a bound, strict JSON), None when the
    folder has none; ``AdapterError`` when it is not a JSON object."""
    from ..bounded_read import parse_json, read_text  # noqa: PLC0415

    path = Path(strip_local(folder)).expanduser() / ADAPTER_CARD
    if not path.is_file():
        return None
    card = parse_json(read_text(path, AdapterError, MAX_CARD_BYTES), path.name, AdapterError)
    if not isinstance(card, dict):
        raise AdapterError(f"{path}: not a JSON object")
    return card


def recorded_eval_settings(folder) -> dict:
    """The evaluation settings an adapter was trained with (``card.json``:
    ``eval_settings``: frames, max_pixels, template), only the keys it records with a
    usable value; {} without a card or settings."""
    card = read_card(folder) or {}
    rec = card.get("eval_settings")
    if not isinstance(rec, dict):
        return {}
    out: dict = {}
    for key in ("frames", "max_pixels"):
        v = rec.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            out[key] = v
    if isinstance(rec.get("template"), str) and rec["template"]:
        out["template"] = rec["template"]
    return out


def held_out_ids(folder) -> list[str]:
    """The item ids an adapter's training held out (``card.json``: ``held_out_ids``)."""
    path = Path(strip_local(folder)).expanduser() / ADAPTER_CARD
    card = read_card(folder)
    if card is None:
        raise AdapterError(f"{Path(folder).name} has no {ADAPTER_CARD} listing held-out items")
    ids = card.get("held_out_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise AdapterError(f"{path}: held_out_ids is not a list of item ids")
    return list(dict.fromkeys(ids))
