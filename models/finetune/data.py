"""Training examples from QA records: a project's accepted items or an exported
proxy-training folder (``messages/synth_qa.jsonl`` or ``llava/synth_qa.json``).

Each example is one ``QARecord`` plus its target text: the answer the app's parser
(``answer_parse.parse_choice``) reads as the correct option, e.g. ``"B"``. Its inputs are
built later by the collator with ``models.evaluate.build_request``, so training sees the
same frames and prompt as evaluation. Items whose video is missing are skipped and listed;
the held-out split keeps whole clips out, chosen by the seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..answer_parse import PARSE_LETTERS, parse_choice
from ..qa.record import QARecord
from .config import FinetuneError

PROXY_TASK = "synth_qa"
MAX_PROXY_BYTES = 512 * 1024 ** 2


@dataclass
class Example:
    record: QARecord
    target: str                     # the assistant's answer text

    @property
    def qa_id(self) -> str:
        return self.record.qa_id


@dataclass
class Dataset:
    source: str                                   # "project:<file>" | "proxy:<folder>"
    video_root: Optional[str]
    train: list = field(default_factory=list)     # Example
    held_out: list = field(default_factory=list)  # Example
    skipped: list = field(default_factory=list)   # (qa_id, why)
    counts: dict = field(default_factory=dict)    # task -> {"train", "held_out", "skipped"}

    @property
    def empty_tasks(self) -> list:
        return sorted(t for t, c in self.counts.items() if not c["train"])

    def summary(self) -> dict:
        return {"source": self.source, "train": len(self.train), "held_out": len(self.held_out),
                "skipped": [list(s) for s in self.skipped], "tasks": self.counts,
                "held_out_ids": sorted(e.qa_id for e in self.held_out),
                "held_out_clips": sorted({e.record.video for e in self.held_out})}


def target_text(rec: QARecord, template: str = "mcq-letter-v1") -> str:
    """The answer a model should give: the option's letter (its letter and text for the
    letter-and-text template); checked to parse back to the right option."""
    if not 0 <= rec.answer_index < min(len(rec.options), len(PARSE_LETTERS)):
        raise FinetuneError(f"Item {rec.qa_id} has no option {rec.answer_index}")
    letter = PARSE_LETTERS[rec.answer_index]
    text = f"{letter}. {rec.options[rec.answer_index]}" if template == "mcq-letter-text-v1" else letter
    if parse_choice(text, rec.options) != rec.answer_index:
        raise FinetuneError(f"Item {rec.qa_id}: the answer '{text}' does not parse back to "
                            "its option")
    return text


def build_dataset(records, source: str, video_root: Optional[str], template: str = "mcq-letter-v1",
                  held_out: float = 0.0, seed: int = 0, tasks=None) -> Dataset:
    """Examples of ``records`` (optionally only ``tasks``), with the held-out split by clip.
    Raises ``FinetuneError`` when no item is left to train on."""
    from ..export.media import source_path  # noqa: PLC0415

    wanted = list(dict.fromkeys(tasks or []))
    out = Dataset(source, video_root)
    out.counts = {t: {"train": 0, "held_out": 0, "skipped": 0} for t in wanted}
    kept: list[Example] = []
    for rec in records:
        if wanted and rec.task not in wanted:
            continue
        counts = out.counts.setdefault(rec.task, {"train": 0, "held_out": 0, "skipped": 0})
        why = None
        try:
            target = target_text(rec, template)
        except FinetuneError as exc:
            why = str(exc)
        else:
            path = source_path(rec, video_root)
            if not path.is_file():
                why = f"video missing: {path}"
        if why:
            out.skipped.append((rec.qa_id, why))
            counts["skipped"] += 1
            continue
        kept.append(Example(rec, target))
    held_clips = held_out_clips(sorted({e.record.video for e in kept}), held_out, seed)
    for ex in kept:
        part = "held_out" if ex.record.video in held_clips else "train"
        getattr(out, part).append(ex)
        out.counts[ex.record.task][part] += 1
    out.counts = dict(sorted(out.counts.items()))
    if not out.train:
        detail = (f"; {len(out.skipped)} skipped (first: {out.skipped[0][0]}: {out.skipped[0][1]})"
                  if out.skipped else "")
        what = f" of the sub-task(s) {', '.join(wanted)}" if wanted else ""
        raise FinetuneError(f"No items{what} to train on in {source}{detail}")
    return out


def held_out_clips(clips: list, fraction: float, seed: int) -> set:
    """The clips kept out of training: ``fraction`` of them (at least one when the fraction
    is above 0, never all), chosen by ``seed``."""
    if fraction <= 0 or len(clips) < 2:
        return set()
    order = sorted(clips)
    random.Random(seed).shuffle(order)
    n = min(len(order) - 1, max(1, round(fraction * len(order))))
    return set(order[:n])


# -- sources ------------------------------------------------------------------------------------
def project_records(repo, statuses=("accepted",), tasks=None) -> tuple[list, Optional[str]]:
    """(the project's items with these review statuses, the folder of their videos)."""
    from ..export.project import project_video_root  # noqa: PLC0415

    records = repo.qa_records({"status": list(statuses), "task": list(tasks) if tasks else None})
    return records, project_video_root(repo, records) if records else None


def proxy_records(folder) -> tuple[list, str]:
    """The synthesized-QA items of an exported proxy-training folder (each conversation
    carries its full record), with their video paths made relative to the folder; a
    video cut to the item's window keeps no window of its own."""
    root = Path(folder)
    if not root.is_dir():
        raise FinetuneError(f"{root} is not a folder (expected an exported proxy-training folder)")
    msgs, llava = root / "messages" / f"{PROXY_TASK}.jsonl", root / "llava" / f"{PROXY_TASK}.json"
    if msgs.is_file():
        rows = [_json(line, msgs, k + 1) for k, line in enumerate(_read(msgs).splitlines())
                if line.strip()]
        entries = [(r, (r.get("videos") or [None])[0] if isinstance(r, dict) else None) for r in rows]
    elif llava.is_file():
        data = _json(_read(llava), llava, None)
        if not isinstance(data, list):
            raise FinetuneError(f"{llava} must hold a list of conversations")
        entries = [(r, r.get("video") if isinstance(r, dict) else None) for r in data]
    else:
        raise FinetuneError(f"{root} holds neither messages/{PROXY_TASK}.jsonl nor "
                            f"llava/{PROXY_TASK}.json (export the project as proxy-training)")
    records = []
    for k, (row, video) in enumerate(entries):
        where = f"{root.name} conversation {k + 1}"
        if not isinstance(row, dict) or not isinstance(row.get("record"), dict):
            raise FinetuneError(f"{where} carries no QA record")
        rec = QARecord.from_dict(row["record"], where)
        if isinstance(video, str) and video:
            if "__" in Path(video).stem:     # the export cut this item's window out
                rec.start_s = rec.end_s = None
            rec.video = video
        records.append(rec)
    return records, str(root)


def _read(path: Path) -> str:
    from ..bounded_read import read_text  # noqa: PLC0415

    return read_text(path, FinetuneError, MAX_PROXY_BYTES)


def _json(text: str, path: Path, line: Optional[int]):
    from ..bounded_read import parse_json  # noqa: PLC0415

    return parse_json(text, f"{path} line {line}" if line else str(path), FinetuneError)
