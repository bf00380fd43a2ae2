"""The QA sub-task taxonomy, loaded from ``resources/taxonomy.json`` (data, not code)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from .. import resources
from .errors import QAError

KINDS = ("spatial", "temporal", "spatial-temporal")
DERIVABLE = ("yes", "no", "partly")


@dataclass(frozen=True)
class SubTask:
    id: str
    kind: str
    asks_about: str
    derivable_from_pose: str
    generator: str  # "pose" (rule-based from facts), "text" (VLM from text) or "pairs"
    # (two people at once: models.qa.tasks.interaction.interaction_items)


def load_taxonomy(path: Optional[str] = None) -> dict[str, SubTask]:
    """Sub-tasks by id, in file order; a bad file raises QAError naming the entry."""
    if path is None:
        doc = resources.load_json("taxonomy.json")
    else:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    out: dict[str, SubTask] = {}
    for i, t in enumerate(doc.get("tasks", [])):
        try:
            task = SubTask(t["id"], t["kind"], t["asks_about"], t["derivable_from_pose"],
                           t.get("generator", "pose" if t["derivable_from_pose"] == "yes" else "text"))
        except (KeyError, TypeError):
            raise QAError(f"taxonomy entry {i + 1} lacks id/kind/asks_about/derivable_from_pose") from None
        if task.kind not in KINDS or task.derivable_from_pose not in DERIVABLE:
            raise QAError(f"taxonomy entry '{task.id}': unknown kind or derivable value")
        out[task.id] = task
    return out


def task_ids(generator: Optional[str] = None) -> list[str]:
    return [t.id for t in load_taxonomy().values() if generator in (None, t.generator)]
