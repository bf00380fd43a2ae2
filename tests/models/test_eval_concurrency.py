"""Evaluation and QA from text asking several requests at once: real frames of real clips,
a real OpenAI-compatible loopback server (stdlib) that counts the requests it holds at once,
a real project file; the concurrent runs give the same report as one request at a time,
a failed request is that item's error only, and a cancelled run resumes where it stopped."""
from __future__ import annotations

import dataclasses
import json
import re
import threading
import zlib

import pytest

from models import eval_report
from models.errors import Cancelled
from models.evaluate import EvalSettings, run_eval, start_or_resume
from models.jobs import CancelToken, JobContext
from models.qa.from_text import TextSource, generate_from_text
from models.store import Repository
from models.vlm.openai_http import OpenAIBackend
from tests.conftest import CLIPS
from tests.models.export_samples import sample_records
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401
from tests.vlm_servers import LoopServer

SETTINGS = EvalSettings(frames=2, max_pixels=96 * 96, max_new_tokens=4)
WIDTH = 4


def records():
    """Eight items on real clips (the sample items and a variant of three of them)."""
    base = sample_records()
    extra = [dataclasses.replace(r, qa_id=f"{r.qa_id}b",
                                 question=f"Looking again at item {k}: which option holds?")
             for k, r in enumerate(base[:3])]
    return base + extra


def letter(question: str):
    """A deterministic answer that depends on the asked text (some right, some wrong)."""
    return ("ok", "ABC"[zlib.crc32(question.encode("utf-8")) % 3])


def backend(server: LoopServer) -> OpenAIBackend:
    return OpenAIBackend(server.url, model="loop-model", stream=False, retries=0,
                         label="loop model")


def evaluate(path, server, max_concurrency, token=None, on_progress=None):
    """(report markdown, answers, qa ids in the order their answers came, score)."""
    repo = Repository(path)
    try:
        b = backend(server)
        run_id = start_or_resume(repo, b, records(), SETTINGS)
        order: list = []
        ctx = JobContext(on_progress=on_progress, on_partial=order.append, token=token)
        s = run_eval(repo, run_id, b, str(CLIPS), ctx, max_concurrency)
        md = eval_report.to_markdown(*eval_report.report(repo, [run_id]))
        answers = {q: (a["raw"], a["parsed"], a["correct"], a["abstained"])
                   for q, a in repo.eval_answers(run_id).items()}
        return md, answers, order, s, repo.eval_run(run_id)["status"]
    finally:
        repo.close()


def test_four_requests_in_flight_and_the_same_report_as_one_at_a_time(tmp_path):
    with LoopServer(lambda n, q: letter(q)) as one:
        serial = evaluate(tmp_path / "serial.aastudio", one, 1)
        assert one.max_in_flight == 1 and one.count == 8
    # the gate holds each request until four are there: they can only pass together
    with LoopServer(lambda n, q: letter(q), gate=threading.Barrier(WIDTH)) as four:
        many = evaluate(tmp_path / "many.aastudio", four, WIDTH)
        assert four.max_in_flight == WIDTH and four.count == 8
    md, answers, order, s, status = many
    assert status == "done" and s.pending == 0 and s.errors == {}
    assert md == serial[0] and answers == serial[1]
    assert [a["qa_id"] for a in order] == [a["qa_id"] for a in serial[2]] and len(order) == 8
    assert 0 < s.correct < s.n == 8          # the report says something


def test_a_failed_request_is_that_items_error_only_and_is_asked_again(tmp_path):
    failing = sample_records()[1]
    path = tmp_path / "fail.aastudio"

    def behaviour(n, question):
        return ("500", "model crashed") if failing.question in question else letter(question)

    with LoopServer(behaviour) as server:
        md, answers, order, s, status = evaluate(path, server, WIDTH)
        assert server.count == 8
    assert list(s.errors) == [failing.qa_id] and "500" in s.errors[failing.qa_id]
    assert status == "failed" and s.pending == 1 and s.n == 7
    assert failing.qa_id not in answers and len(answers) == 7
    shown = {a["qa_id"]: a for a in order}
    assert len(order) == 8 and shown[failing.qa_id]["error"] == s.errors[failing.qa_id]
    assert all("error" not in a for q, a in shown.items() if q != failing.qa_id)
    with LoopServer(lambda n, q: letter(q)) as fixed:     # running again asks that item only
        md, answers, order, s, status = evaluate(path, fixed, WIDTH)
        assert fixed.count == 1 and failing.question in fixed.questions[0]
    assert status == "done" and s.pending == 0 and len(answers) == 8 and s.errors == {}


def test_every_request_failing_is_an_error_of_the_run(tmp_path):
    from models.evaluate import EvalError

    with LoopServer(lambda n, q: ("500", "down for maintenance")) as server:
        with pytest.raises(EvalError, match="No item got an answer"):
            evaluate(tmp_path / "down.aastudio", server, WIDTH)
        assert server.count == 8


@pytest.mark.parametrize("where", ["between chunks", "inside a chunk"])
def test_a_cancelled_run_resumes_without_asking_answered_items(tmp_path, where):
    path = tmp_path / "cancel.aastudio"
    token = CancelToken()

    def behaviour(n, question):
        if where == "inside a chunk" and n == WIDTH + 1:
            token.cancel()                 # while the second chunk is in flight
        return letter(question)

    def progress(done, total, label):
        if where == "between chunks" and done == WIDTH:   # once the first chunk is stored
            token.cancel()

    with LoopServer(behaviour) as server:
        with pytest.raises(Cancelled):
            evaluate(path, server, WIDTH, token, progress)
        asked_first = list(server.questions)
    repo = Repository(path)
    run = repo.eval_runs()[0]
    answered = set(repo.eval_answers(run["id"]))
    repo.close()
    assert run["status"] == "cancelled" and len(answered) == WIDTH
    if where == "between chunks":
        assert len(asked_first) == WIDTH
    else:                                  # the second chunk was on its way, none stored
        assert WIDTH + 2 <= len(asked_first) <= 2 * WIDTH
    with LoopServer(lambda n, q: letter(q)) as resumed:
        md, answers, order, s, status = evaluate(path, resumed, WIDTH)
        asked_again = list(resumed.questions)
    assert status == "done" and len(answers) == 8 and s.pending == 0
    assert len(asked_again) == 8 - WIDTH == len(order)
    asked_ids = {r.qa_id for r in records() if any(r.question in t for t in asked_again)}
    assert asked_ids == {a["qa_id"] for a in order} == {r.qa_id for r in records()} - answered


# -- QA from text ---------------------------------------------------------------------------------
def qa_json(text: str) -> str:
    """Two valid items about the source text (the model's answer to the template)."""
    k = re.search(r"caption (\d+)", text)
    n = k.group(1) if k else "?"
    return json.dumps({"items": [
        {"task": "action_sequence", "question": f"What happens first in scene {n}?",
         "options": [f"step {n}a", f"step {n}b", f"step {n}c", f"step {n}d"], "answer_index": 0},
        {"task": "human_object_interaction", "question": f"What is held in scene {n}?",
         "options": ["a cup", "a ball", "a book", "nothing"], "answer_index": int(n) % 4}]})


def sources():
    return [TextSource(f"clip{i % 3}.mp4", f"In caption {i} a person lifts a cup, then waves.",
                       ref=f"caption:{i}") for i in range(8)]


def from_text(path, server, max_concurrency):
    repo = Repository(path)
    try:
        stats = generate_from_text(repo, backend(server), sources(),
                                   max_concurrency=max_concurrency)
        recs = sorted((r.to_dict() for r in repo.qa_records()), key=lambda d: d["qa_id"])
        for d in recs:
            d.pop("review", None)
        return stats, recs
    finally:
        repo.close()


def test_qa_from_text_asks_four_at_once_and_stores_the_same_items(tmp_path):
    with LoopServer(lambda n, q: ("ok", qa_json(q))) as one:
        serial_stats, serial = from_text(tmp_path / "s.aastudio", one, 1)
        assert one.max_in_flight == 1 and one.count == 8
    with LoopServer(lambda n, q: ("ok", qa_json(q)), gate=threading.Barrier(WIDTH)) as four:
        stats, many = from_text(tmp_path / "m.aastudio", four, WIDTH)
        assert four.max_in_flight == WIDTH and four.count == 8
    assert len(many) == 16 and many == serial
    assert (stats.outputs, stats.items, stats.failed) == (serial_stats.outputs, 16, 0)


def test_qa_from_text_counts_a_failed_source_and_asks_it_again(tmp_path):
    path = tmp_path / "f.aastudio"

    def behaviour(n, q):
        return ("500", "busy") if "caption 5 " in q else ("ok", qa_json(q))

    with LoopServer(behaviour) as server:
        stats, recs = from_text(path, server, WIDTH)
    assert stats.failed == 1 and stats.outputs == 7 and len(recs) == 14
    assert any("no answer" in reason for _v, reason in stats.reasons)
    with LoopServer(lambda n, q: ("ok", qa_json(q))) as fixed:
        stats, recs = from_text(path, fixed, WIDTH)
        assert fixed.count == 1 and "caption 5 " in fixed.questions[0]
    assert stats.failed == 0 and len(recs) == 16


def test_eval_cli_concurrency_flag_and_a_failed_item(tmp_path):
    """``main.py eval --concurrency 4`` against the loopback server: four requests held
    at once, the report printed, the failed item one ``error:`` line and exit status 1;
    running it again asks that item only and succeeds."""
    import subprocess
    import sys

    from tests.conftest import REPO

    qa = tmp_path / "set.jsonl"
    qa.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records()))
    failing = records()[6]
    calls = {"fail": True}

    def behaviour(n, question):
        if calls["fail"] and failing.question in question:
            return ("500", "model crashed")
        return letter(question)

    def cli(url, *extra):
        return subprocess.run([sys.executable, str(REPO / "main.py"), "eval",
                               str(tmp_path / "c.aastudio"), "--model", f"{url}#loop-model",
                               "--qa-file", str(qa), "--video-root", str(CLIPS), "--frames", "2",
                               "--max-new-tokens", "4", "--quiet", *extra],
                              capture_output=True, text=True, timeout=600, cwd=str(REPO))

    with LoopServer(behaviour, gate=threading.Barrier(WIDTH)) as server:
        r = cli(server.url, "--concurrency", str(WIDTH))
        assert server.max_in_flight == WIDTH
    assert r.returncode == 1 and "overall (micro)" in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith(
        f"error: 1 item(s) got no answer (first: {failing.qa_id}: ")
    calls["fail"] = False
    with LoopServer(behaviour) as server:
        again = cli(server.url)
        assert server.count == 1 and failing.question in server.questions[0]
    assert again.returncode == 0, again.stderr
    assert "| 8 |" in [ln for ln in again.stdout.splitlines() if "overall (micro)" in ln][0]
    bad = cli("http://127.0.0.1:9/v1", "--concurrency", "0")
    assert bad.returncode == 2 and bad.stderr.startswith("error: argument --concurrency: 0 must")


def test_a_local_model_answers_alone_by_default_and_in_batches_when_asked(tiny_ckpt):
    from models.evaluate import answer_items, open_backend
    from models.vlm_request import default_concurrency

    local = open_backend(str(tiny_ckpt("qwen2_5_vl")), "cpu")
    assert default_concurrency(local) == 1 and default_concurrency(backend_stub()) == 8
    recs = records()[:4]
    alone = list(answer_items(local, recs, SETTINGS, str(CLIPS)))
    batched = list(answer_items(local, recs, SETTINGS, str(CLIPS), max_concurrency=2))
    assert [a["qa_id"] for a in batched] == [a["qa_id"] for a in alone]
    assert all(a["error"] is None and a["raw"] is not None for a in alone + batched)


def backend_stub() -> OpenAIBackend:
    return OpenAIBackend("http://127.0.0.1:9/v1", model="m")   # never contacted
