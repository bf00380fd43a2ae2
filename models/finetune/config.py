"""Fine-tuning settings: one ``FinetuneConfig`` from defaults, a TOML/JSON file and flags.

Every value is checked in ``validate`` (a ``FinetuneError`` naming the setting); unknown
keys in a file are refused, so a typo never silently trains with a default.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from ..errors import StudioError

MAX_CONFIG_BYTES = 1024 * 1024
# the language model's attention projections (same names in every supported family)
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


class FinetuneError(StudioError):
    """A fine-tuning run cannot start or go on as asked."""


@dataclass
class FinetuneConfig:
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    # projection names inside the language model's layers (the vision tower is never adapted)
    target_modules: list = field(default_factory=lambda: list(DEFAULT_TARGETS))
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    epochs: int = 3
    max_steps: Optional[int] = None        # stop after this many optimizer steps
    frames: int = 8
    max_pixels: int = 448 * 448
    template: str = "mcq-letter-v1"
    max_length: int = 4096                 # tokens per example (prompt + frames + answer)
    seed: int = 0
    held_out: float = 0.0                  # fraction of clips kept out of training
    batch_size: int = 1
    grad_accum: int = 1
    checkpoint_every: int = 50             # optimizer steps between checkpoints (0: never)
    device: str = "auto"
    dtype: str = "auto"
    cache_bytes: int = 2 * 1024 ** 3       # processed examples kept in memory across epochs

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "FinetuneConfig":
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise FinetuneError(f"Invalid fine-tuning setting: {what}")

        for name in ("rank", "epochs", "frames", "max_pixels", "max_length", "batch_size",
                     "grad_accum"):
            value = getattr(self, name)
            need(_is_int(value) and value >= 1, f"{name} must be a whole number >= 1 (got {value!r})")
        for name in ("warmup_steps", "checkpoint_every", "seed", "cache_bytes"):
            value = getattr(self, name)
            need(_is_int(value) and value >= 0, f"{name} must be a whole number >= 0 (got {value!r})")
        need(self.max_steps is None or (_is_int(self.max_steps) and self.max_steps >= 1),
             f"max_steps must be a whole number >= 1 (got {self.max_steps!r})")
        need(_finite(self.alpha) and self.alpha > 0, f"alpha must be above 0 (got {self.alpha!r})")
        need(_finite(self.dropout) and 0 <= self.dropout < 1,
             f"dropout must be in [0, 1) (got {self.dropout!r})")
        need(_finite(self.learning_rate) and 0 < self.learning_rate <= 1,
             f"learning_rate must be in (0, 1] (got {self.learning_rate!r})")
        need(_finite(self.weight_decay) and self.weight_decay >= 0,
             f"weight_decay must be >= 0 (got {self.weight_decay!r})")
        need(_finite(self.held_out) and 0 <= self.held_out < 1,
             f"held_out must be a fraction in [0, 1) (got {self.held_out!r})")
        need(isinstance(self.target_modules, list) and bool(self.target_modules)
             and all(isinstance(t, str) and t.isidentifier() for t in self.target_modules),
             "target_modules must be a non-empty list of module names such as q_proj, v_proj "
             f"(got {self.target_modules!r})")
        need(self.device in ("auto", "cpu", "cuda", "mps") or str(self.device).startswith("cuda:"),
             f"device must be auto, cpu, cuda or mps (got {self.device!r})")
        need(self.dtype in ("auto", "bf16", "fp16", "fp32"),
             f"dtype must be auto, bf16, fp16 or fp32 (got {self.dtype!r})")
        from ..answer_parse import PROMPT_TEMPLATES  # noqa: PLC0415 (answer_parse is light)

        need(self.template in PROMPT_TEMPLATES,
             f"template must be one of {', '.join(PROMPT_TEMPLATES)} (got {self.template!r})")
        return self

    def eval_settings(self):
        """The evaluation settings whose inputs this run trains on (same frames, pixels,
        prompt template)."""
        from ..evaluate import EvalSettings  # noqa: PLC0415

        return EvalSettings(frames=self.frames, max_pixels=self.max_pixels, template=self.template)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


FIELDS = {f.name for f in fields(FinetuneConfig)}


def read_config_file(path) -> dict:
    """The settings of a ``.toml`` or ``.json`` file (a flat table; ``[finetune]`` or
    ``{"finetune": {...}}`` also accepted)."""
    from ..bounded_read import parse_json, read_text  # noqa: PLC0415

    p = Path(path)
    try:
        text = read_text(p, FinetuneError, MAX_CONFIG_BYTES)
    except FinetuneError as exc:
        raise FinetuneError(f"Cannot read the config file {p}: {exc}") from None
    if p.suffix.lower() == ".toml":
        import tomllib  # noqa: PLC0415 (only for TOML files)

        try:
            data: Any = tomllib.loads(text)
        except (ValueError, RecursionError) as exc:
            raise FinetuneError(f"The config file {p} cannot be parsed: "
                                f"{str(exc).splitlines()[0] if str(exc) else 'nested too deep'}") from None
    else:
        data = parse_json(text, f"The config file {p}", FinetuneError)
    if isinstance(data, dict) and isinstance(data.get("finetune"), dict) and len(data) == 1:
        data = data["finetune"]
    if not isinstance(data, dict):
        raise FinetuneError(f"The config file {p} must hold a table of settings")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise FinetuneError(f"Unknown setting(s) in {p}: {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(FIELDS))}")
    return data


def make_config(file: Optional[str] = None, **overrides) -> FinetuneConfig:
    """Defaults, then the file's values, then ``overrides`` (None values are skipped);
    validated."""
    values: dict = {}
    if file:
        values.update(read_config_file(file))
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise FinetuneError(f"Unknown setting(s): {', '.join(unknown)}")
    if isinstance(values.get("target_modules"), str):
        values["target_modules"] = [t.strip() for t in values["target_modules"].split(",") if t.strip()]
    for name in ("alpha", "dropout", "learning_rate", "weight_decay", "held_out"):
        if _is_int(values.get(name)):
            values[name] = float(values[name])
    return FinetuneConfig(**values).validate()
