"""Find checkpoints in the Hugging Face cache and in folders the user added.

Each found checkpoint is a ``CheckpointInfo`` (family, parameters, runnable + reason);
a PEFT adapter folder is listed as ``BASE + ADAPTER`` (``adapter.adapter_entry``: runnable
when the base it records is found and fits); nothing is loaded. User folders are a
project setting (``vlm.model_folders``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional

from .adapter import ADAPTER_CONFIG, adapter_entry, looks_like_adapter
from .checkpoint import CheckpointInfo, estimate_bytes, inspect_checkpoint
from .local import hub_cache_dir

if TYPE_CHECKING:
    from .storage import SettingsStore

FOLDERS_KEY = "vlm.model_folders"


def _hub_snapshots(cache: Path) -> Iterable[tuple[str, Path]]:
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        snaps = repo / "snapshots"
        if not snaps.is_dir():
            continue
        ref = repo / "refs" / "main"
        snap = snaps / ref.read_text().strip() if ref.is_file() else None
        if snap is None or not snap.is_dir():
            found = sorted((d for d in snaps.iterdir() if d.is_dir()),
                           key=lambda d: d.stat().st_mtime)
            snap = found[-1] if found else None
        if snap is not None and ((snap / "config.json").is_file()
                                 or (snap / ADAPTER_CONFIG).is_file()):
            yield repo.name[len("models--"):].replace("--", "/"), snap


def _is_candidate(folder: Path) -> bool:
    return (folder / "config.json").is_file() or (folder / ADAPTER_CONFIG).is_file()


def _folder_candidates(folder: Path) -> Iterable[Path]:
    if _is_candidate(folder):
        yield folder
        return
    if folder.is_dir():
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and _is_candidate(sub):
                yield sub


def discover(folders: Iterable = (), cache: Optional[Path] = None) -> list[dict]:
    """Checkpoints found: ``{"spec", "source", **CheckpointInfo.as_dict()}`` sorted by spec.
    ``spec`` is what to pass as ``--model`` (a cache id or a folder path)."""
    out = []
    for repo_id, snap in _hub_snapshots(cache or hub_cache_dir()):
        if looks_like_adapter(snap):
            out.append(adapter_entry(snap, "hf-cache"))
        else:
            out.append(_entry(repo_id, "hf-cache", inspect_checkpoint(snap)))
    for folder in folders:
        for ckpt in _folder_candidates(Path(folder).expanduser()):
            out.append(adapter_entry(ckpt) if looks_like_adapter(ckpt)
                       else _entry(str(ckpt), "folder", inspect_checkpoint(ckpt)))
    return sorted(out, key=lambda e: (e["source"], e["spec"]))


def _entry(spec: str, source: str, info: CheckpointInfo) -> dict:
    need = estimate_bytes(info.params, "bf16") if info.params else None
    return dict(info.as_dict(), spec=spec, source=source, family_label=info.family_label,
                memory_bf16=need)


def user_folders(repo: SettingsStore) -> list[str]:
    return list(repo.get_setting(FOLDERS_KEY, []) or [])


def add_folder(repo: SettingsStore, folder) -> list[str]:
    from .types import VLMError  # noqa: PLC0415

    p = Path(folder).expanduser()
    if not p.is_dir():
        raise VLMError(f"{p} is not a folder")
    folders = user_folders(repo)
    if str(p.resolve()) not in folders:
        folders.append(str(p.resolve()))
        repo.set_setting(FOLDERS_KEY, folders)
    return folders


def remove_folder(repo: SettingsStore, folder) -> list[str]:
    folders = [f for f in user_folders(repo) if f != str(Path(folder).expanduser().resolve())]
    repo.set_setting(FOLDERS_KEY, folders)
    return folders
