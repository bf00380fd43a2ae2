"""LoRA fine-tuning of a local VLM checkpoint on QA examples.

The base loads exactly as the local backend loads it (``models.vlm.local``: offline,
safetensors only, no remote code unless asked, dtype/device from the settings); PEFT adds
LoRA to the language model's projections named in the config (never the vision tower).
A plain loop with AdamW and a warmup + linear-decay schedule; each optimizer step reports
through the ``JobContext`` (``progress`` and a ``partial`` dict with step, loss, lr,
tokens/s, peak memory, ETA) and cancel is checked between batches. Checkpoints (adapter,
optimizer, scheduler, RNG, data position) are written atomically every N steps and on
cancel; ``resume=True`` goes on from the newest one along the same trajectory. The result
is ``adapter_model.safetensors`` + ``adapter_config.json`` (``base_model_name_or_path`` =
the base's local folder) and a card (``ADAPTER_CARD.md`` + ``card.json``).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import Cancelled, StudioError
from ..jobs import NULL_CONTEXT, JobContext
from . import checkpoint as ckpt
from .collator import TooLong, VideoCollator
from .config import FinetuneConfig, FinetuneError
from .data import Dataset

CARD_JSON = "card.json"
CARD_MD = "ADAPTER_CARD.md"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
LOSSES = "losses.jsonl"
HASH_ALL_BELOW = 2 * 1024 ** 3          # weights smaller than this are hashed in full


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    losses: list                       # {"step", "epoch", "loss", "lr"} per optimizer step
    train_loss: Optional[float]        # mean loss of the last epoch's steps
    held_out_loss: Optional[float]
    seconds: float
    resumed_from: Optional[int] = None
    skipped: list = field(default_factory=list)   # (qa_id, why) left out while preparing
    card: dict = field(default_factory=dict)


# -- model --------------------------------------------------------------------------------------
def language_model_prefix(model) -> str:
    """Module name of the language model (decoder) inside a VLM."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    for name, module in model.named_modules():
        if module is decoder and name:
            return name
    for name, _ in model.named_modules():          # families without get_decoder
        if name.endswith(("language_model", "text_model")):
            return name
    raise FinetuneError("Cannot find the language model inside this checkpoint")


def target_pattern(model, names) -> str:
    """A PEFT ``target_modules`` regex matching the Linear layers named ``names`` inside
    the language model; refused (listing what exists) when nothing matches."""
    import torch  # noqa: PLC0415

    prefix = language_model_prefix(model)
    inside = [n for n, m in model.named_modules()
              if n.startswith(prefix + ".") and isinstance(m, torch.nn.Linear)]
    pattern = rf"{re.escape(prefix)}\..*\.(?:{'|'.join(map(re.escape, names))})"
    if not any(re.fullmatch(pattern, n) for n in inside):
        leaves = sorted({n.rsplit(".", 1)[-1] for n in inside})
        raise FinetuneError(f"No layer named {', '.join(names)} in the language model "
                            f"({prefix}); its linear layers are: {', '.join(leaves)}")
    return pattern


def base_fingerprint(folder: Path) -> str:
    """sha256 over config.json and the weight files (in full below 2 GiB; else each file's
    size and three 4 MiB samples), so a card names the exact base it was trained on."""
    h = hashlib.sha256()
    files = [folder / "config.json"] + sorted(folder.glob("*.safetensors"))
    total = sum(p.stat().st_size for p in files if p.is_file())
    for p in files:
        if not p.is_file():
            continue
        size = p.stat().st_size
        h.update(f"{p.name}:{size}\n".encode())
        with open(p, "rb") as fh:
            if total <= HASH_ALL_BELOW:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            else:
                for at in (0, size // 2, max(0, size - (4 << 20))):
                    fh.seek(at)
                    h.update(fh.read(4 << 20))
    return ("sha256:" if total <= HASH_ALL_BELOW else "sha256-sampled:") + h.hexdigest()


def studio_commit() -> Optional[str]:
    root = Path(__file__).resolve().parents[2]
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def load_base(base: str, cfg: FinetuneConfig, trust_remote_code: bool = False, ctx=NULL_CONTEXT):
    """The base as the local backend loads it; returns the (loaded) backend."""
    from ..vlm.local import TransformersBackend  # noqa: PLC0415

    backend = TransformersBackend(base, device=cfg.device, dtype=cfg.dtype,
                                  trust_remote_code=trust_remote_code)
    backend.load(ctx)
    return backend


# -- errors ---------------------------------------------------------------------------------------
def is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text or \
        "can't allocate memory" in text or "cannot allocate memory" in text


def oom_message(cfg: FinetuneConfig, longest: int, device: str) -> str:
    hints = []
    if cfg.frames > 1:
        hints.append(f"--frames {max(1, cfg.frames // 2)}")
    if cfg.max_pixels > 64 * 64:
        hints.append(f"--max-pixels {max(64 * 64, cfg.max_pixels // 4)}")
    if cfg.batch_size > 1:
        hints.append(f"--batch-size 1 --grad-accum {cfg.batch_size * cfg.grad_accum}")
    hints.append(f"--max-length {max(256, min(cfg.max_length, longest) // 2)}")
    return (f"Out of memory on {device} (frames {cfg.frames}, max_pixels {cfg.max_pixels}, "
            f"batch_size {cfg.batch_size}, longest example {longest} tokens); try "
            + ", ".join(hints))


# -- schedule -------------------------------------------------------------------------------------
def epoch_batches(n_examples: int, signatures: list, batch_size: int, seed: int, epoch: int) -> list:
    """The batches (lists of example indices) of one epoch: shuffled by seed and epoch,
    examples of one signature together."""
    order = list(range(n_examples))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    if batch_size == 1:
        return [[i] for i in order]
    out: list = []
    open_: dict = {}
    for i in order:
        bucket = open_.setdefault(signatures[i], [])
        bucket.append(i)
        if len(bucket) == batch_size:
            out.append(open_.pop(signatures[i]))
    out.extend(b for b in open_.values() if b)
    return out


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warmup to the full rate, then linear decay to a tenth of it."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    return max(0.1, 1.0 - 0.9 * (step - warmup) / span)


def _peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        return int(torch.cuda.max_memory_allocated())
    import resource  # noqa: PLC0415

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# -- the run ----------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, base: str, dataset: Dataset, cfg: FinetuneConfig, out_dir,
                 ctx: JobContext = NULL_CONTEXT, resume: bool = False,
                 trust_remote_code: bool = False) -> None:
        self.base, self.dataset, self.cfg = base, dataset, cfg.validate()
        self.out = Path(out_dir)
        self.ctx, self.resume, self.trust_remote_code = ctx, resume, trust_remote_code
        self.skipped: list = []
        self.before_rename = None           # tests: called inside each checkpoint save

    # -- setup ----------------------------------------------------------------------------
    def _check_out(self) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise FinetuneError(f"{self.out} is a file; choose a folder for the adapter")
        if self.out.is_dir() and any(self.out.iterdir()) and not self.resume:
            what = "holds checkpoints of an earlier run (pass --resume to go on)" \
                if ckpt.checkpoints(self.out) else "is not empty"
            raise FinetuneError(f"The output folder {self.out} {what}")
        if self.resume and (self.out / CARD_JSON).is_file():
            raise FinetuneError(f"The run in {self.out} has already finished")
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt.clean_partial(self.out)

    def _prepare(self) -> tuple[list, list, list]:
        """(examples, their signatures, their token counts) of the training set; items
        that cannot be built (too long, undecodable video) are skipped and listed."""
        examples, sigs, lengths = [], [], []
        n = len(self.dataset.train)
        for k, ex in enumerate(self.dataset.train):
            self.ctx.check()
            try:
                feats = self.collator.features(ex)
                sig = self.collator.signature(ex) if self.cfg.batch_size > 1 else ()
            except Cancelled:
                raise
            except TooLong as exc:
                self.skipped.append((ex.qa_id, str(exc)))
                continue
            except StudioError as exc:
                self.skipped.append((ex.qa_id, str(exc).splitlines()[0]))
                continue
            examples.append(ex)
            sigs.append(sig)
            lengths.append(int(feats["input_ids"].shape[1]))
            self.ctx.progress(k + 1, n, "preparing examples")
        if not examples:
            first = self.skipped[0] if self.skipped else ("", "")
            raise FinetuneError(f"No example could be prepared ({len(self.skipped)} skipped; "
                                f"first: {first[0]}: {first[1]})")
        return examples, sigs, lengths

    def run(self) -> TrainResult:
        import torch  # noqa: PLC0415
        from peft import LoraConfig, get_peft_model  # noqa: PLC0415

        from ..vlm.local import resolve_model  # noqa: PLC0415

        cfg, ctx = self.cfg, self.ctx
        self._check_out()
        t_start = time.perf_counter()
        backend = load_base(self.base, cfg, self.trust_remote_code, ctx)
        self.base_folder = resolve_model(self.base).resolve()
        self.device = backend.device
        model = backend.model
        torch.manual_seed(cfg.seed)
        lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha,  # type: ignore[arg-type]
                          lora_dropout=cfg.dropout,
                          target_modules=target_pattern(model, cfg.target_modules),
                          bias="none")
        lora.base_model_name_or_path = str(self.base_folder)
        self.model = get_peft_model(model, lora)
        self.model.peft_config["default"].base_model_name_or_path = str(self.base_folder)
        self.collator = VideoCollator(backend.processor, backend.family, model,
                                      cfg.eval_settings(), self.dataset.video_root,
                                      cfg.max_length, cfg.cache_bytes)
        self.backend = backend
        examples, sigs, lengths = self._prepare()
        self._examples = examples
        plans = [epoch_batches(len(examples), sigs, cfg.batch_size, cfg.seed, e)
                 for e in range(cfg.epochs)]
        per_epoch = [math.ceil(len(p) / cfg.grad_accum) for p in plans]
        total = min(sum(per_epoch), cfg.max_steps or sum(per_epoch))
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: lr_factor(s, cfg.warmup_steps, total))
        state: dict[str, Any] = {"step": 0, "epoch": 0, "batch": 0, "losses": []}
        resumed_from = self._restore(opt, sched, state, examples)
        losses = state["losses"]
        self.model.train()
        step, longest = state["step"], max(lengths)
        t_loop, steps_here, tokens = time.perf_counter(), 0, 0
        try:
            for epoch in range(state["epoch"], cfg.epochs):
                plan = plans[epoch]
                first = state["batch"] if epoch == state["epoch"] else 0
                groups = [list(range(i, min(i + cfg.grad_accum, len(plan))))
                          for i in range(0, len(plan), cfg.grad_accum)]
                for group in groups:
                    if group[0] < first:
                        continue
                    if step >= total:
                        break
                    ctx.check()
                    t0 = time.perf_counter()
                    loss, n_tok = self._step(opt, [[examples[i] for i in plan[b]] for b in group],
                                             ctx, longest)
                    sched.step()
                    step += 1
                    steps_here += 1
                    tokens += n_tok
                    lr = sched.get_last_lr()[0]
                    losses.append({"step": step, "epoch": epoch, "loss": loss, "lr": lr})
                    state.update(step=step, epoch=epoch, batch=group[-1] + 1)
                    if group[-1] + 1 >= len(plan):
                        state.update(epoch=epoch + 1, batch=0)
                    self._report(step, total, epoch, loss, lr, n_tok, time.perf_counter() - t0,
                                 time.perf_counter() - t_loop, steps_here, tokens)
                    if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total:
                        self._save(step, opt, sched, state)
                if step >= total:
                    break
        except Cancelled:
            if step and (not ckpt.checkpoints(self.out) or
                         not ckpt.checkpoints(self.out)[-1].name.endswith(f"{step:07d}")):
                self._save(step, opt, sched, state)
            raise
        held = self.held_out_loss()
        last_epoch = [x["loss"] for x in losses if x["epoch"] == losses[-1]["epoch"]] if losses else []
        result = TrainResult(self.out, step, losses,
                             sum(last_epoch) / len(last_epoch) if last_epoch else None, held,
                             time.perf_counter() - t_start, resumed_from, list(self.skipped))
        self._finish(result, examples)
        return result

    def _restore(self, opt, sched, state: dict, examples: list) -> Optional[int]:
        import torch  # noqa: PLC0415
        from peft import set_peft_model_state_dict  # noqa: PLC0415

        if not self.resume:
            return None
        found = ckpt.load_latest(self.out)
        if found is None:
            return None
        saved = found["state"]
        mine = {"config": self._fixed_config(), "base": str(self.base_folder),
                "examples": [e.qa_id for e in examples]}
        for key, what in (("base", "base model"), ("config", "settings"), ("examples", "training items")):
            if saved.get(key) != mine[key]:
                raise FinetuneError(f"Cannot resume {self.out}: the {what} differ from the "
                                    "interrupted run's; use a new output folder")
        set_peft_model_state_dict(self.model, found["adapter"])
        ckpt.load_optimizer(opt, found["optimizer"], saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        torch.set_rng_state(found["rng"]["torch"])
        if "cuda" in found["rng"] and self.device.startswith("cuda"):
            torch.cuda.set_rng_state(found["rng"]["cuda"])
        state.update(step=saved["step"], epoch=saved["epoch"], batch=saved["batch"],
                     losses=saved["losses"])
        self.skipped = [tuple(s) for s in saved.get("skipped", [])] or self.skipped
        self.ctx.partial({"resumed_from": saved["step"]})
        return int(saved["step"])

    def _fixed_config(self) -> dict:
        """The settings a resumed run must share (device and cache may differ)."""
        return {k: v for k, v in self.cfg.as_dict().items() if k not in ("device", "cache_bytes")}

    def _save(self, step: int, opt, sched, state: dict) -> None:
        import torch  # noqa: PLC0415
        from peft import get_peft_model_state_dict  # noqa: PLC0415

        rng = {"torch": torch.get_rng_state()}
        if self.device.startswith("cuda"):
            rng["cuda"] = torch.cuda.get_rng_state()
        meta = dict(state, scheduler=sched.state_dict(), config=self._fixed_config(),
                    base=str(self.base_folder), skipped=[list(s) for s in self.skipped],
                    examples=[e.qa_id for e in self._examples])
        ckpt.save(self.out, step, get_peft_model_state_dict(self.model), opt, meta, rng,
                  self.before_rename)
        self.ctx.partial({"checkpoint": step})

    def _step(self, opt, batches: list, ctx, longest: int) -> tuple[float, int]:
        """One optimizer step over ``batches`` (gradient accumulation); (mean loss, tokens)."""
        total_loss, n_tok = 0.0, 0
        try:
            for examples in batches:
                ctx.check()
                batch = {k: (v.to(self.device) if hasattr(v, "to") else v)
                         for k, v in self.collator(examples).items()}
                pix = [k for k in batch if k.startswith("pixel_values")]
                for k in pix:
                    batch[k] = batch[k].to(self.backend.model.dtype)
                out = self.model(**batch)
                loss = out.loss / len(batches)
                loss.backward()
                total_loss += float(loss.detach())
                n_tok += int(batch["attention_mask"].sum()) if "attention_mask" in batch \
                    else int(batch["input_ids"].numel())
            opt.step()
        except Cancelled:
            opt.zero_grad(set_to_none=True)
            raise
        except (RuntimeError, MemoryError) as exc:
            opt.zero_grad(set_to_none=True)
            if is_out_of_memory(exc) or isinstance(exc, MemoryError):
                raise FinetuneError(oom_message(self.cfg, longest, self.device)) from None
            raise
        opt.zero_grad(set_to_none=True)
        return total_loss, n_tok

    def _report(self, step, total, epoch, loss, lr, n_tok, step_s, loop_s, steps_here, tokens) -> None:
        eta = (total - step) * loop_s / max(1, steps_here)
        info = {"step": step, "total": total, "epoch": epoch, "loss": loss, "lr": lr,
                "tokens_per_s": tokens / loop_s if loop_s > 0 else 0.0,
                "step_s": step_s, "peak_memory": _peak_memory(self.device), "eta_s": eta}
        self.ctx.partial(info)
        self.ctx.progress(step, total, f"step {step}/{total} loss {loss:.4f}")

    def held_out_loss(self) -> Optional[float]:
        import torch  # noqa: PLC0415

        if not self.dataset.held_out:
            return None
        self.model.eval()
        losses = []
        with torch.no_grad():
            for ex in self.dataset.held_out:
                try:
                    batch = {k: (v.to(self.device) if hasattr(v, "to") else v)
                             for k, v in self.collator([ex]).items()}
                except StudioError:
                    continue
                for k in [k for k in batch if k.startswith("pixel_values")]:
                    batch[k] = batch[k].to(self.backend.model.dtype)
                losses.append(float(self.model(**batch).loss))
        self.model.train()
        return sum(losses) / len(losses) if losses else None

    # -- results ------------------------------------------------------------------------------
    def _finish(self, result: TrainResult, examples: list) -> None:
        tmp = self.out / ".tmp-adapter"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(str(tmp), safe_serialization=True)
        conf = json.loads((tmp / "adapter_config.json").read_text(encoding="utf-8"))
        conf["base_model_name_or_path"] = str(self.base_folder)
        (tmp / "adapter_config.json").write_text(json.dumps(conf, indent=2), encoding="utf-8")
        for name in ADAPTER_FILES:
            os.replace(tmp / name, self.out / name)
        shutil.rmtree(tmp, ignore_errors=True)
        with open(self.out / LOSSES, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(x) + "\n" for x in result.losses)
        result.card = self.card(result, examples)
        write_card(self.out, result.card)
        shutil.rmtree(self.out / "checkpoints", ignore_errors=True)

    def card(self, result: TrainResult, examples: list) -> dict:
        ds = self.dataset
        used = {e.qa_id for e in examples}
        counts = {t: dict(c, skipped=c["skipped"]) for t, c in ds.counts.items()}
        for ex in ds.train:
            if ex.qa_id not in used:
                counts[ex.record.task]["train"] -= 1
                counts[ex.record.task]["skipped"] += 1
        info = self.backend.info
        return {
            "base_model": {"path": str(self.base_folder), "name": self.base_folder.name,
                           "family": info.family, "revision": info.revision,
                           "fingerprint": base_fingerprint(self.base_folder)},
            "data": {"source": ds.source, "video_root": ds.video_root, "train_items": len(examples),
                     "held_out_items": len(ds.held_out), "tasks": counts,
                     "empty_tasks": sorted(t for t, c in counts.items() if not c["train"]),
                     "skipped": [list(s) for s in ds.skipped + result.skipped],
                     "held_out_ids": sorted(e.qa_id for e in ds.held_out),
                     "held_out_clips": sorted({e.record.video for e in ds.held_out})},
            "hyperparameters": self.cfg.as_dict(),
            "eval_settings": self.cfg.eval_settings().as_dict(),
            "device": self.device, "dtype": info.dtype,
            "studio_commit": studio_commit(),
            "result": {"steps": result.steps,
                       "first_loss": result.losses[0]["loss"] if result.losses else None,
                       "final_loss": result.losses[-1]["loss"] if result.losses else None,
                       "train_loss_last_epoch": result.train_loss, "held_out_loss": result.held_out_loss,
                       "seconds": round(result.seconds, 2), "resumed_from": result.resumed_from},
        }


def write_card(out: Path, card: dict) -> None:
    """``ADAPTER_CARD.md`` then ``card.json`` (the finished run's marker), each atomically."""
    def put(name: str, text: str) -> None:
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)

    put(CARD_MD, card_markdown(card))
    put(CARD_JSON, json.dumps(card, indent=2))


def card_markdown(card: dict) -> str:
    base, data, res, hp = card["base_model"], card["data"], card["result"], card["hyperparameters"]
    rows = "\n".join(f"| {t} | {c['train']} | {c['held_out']} | {c['skipped']} |"
                     for t, c in data["tasks"].items())

    def fmt(v) -> str:
        return "-" if v is None else f"{v:.4f}"
    hps = ", ".join(f"{k}={v}" for k, v in hp.items())
    return f"""# LoRA adapter (ActionArt Studio fine-tune)

- Base model: `{base['path']}` ({base['family']}, revision {base['revision']}, {base['fingerprint']})
- Data: {data['source']}: {data['train_items']} training items, {data['held_out_items']} held out
- Studio commit: {card['studio_commit'] or 'unknown'}
- Steps: {res['steps']}; loss {fmt(res['first_loss'])} -> {fmt(res['final_loss'])} \
(last epoch mean {fmt(res['train_loss_last_epoch'])}, held-out {fmt(res['held_out_loss'])})

| sub-task | train | held out | skipped |
|---|---|---|---|
{rows}

Sub-tasks without training items: {', '.join(data['empty_tasks']) or 'none'}.
Held-out clips: {', '.join(data['held_out_clips']) or 'none'}.

Hyper-parameters: {hps}.

Evaluate with the same frame sampling and prompt: {json.dumps(card['eval_settings'])}.
"""


def finetune(base: str, dataset: Dataset, cfg: FinetuneConfig, out_dir,
             ctx: JobContext = NULL_CONTEXT, resume: bool = False,
             trust_remote_code: bool = False) -> TrainResult:
    return Trainer(base, dataset, cfg, out_dir, ctx, resume, trust_remote_code).run()
