"""Proxy-task training data (the ActionArt paper's three proxy tasks) as chat conversations.

- ``pose_description``: one frame -> a description of the body configuration;
- ``spatial_difference``: frame A + frame B -> what changed in the body;
- ``synth_qa``: the item's clip + the MCQ prompt -> the answer ("B. <option text>").

Four layouts of each (``options.extra["layouts"]`` picks some; default all): LLaVA-style
``llava/<task>.json`` (a list of ``{id, image|video, conversations: [{from: human|gpt,
value}]}``), ``messages/<task>.jsonl`` (``{messages: [{role, content}], images|videos:
[...]}``), LLaMA-Factory's ``sharegpt/`` and ms-swift's ``swift/`` (proxy_trainers.py).
Frames (JPEG) and clips are written beside.
Descriptions come from ``options.extra["pose_descriptions"]`` / ``["spatial_differences"]``
(lists of dicts: video, frame | frame_a + frame_b, text, optionally ``person_referent``)
and, failing that, from the facts in the records' provenance that carry a ``text``. A
description about one of several people asks about that person by their referent ("the
person on the left"); each QA conversation carries its full record (person included).
"""
from __future__ import annotations

import sys

from ..answer_parse import build_mcq_prompt
from ..jobs import NULL_CONTEXT
from ..qa.record import LETTERS
from .base import safe_name
from .proxy_trainers import present_texts, readme_section, write_layouts
from .rows import canonical_row
from .runner import run_export

ID = "proxy-training"
LABEL = "Proxy-task training data"
DESCRIPTION = ("Chat conversations for pose description, spatial differences and "
               "synthesized QA, in LLaVA `conversations` JSON, `messages` JSONL, "
               "LLaMA-Factory sharegpt and ms-swift JSONL.")
NEEDS_VIDEO = True
NEEDS_FRAMES = True
POSE_PROMPT = "Describe the body pose of the person in this frame."
PERSON_POSE_PROMPT = "Describe the body pose of {person} in this frame."
DIFF_PROMPT = ("The first image is frame A, the second is frame B. Describe what changed in "
               "the person's body from frame A to frame B.")


def frame_paths(media, descriptions, diffs) -> dict:
    """(video, frame) -> JPEG path for every frame the texts show; one pass per video."""
    wanted: dict = {}
    for items, keys in ((descriptions, ("frame",)), (diffs, ("frame_a", "frame_b"))):
        for d in items:
            wanted.setdefault(d["video"], set()).update(int(d[k]) for k in keys)
    out: dict = {}
    for video, frames in wanted.items():
        frames = sorted(frames)
        out.update(((video, f), p) for f, p in
                   zip(frames, media.frame_files_at(video, frames, clamp=True)))
    return out


def facts_descriptions(records) -> list:
    """Pose descriptions carried by the records' facts ({frame, text}), deduplicated."""
    from ..qa.person_text import personal  # noqa: PLC0415

    seen: dict = {}
    for rec in records:
        ref = rec.person_referent if personal(rec.person_referent) else ""
        for fact in rec.provenance.facts or []:
            if isinstance(fact, dict) and fact.get("text") and fact.get("frame") is not None:
                seen.setdefault((rec.video, int(fact["frame"]), ref), []).append(str(fact["text"]))
    out = []
    for (v, f, ref), t in sorted(seen.items()):
        out.append({"video": v, "frame": f, "text": " ".join(dict.fromkeys(t))})
        if ref:
            out[-1]["person_referent"] = ref
    return out


def conversation(sample_id: str, visual_key: str, visual, prompt: str, answer: str,
                 tag: str) -> tuple[dict, dict]:
    n = len(visual) if isinstance(visual, list) else 1
    llava = {"id": sample_id, visual_key: visual, "conversations": [
        {"from": "human", "value": f"{tag}\n" * n + prompt},
        {"from": "gpt", "value": answer}]}
    msgs = {"id": sample_id, visual_key + "s": visual if isinstance(visual, list) else [visual],
            "messages": [{"role": "user", "content": tag * n + prompt},
                         {"role": "assistant", "content": answer}]}
    return llava, msgs


def pose_items(paths, descriptions) -> list:
    out = []
    for d in sorted(descriptions, key=lambda d: (str(d["video"]), int(d["frame"]),
                                                 str(d.get("person_referent") or ""))):
        frames = [paths[d["video"], int(d["frame"])]]
        ref = d.get("person_referent")
        sid = safe_name(f"pose_{d['video']}_{int(d['frame'])}" + (f"_{ref}" if ref else ""))
        prompt = PERSON_POSE_PROMPT.format(person=ref) if ref else POSE_PROMPT
        out.append(conversation(sid, "image", frames, prompt, d["text"], "<image>"))
    return out


def diff_items(paths, diffs) -> list:
    out = []
    for d in sorted(diffs, key=lambda d: (str(d["video"]), int(d["frame_a"]), int(d["frame_b"]))):
        frames = list(dict.fromkeys(paths[d["video"], int(d[k])] for k in ("frame_a", "frame_b")))
        sid = safe_name(f"diff_{d['video']}_{int(d['frame_a'])}_{int(d['frame_b'])}")
        out.append(conversation(sid, "image", frames, DIFF_PROMPT, d["text"], "<image>"))
    return out


def qa_items(media, records, ctx) -> list:
    out = []
    for k, rec in enumerate(records):
        ctx.check()
        answer = f"{LETTERS[rec.answer_index]}. {rec.options[rec.answer_index]}"
        prompt = build_mcq_prompt(rec.question, rec.options)
        llava, msgs = conversation(rec.qa_id, "video", media.video(rec), prompt, answer, "<video>")
        llava["record"] = msgs["record"] = canonical_row(rec)  # every field of the item
        out.append((llava, msgs))
        ctx.progress(k + 1, len(records), "writing QA conversations")
    return out


def write(records, sink, media, options, ctx=NULL_CONTEXT) -> int:
    extra = options.extra or {}
    descriptions = extra.get("pose_descriptions") or facts_descriptions(records)
    diffs = extra.get("spatial_differences") or []
    descriptions, diffs = present_texts(descriptions, diffs, media)
    paths = frame_paths(media, descriptions, diffs)
    sets = {"pose_description": pose_items(paths, descriptions),
            "spatial_difference": diff_items(paths, diffs),
            "synth_qa": qa_items(media, records, ctx)}
    written = write_layouts(sink, sets, records, options)
    counts = {k: len(v) for k, v in sets.items()}
    sink.write_text("README.md", readme(counts, readme_section(written, counts, options.name)))
    return sum(counts.values())


def readme(counts: dict, layouts: str) -> str:
    lines = "\n".join(f"- `{t}`: {n} conversations" for t, n in counts.items())
    return f"""# Proxy-task training data (ActionArt Studio export)

{lines}

{layouts}
"""


def export(records, out_dir, options=None, ctx=NULL_CONTEXT):
    return run_export(sys.modules[__name__], records, out_dir, options, ctx)
