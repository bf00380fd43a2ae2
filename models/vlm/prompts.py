"""Prompt templates (``resources/prompts/*.json`` with ``"use": "ask"``) and rendering.

A template has an ``id``, a ``version``, a ``text`` with ``{placeholders}`` (question,
options, n_frames, frame_list, duration_s) and an optional ``system`` text. Optional pose
grounding appends the rule-based facts of the sampled frames (``models.describe``).
"""
from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .. import resources
from .types import VLMError, messages_for

LETTERS = "ABCDEFGH"
FREE_FORM = "free"          # no template: the question is the whole prompt


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: str
    title: str
    text: str
    system: str = ""
    frames: str = "clip"               # "clip" | "frame" | "pair": the frames it expects
    defaults: dict = field(default_factory=dict)

    @property
    def placeholders(self) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(self.text) if name}


FREE = PromptTemplate(FREE_FORM, "1", "Free question", "{question}")


def load_templates() -> dict[str, PromptTemplate]:
    out = {FREE.id: FREE}
    for f in sorted(resources.path("prompts").glob("*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        if data.get("use") != "ask":
            continue
        out[data["id"]] = PromptTemplate(
            data["id"], str(data["version"]), data.get("title", data["id"]), data["text"],
            data.get("system", ""), data.get("frames", "clip"), dict(data.get("defaults", {})))
    return out


def get_template(template_id: Optional[str]) -> PromptTemplate:
    templates = load_templates()
    tid = template_id or FREE_FORM
    if tid not in templates:
        raise VLMError(f"Unknown prompt template '{tid}'; available: {', '.join(templates)}")
    return templates[tid]


def format_options(options: Sequence[str]) -> str:
    if len(options) > len(LETTERS):
        raise VLMError(f"At most {len(LETTERS)} options are supported")
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))


def render(template: PromptTemplate, question: str = "", options: Sequence[str] = (),
           frame_indices: Sequence[int] = (), duration_s: float = 0.0,
           grounding: str = "") -> str:
    """The user prompt text; raises a clear error for a missing question or options."""
    question = (question or "").strip() or str(template.defaults.get("question", ""))
    needs = template.placeholders
    if "question" in needs and "question" not in template.defaults and not question:
        raise VLMError("The question is empty; type a question or choose a template")
    if "options" in needs and len(options) < 2:
        raise VLMError(f"Template '{template.id}' needs at least two answer options")
    values = {"question": question, "options": format_options(options),
              "n_frames": len(frame_indices), "duration_s": f"{duration_s:.1f}",
              "frame_list": ", ".join(str(i) for i in frame_indices)}
    text = template.text.format_map(values).strip()
    if not text:
        raise VLMError("The prompt is empty; type a question or choose a template")
    if grounding:
        text += "\n\nPose facts measured from the sampled frames (rule-based, may be " \
                "incomplete):\n" + grounding
    return text


def build_messages(template: PromptTemplate, prompt: str) -> list[dict]:
    return messages_for(prompt, template.system or None)


# -- pose grounding ----------------------------------------------------------------------------
def describer_available() -> bool:
    import importlib.util  # noqa: PLC0415

    return importlib.util.find_spec("models.describe") is not None


def grounding_text(track, frame_indices: Sequence[int]) -> str:
    """One line per sampled frame: the rule-based description of its pose."""
    if not describer_available():
        raise VLMError("Pose grounding needs the rule-based describer (models.describe), "
                       "which is not part of this build; turn pose grounding off")
    if track is None:
        raise VLMError("Pose grounding needs the clip's poses: extract poses first, or "
                       "turn pose grounding off")
    from ..describe import describe, pose_facts  # noqa: PLC0415

    lines = []
    for i in frame_indices:
        try:
            text = describe(pose_facts(track, frame=int(i)))
        except Exception as exc:  # noqa: BLE001 (describer errors are user-facing text)
            text = f"(no pose: {exc})"
        lines.append(f"- frame {int(i)}: {text or '(no pose detected)'}")
    return "\n".join(lines)
