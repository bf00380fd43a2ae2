"""Check an exported lmms-eval task folder with the REAL lmms-eval (run in the side venv).

    python check_lmms_eval_export.py DIR GROUP PREDICTIONS.json

PREDICTIONS maps qa_id -> the model's free-text output. A fake model returns those texts;
lmms-eval's own evaluator loads the tasks (TaskManager include_path), builds the docs,
calls the exported process_results and aggregations, and consolidates the group. The last
stdout line is JSON: {"tasks": {name: {"n": docs, "accuracy": %}}, "group": %, ...}.
"""
import json
import os
import sys


def _replay_class(lmms, preds, seen, simple: bool):
    """A fake model replaying PREDICTIONS; checks every visual the task hands it exists.
    simple=False takes lmms-eval's chat path (messages built from doc_to_visual/_text)."""

    class Replay(lmms):
        is_simple = simple

        def generate_until(self, requests):
            out = []
            for req in requests:
                # simple: (ctx, gen_kwargs, doc_to_visual, ...); chat: (ctx, doc_to_messages, ...)
                doc_id, task, split = req.args[3:6]
                doc = self.task_dict[task][split][doc_id]
                if simple:
                    paths = list(req.args[2](doc))
                else:
                    content = req.args[1](doc)[0]["content"]
                    paths = [c.get("url") or c.get("path") or c.get(c["type"])
                             for c in content if c["type"] in ("video", "image")]
                    seen["chat_texts"] += sum(1 for c in content if c["type"] == "text")
                seen["visual_missing"] += [p for p in paths if not os.path.isfile(str(p))]
                seen["visuals"] += len(paths)
                seen["prompts"] += 1
                out.append(preds.get(doc["qa_id"], ""))
            return out

        def loglikelihood(self, requests):
            raise NotImplementedError

        def generate_until_multi_round(self, requests):
            raise NotImplementedError

    return Replay


def evaluate(folder, group, preds, simple: bool) -> dict:
    from lmms_eval import evaluator
    from lmms_eval.api.model import lmms
    from lmms_eval.tasks import TaskManager

    tm = TaskManager(include_path=folder, include_defaults=False)
    seen = {"visual_missing": [], "prompts": 0, "visuals": 0, "chat_texts": 0}
    model = _replay_class(lmms, preds, seen, simple)()
    res = evaluator.simple_evaluate(model=model, tasks=[group], task_manager=tm,
                                    log_samples=False, bootstrap_iters=0, verbosity="ERROR")
    results = res["results"]
    tasks = {name: {"n": res["n-samples"][name]["effective"],
                    "accuracy": results[name]["accuracy,none"]}
             for name in results if name != group}
    return dict(seen, found=sorted(t for t in tm.all_tasks if t.startswith(group)), tasks=tasks,
                group=results.get(group, {}).get("accuracy,none"))


def main(folder, group, pred_file):
    preds = json.load(open(pred_file, encoding="utf-8"))
    simple = evaluate(folder, group, preds, simple=True)
    chat = evaluate(folder, group, preds, simple=False)
    print(json.dumps(dict(simple, chat=chat)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
