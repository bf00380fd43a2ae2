"""lmms-eval task folder, loaded with ``--include_path DIR``.

Layout: a group YAML, a shared template, one YAML per sub-task pointing at its own JSONL
(``dataset_path: json``, relative ``data_files`` resolved against the YAML's folder), a
``utils.py`` whose answer parser is this app's own (its source is copied in), the clips
under ``videos/`` and a README with the run command. The video root comes from an
environment variable and defaults to the task folder itself.
"""
from __future__ import annotations

import json
import sys

from ..jobs import NULL_CONTEXT
from .base import parser_source, safe_identifier, unique_ids
from .rows import flat_row
from .runner import run_export

ID = "lmms-eval"
LABEL = "lmms-eval task folder"
DESCRIPTION = ("Group YAML + one YAML per sub-task + utils.py + JSONL + clips; run with "
               "`python -m lmms_eval --include_path DIR --tasks NAME`.")
NEEDS_VIDEO = True
TEMPLATE = "_default_template_yaml"


def task_ids(records, group: str) -> dict:
    """sub-task id -> lmms-eval task name, sorted (distinct even for look-alike ids)."""
    return {t: f"{group}_{ident}" for t, ident in unique_ids(r.task for r in records).items()}


def write(records, sink, media, options, ctx=NULL_CONTEXT) -> int:
    group = safe_identifier(options.name)
    names = task_ids(records, group)
    by_task: dict = {t: [] for t in names}
    for k, rec in enumerate(records):
        ctx.check()
        by_task[rec.task].append(flat_row(rec, media.video(rec)))
        ctx.progress(k + 1, len(records), "writing lmms-eval items")
    for task, name in names.items():
        ident = name[len(group) + 1:]
        data = f"data/{ident}.jsonl"
        sink.write_lines(data, by_task[task])
        sink.write_text(f"{name}.yaml", task_yaml(name, ident, data))
    sink.write_text(f"_{group}.yaml", group_yaml(group, list(names.values())))
    sink.write_text(TEMPLATE, template_yaml())
    sink.write_text("utils.py", utils_source(options.video_root_env))
    sink.write_text("README.md", readme(group, names, options.video_root_env, len(records)))
    return len(records)


def task_yaml(name: str, ident: str, data: str) -> str:
    q = json.dumps  # JSON strings are YAML double-quoted scalars ("yes" stays a string)
    return (f"include: {TEMPLATE}\n"
            f"task: {q(name)}\n"
            f"task_alias: {q(ident)}\n"
            "dataset_kwargs:\n"
            "  data_files:\n"
            f"    test: {q(data)}\n"
            "metadata:\n"
            "  version: 1.0\n"
            f"  sub_task: {q(ident)}\n")


def group_yaml(group: str, names: list) -> str:
    lines = [f"group: {json.dumps(group)}", "task:"] + [f"  - {json.dumps(n)}" for n in names]
    lines += ["aggregate_metric_list:", "  - metric: accuracy", "    aggregation: mean",
              "    weight_by_size: false", "metadata:", "  version: 1.0", ""]
    return "\n".join(lines)


def template_yaml() -> str:
    return """dataset_path: json
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: !function utils.doc_to_target
process_results: !function utils.process_results
metric_list:
  - metric: accuracy
    aggregation: !function utils.aggregate_accuracy
    higher_is_better: true
generation_kwargs:
  max_new_tokens: 16
  temperature: 0
  do_sample: false
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: ""
"""


_UTILS_TAIL = '''

# ---- lmms-eval hooks -----------------------------------------------------------------
import os

VIDEO_ROOT_ENV = {env!r}
_HERE = os.path.dirname(os.path.abspath(__file__))


def video_root():
    return os.environ.get(VIDEO_ROOT_ENV) or _HERE


def doc_to_visual(doc):
    return [os.path.join(video_root(), doc["media"])]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kw = lmms_eval_specific_kwargs or {{}}
    text = build_mcq_prompt(doc["question"], doc["options"])
    return f"{{kw.get('pre_prompt', '')}}{{text}}{{kw.get('post_prompt', '')}}"


def doc_to_target(doc):
    return PARSE_LETTERS[int(doc["answer_index"])]


def process_results(doc, results):
    pred = results[0] if results else ""
    parsed = parse_choice(pred, doc["options"])
    correct = parsed is not None and parsed == int(doc["answer_index"])
    return {{"accuracy": {{"qa_id": doc["qa_id"], "task": doc["task"], "parsed": parsed,
                          "answer_index": int(doc["answer_index"]), "correct": bool(correct)}}}}


def aggregate_accuracy(results):
    if not results:
        return 0.0
    return 100.0 * sum(1 for r in results if r["correct"]) / len(results)
'''


def utils_source(env: str) -> str:
    head = ('"""lmms-eval hooks for an ActionArt Studio export (generated; the answer parser\n'
            'below is the app\'s own, so scores match the app)."""\n')
    return head + parser_source() + _UTILS_TAIL.format(env=env)


def readme(group: str, names: dict, env: str, count: int) -> str:
    tasks = "\n".join(f"- `{n}` ({t})" for t, n in names.items())
    return f"""# {group}: lmms-eval task folder

Exported by ActionArt Studio: {count} multiple-choice video questions in {len(names)} sub-tasks.

{tasks}

The group `{group}` reports accuracy (%) per sub-task and their unweighted mean.

## Run

```bash
# optional: where the videos are (default: this folder, which holds videos/)
export {env}=/path/to/this/folder
python -m lmms_eval --model qwen2_5_vl \\
    --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
    --tasks {group} --include_path /path/to/this/folder --batch_size 1
```
"""


def export(records, out_dir, options=None, ctx=NULL_CONTEXT):
    return run_export(sys.modules[__name__], records, out_dir, options, ctx)
