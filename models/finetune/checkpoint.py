"""Training checkpoints written atomically, with no pickle anywhere.

A checkpoint is a folder ``checkpoints/step-NNNNNNN`` holding the adapter weights, the
optimizer's tensors (``optimizer.safetensors``) and the rest of the state as JSON
(``state.json``: step, epoch position, losses, scheduler, optimizer hyper-parameters) and
the RNG state. It is written in a temporary folder beside it, flushed, then renamed into
place: a kill at any moment leaves either the old set of checkpoints or the new one.
Older checkpoints are removed only after the new one is in place (the newest two stay).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Optional

from .config import FinetuneError

STATE = "state.json"
ADAPTER = "adapter.safetensors"
OPTIMIZER = "optimizer.safetensors"
RNG = "rng.safetensors"
KEEP = 2
_NAME = re.compile(r"^step-(\d{7,})$")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_files(folder: Path) -> None:
    for p in folder.iterdir():
        with open(p, "rb+") as fh:
            os.fsync(fh.fileno())


def optimizer_tensors(optimizer) -> tuple[dict, dict]:
    """(tensors, JSON-able rest) of an optimizer's state dict."""
    sd = optimizer.state_dict()
    tensors, plain = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if hasattr(value, "detach"):
                tensors[f"{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "plain": plain}


def load_optimizer(optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for name, value in list(tensors.items()) + list(meta.get("plain", {}).items()):
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save(root: Path, step: int, adapter: dict, optimizer, state: dict, rng: dict,
         before_rename=None) -> Path:
    """Write checkpoint ``step`` under ``root/checkpoints``; returns its folder.
    ``before_rename`` (tests) runs once the files are written, before the rename."""
    from safetensors.torch import save_file  # noqa: PLC0415

    folder = root / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:07d}"
    tmp = folder / f".tmp-step-{step:07d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in adapter.items()}, str(tmp / ADAPTER))
    tensors, meta = optimizer_tensors(optimizer)
    save_file(tensors, str(tmp / OPTIMIZER))
    save_file(rng, str(tmp / RNG))
    (tmp / STATE).write_text(json.dumps(dict(state, optimizer=meta), indent=1), encoding="utf-8")
    _fsync_files(tmp)
    if before_rename is not None:
        before_rename(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(folder)
    for old in checkpoints(root)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders of a killed save are not)."""
    folder = Path(root) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and _NAME.match(p.name)
             and (p / STATE).is_file()]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))  # type: ignore[union-attr]


def clean_partial(root: Path) -> None:
    """Remove the temporary folders a killed save left behind."""
    folder = Path(root) / "checkpoints"
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".tmp-step-"):
                shutil.rmtree(p, ignore_errors=True)


def load_latest(root: Path) -> Optional[dict]:
    """The newest readable checkpoint: {state, adapter, optimizer, rng, path}, or None."""
    from safetensors.torch import load_file  # noqa: PLC0415

    last: Optional[Exception] = None
    for path in reversed(checkpoints(root)):
        try:
            state = json.loads((path / STATE).read_text(encoding="utf-8"))
            return {"state": state, "adapter": load_file(str(path / ADAPTER)),
                    "optimizer": load_file(str(path / OPTIMIZER)), "rng": load_file(str(path / RNG)),
                    "path": path}
        except (OSError, ValueError) as exc:
            last = exc
            continue
    if checkpoints(root):
        raise FinetuneError(f"No checkpoint under {root} can be read ({last})")
    return None
