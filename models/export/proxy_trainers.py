"""The proxy-task conversations (see proxy.py) in the layouts fine-tuning stacks read.

Every layout holds the same conversations; they differ in keys, file shape and in what
their media paths are relative to:

- ``llava/<task>.json``: LLaVA list of ``{id, image: [...] | video, conversations}``,
  paths relative to the export folder;
- ``messages/<task>.jsonl``: ``{id, messages, images | videos, [record]}`` per line, paths
  relative to the export folder;
- ``sharegpt/<task>.json`` + ``sharegpt/dataset_info.json``: LLaMA-Factory's sharegpt
  layout (``conversations`` of ``from: human|gpt`` turns, ``images`` / ``videos`` lists) and
  the file that registers each task for it. LLaMA-Factory joins a relative media path to
  its ``media_dir``, which defaults to the ``dataset_dir`` holding ``dataset_info.json``,
  so the paths here are relative to ``sharegpt/`` (``../frames/...``);
- ``swift/<task>.jsonl``: ms-swift's ``{messages: [{role, content}], images | videos}``
  per line. ms-swift opens a relative path from the working folder, or else under the
  ``ROOT_IMAGE_DIR`` environment variable, so the paths are relative to the export folder
  (run it there or set ``ROOT_IMAGE_DIR`` to it).

In every layout the user turn starts with one ``<image>`` / ``<video>`` tag per entry of
its media list. The two trainer layouts leave out a task that has no conversation (no
file, no ``dataset_info`` entry: both tools fail on an empty dataset); the LLaVA and
messages layouts keep writing an empty list / empty file for it. Copy-free exports
(``copy_videos=False``) point the trainer layouts at the source videos by absolute path,
the clips not being part of the export.
"""
from __future__ import annotations

from .base import ExportError, MissingVideosError, dumps_pretty, safe_identifier
from .media import contained_path, export_source, reference_path

LAYOUTS = ("llava", "messages", "sharegpt", "swift")
MEDIA_KEYS = ("images", "videos")
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt"}
ROLE_TO_SHAREGPT = {"user": "human", "assistant": "gpt"}


def parse_layouts(text) -> tuple[str, ...]:
    """``"llava,swift"`` (or a list) -> the layouts in their fixed order; None / "" / "all"
    -> every layout. An unknown or empty name raises ``ExportError``."""
    if text is None:
        return LAYOUTS
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text)]
    if names in ([""], ["all"]):
        return LAYOUTS
    bad = [n for n in names if n not in LAYOUTS]
    if bad or not names:
        shown = ", ".join(repr(n) for n in bad) or "none"
        raise ExportError(f"Unknown proxy-training layout {shown}; known: {', '.join(LAYOUTS)}")
    return tuple(n for n in LAYOUTS if n in names)


def layouts_of(options) -> tuple[str, ...]:
    return parse_layouts((options.extra or {}).get("layouts"))


def media_key(row: dict) -> str:
    return next(k for k in MEDIA_KEYS if k in row)


class MediaPaths:
    """Maps a path as the conversations hold it (relative to the export folder, or a
    record's own path in a copy-free export) to what a layout's file must say."""

    def __init__(self, sink, records, options) -> None:
        self.sink = sink
        self.sources: dict[str, str] = {}
        if not options.copy_videos:
            for rec in records:
                self.sources[reference_path(rec)] = str(export_source(rec, options.video_root))

    def __call__(self, rel: str, prefix: str) -> str:
        if rel in self.sink.written:
            return prefix + rel
        if rel in self.sources:
            return self.sources[rel]
        raise ExportError(f"Proxy-training export: no file for media path {rel!r}")


def sharegpt_row(row: dict, paths: MediaPaths) -> dict:
    key = media_key(row)
    turns = [{"from": ROLE_TO_SHAREGPT[m["role"]], "value": m["content"]}
             for m in row["messages"]]
    return {"id": row["id"], "conversations": turns,
            key: [paths(p, "../") for p in row[key]]}


def swift_row(row: dict, paths: MediaPaths) -> dict:
    key = media_key(row)
    return {"id": row["id"], "messages": [dict(m) for m in row["messages"]],
            key: [paths(p, "") for p in row[key]]}


def dataset_info(name: str, files: dict) -> dict:
    """LLaMA-Factory's registry of the written sharegpt files: task -> (file, media key)."""
    prefix = safe_identifier(name)
    return {f"{prefix}_{task}": {"file_name": file, "formatting": "sharegpt",
                                 "columns": {"messages": "conversations", key: key},
                                 "tags": dict(SHAREGPT_TAGS)}
            for task, (file, key) in files.items()}


def write_layouts(sink, sets: dict, records, options) -> dict:
    """Write the chosen layouts of ``sets`` (task -> [(llava, messages)]); returns
    layout -> {task: conversations written}."""
    layouts = layouts_of(options)
    paths = MediaPaths(sink, records, options)
    written: dict = {lay: {} for lay in layouts}
    info_files: dict = {}
    for task, items in sets.items():
        msgs = [b for _, b in items]
        if "llava" in layouts:
            sink.write_text(f"llava/{task}.json", dumps_pretty([a for a, _ in items]))
            written["llava"][task] = len(items)
        if "messages" in layouts:
            sink.write_lines(f"messages/{task}.jsonl", msgs)
            written["messages"][task] = len(items)
        if not msgs:
            continue
        if "sharegpt" in layouts:
            sink.write_text(f"sharegpt/{task}.json",
                            dumps_pretty([sharegpt_row(m, paths) for m in msgs]))
            info_files[task] = (f"{task}.json", media_key(msgs[0]))
            written["sharegpt"][task] = len(msgs)
        if "swift" in layouts:
            sink.write_lines(f"swift/{task}.jsonl", [swift_row(m, paths) for m in msgs])
            written["swift"][task] = len(msgs)
    if info_files:
        sink.write_text("sharegpt/dataset_info.json",
                        dumps_pretty(dataset_info(options.name, info_files)))
    return written


def readme_section(written: dict, counts: dict, name: str) -> str:
    """What each written layout is and how its trainer is pointed at it."""
    prefix = safe_identifier(name)
    parts = []
    if "llava" in written:
        parts.append("- `llava/<task>.json`: LLaVA-style list of `{id, image: [...] | video, "
                     "conversations}`\n  (`<image>` / `<video>` placeholders in the human turn); "
                     "paths are relative to this\n  folder (`frames/`, `videos/`).")
    if "messages" in written:
        parts.append("- `messages/<task>.jsonl`: one `{id, messages: [{role, content}], images | "
                     "videos}` per line\n  (QA lines also carry the full `record`); paths relative "
                     "to this folder.")
    if "sharegpt" in written:
        names = ", ".join(f"`{prefix}_{t}`" for t in written["sharegpt"]) or "none"
        parts.append("- `sharegpt/`: LLaMA-Factory sharegpt files and the `dataset_info.json` that "
                     f"registers them\n  ({names}); train with `dataset_dir: <this folder>/sharegpt` "
                     "(media paths are\n  relative to it).")
    if "swift" in written:
        parts.append("- `swift/<task>.jsonl`: ms-swift `messages` + `images` | `videos` lines; "
                     "media paths are\n  relative to this folder: run `swift sft --dataset "
                     "swift/<task>.jsonl` from here, or set\n  `ROOT_IMAGE_DIR` to this folder.")
    empty = [t for t, n in counts.items() if not n]
    if empty and ("sharegpt" in written or "swift" in written):
        parts.append(f"- No conversations for {', '.join(empty)}: the trainer layouts have no file "
                     "for it.")
    return "\n".join(parts)


def present_texts(descriptions, diffs, media) -> tuple[list, list]:
    """The pose descriptions and spatial differences whose video exists. Texts of a missing
    video raise ``MissingVideosError`` unless ``skip_missing``; then they are left out and
    listed in ``media.skipped`` (the export report's skipped items)."""
    options = media.options
    videos = sorted({str(d["video"]) for d in list(descriptions) + list(diffs)})
    where = {v: contained_path(v, options.video_root) for v in videos}
    gone = {v: str(path) for v, path in where.items() if not path.is_file()}
    if not gone:
        return list(descriptions), list(diffs)
    labels = {v: f"proxy texts of {v}" for v in gone}
    if not options.skip_missing:
        raise MissingVideosError([(labels[v], path) for v, path in gone.items()])
    for v, path in gone.items():
        n_pose = sum(str(d["video"]) == v for d in descriptions)
        n_diff = sum(str(d["video"]) == v for d in diffs)
        media.skipped.append((labels[v], f"video not found: {path} ({n_pose} pose description(s), "
                                         f"{n_diff} spatial difference(s) left out)"))
    return ([d for d in descriptions if str(d["video"]) not in gone],
            [d for d in diffs if str(d["video"]) not in gone])
