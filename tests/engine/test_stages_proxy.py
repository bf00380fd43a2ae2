"""The MLLM proxy stages P1/P2/P3 with real parts: a real pose track of a real clip, the
rule-based backend, a tiny real transformers checkpoint, and a loopback HTTP server that
speaks the OpenAI chat API and gives crafted answers."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from models.engine.stage import ConfigError, Item, Task, get_stage, result_key
from models.jobs import JobContext
from models.engine.stages import proxy
from models.qa.record import QARecord, check_fields
from models.vlm.types import VLMError

CLIP = Path(__file__).resolve().parents[1] / "data" / "clips" / "tai_chi.mp4"
RAISE = "The person raises the left arm above the head."


# -- shared material: the clip's poses (extracted once) and a loopback server ----------------
@pytest.fixture(scope="module")
def track():
    from models.pose.extract import extract_video

    return extract_video(CLIP)


@pytest.fixture(scope="module")
def facts(track):
    from models.describe import track_facts

    return track_facts(track)


def _mcq_reply() -> str:
    return json.dumps({"items": [
        {"task": "body_part_pose", "question": "Where is the person's left hand?",
         "options": ["Above the head", "Behind the back", "On the hip", "On the knee"],
         "answer_index": 0, "evidence": ["T1"]},
        {"task": "spatial_difference", "question": "What does the left arm do from frame A to B?",
         "options": ["It is raised", "It is lowered", "It stays still", "It swings back"],
         "answer_index": 0, "evidence": ["T2"]},
        {"task": "body_part_pose", "question": "Which text says this?",
         "options": ["One", "Two", "Three", "Four"], "answer_index": 1, "evidence": ["T9"]},
        {"task": "body_part_pose", "question": "Bad options",
         "options": ["A. yes", "B. no", "C. maybe", "D. never"],
         "answer_index": 0, "evidence": ["T1"]}]})


REPLIES = {"raise": RAISE, "mcq": _mcq_reply(), "garbage": "Sure! Here are some questions: 1) ..."}


class _Chat(BaseHTTPRequestHandler):
    """``/<mode>/v1/...``: GET models lists one model; POST chat answers REPLIES[mode]
    (streamed or whole, with usage); mode ``fail`` answers HTTP 500."""
    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {"data": [{"id": "loop-model"}]})

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        mode = self.path.split("/")[1]
        type(self).seen.append((mode, payload))
        if mode == "fail":
            return self._send(500, {"error": {"message": "model crashed"}})
        text = REPLIES[mode]
        usage = {"prompt_tokens": 100, "completion_tokens": 9}
        if not payload.get("stream"):
            return self._send(200, {"choices": [{"message": {"content": text}}], "usage": usage,
                                    "system_fingerprint": "fp-loop-1"})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for i in range(0, len(text), 40):
            event = {"choices": [{"delta": {"content": text[i:i + 40]}}]}
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.wfile.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class RunContext(JobContext):
    """The job context of a run: it carries the run's [[endpoints]] to the stages."""

    def __init__(self, endpoints=()) -> None:
        super().__init__()
        self.endpoints = list(endpoints)


@pytest.fixture(scope="module")
def loop():
    """The server's URL and a context whose endpoint NAME answers like mode NAME."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    eps = [{"name": mode, "url": f"{url}/{mode}/v1", "model": "loop-model", "concurrency": 2}
           for mode in ("raise", "mcq", "garbage", "fail")]
    yield url, RunContext(eps)
    server.shutdown()
    server.server_close()


def _task(stage_name: str, track=None, upstream=None, **given) -> Task:
    stage = get_stage(stage_name)
    params = stage.params(given)
    ups = dict(upstream or {})
    if track is not None:
        ups["poses"] = proxy.pose_result(track)
    item = Item("c0ffee" * 4, str(CLIP), CLIP.name)
    return Task(result_key(item.id, stage, params, stage.model_id(params)), stage_name, item,
                params, ups, stage.model_id(params))


def _run(task: Task, ctx=None):
    return get_stage(task.stage).fn_many([task], ctx or RunContext())[0]


def _ok(result) -> dict:
    if isinstance(result, Exception):
        raise result
    json.dumps(result, allow_nan=False)          # a stage result is plain JSON values
    return result


# -- the contract ------------------------------------------------------------------------------
def test_stages_registered_as_batch_stages_with_versioned_templates():
    for name, needs, tid in ((proxy.P1, ("poses",), "p1_pose_description"),
                             (proxy.P2, ("poses",), "p2_spatial_difference"),
                             (proxy.P3, (proxy.P1, proxy.P2), "p3_mcq")):
        st = get_stage(name)
        assert st.fn_many is not None and st.batch > 1 and st.needs == needs
        assert st.model_param == "model" and st.resource == "endpoint"
        doc = json.loads((Path(proxy.__file__).parents[3] / "resources" / "prompts" / "proxy"
                          / f"{tid}.json").read_text())
        assert st.defaults["template"] == f"{doc['id']}@{doc['version']}"
        base = st.params()
        # the template version is part of the parameters, hence of the result key
        assert result_key("x", st, base) != result_key("x", st, dict(base, template=f"{tid}@2"))
        with pytest.raises(ConfigError, match="no parameter 'frame'"):
            st.params({"frame": 3})


def test_bad_template_version_and_policy_fail_the_task_with_a_clear_error(track):
    err = _run(_task(proxy.P1, track, model="rule", template="p1_pose_description@9"))
    assert isinstance(err, ConfigError) and "version 9" in str(err)
    err = _run(_task(proxy.P2, track, model="rule", contradictions="ignore"))
    assert isinstance(err, ConfigError) and "flag, drop" in str(err)
    err = _run(_task(proxy.P1, None, model="rule"))
    assert isinstance(err, ConfigError) and "poses" in str(err)


# -- rule backend: requests, sampling, grounding, provenance -------------------------------------
def test_p1_rule_backend_windows_frames_grounding_and_provenance(track):
    from models.video import probe
    from models.vlm.frames import FrameSelection, sample_indices
    from models.vlm.prompts import grounding_text

    res = _ok(_run(_task(proxy.P1, track, model="rule", windows=3, window_s=1.0, frames=4,
                         pose_grounding=True, seed=7)))
    info = probe(CLIP)
    wins = res["windows"]
    assert [w["window"] for w in wins] == [0, 1, 2]
    assert wins[0]["start_frame"] == 0 and wins[-1]["end_frame"] == len(track) - 1
    for w in wins:
        assert w["end_frame"] - w["start_frame"] + 1 == round(track.fps)
        # the same sampling as Ask / evaluation
        want = sample_indices(info, FrameSelection("uniform", 4, start=w["start_frame"],
                                                   end=w["end_frame"]))
        assert w["frame_indices"] == want
        assert w["frame_times"] == [round(track.time_of(i), 4) for i in want]
        facts = grounding_text(track, want)
        assert facts in w["prompt"]                     # pose-grounded: the facts are injected
        assert w["text"] == facts                       # the rule backend states them
        prov = w["provenance"]
        assert prov["backend"] == "rule" and prov["model_id"] == "rule-based-describer"
        assert prov["template_id"] == "p1_pose_description" and prov["template_version"] == "1"
        assert prov["seed"] == 7 and prov["generation_params"]["seed"] == 7
        assert prov["frame_indices"] == want and prov["pose_grounding"] is True
        assert prov["pose_backend"].startswith(track.backend)
        assert set(prov["stats"]) >= {"prompt_tokens", "completion_tokens", "total_s"}
        # the rule facts never contradict themselves
        assert w["contradictions"] == [] and w["status"] == "ok"
    assert res["counts"] == {"texts": 3, "kept": 3, "dropped": 0, "flagged": 0, "contradictions": 0}
    plain = _ok(_run(_task(proxy.P1, track, model="rule", windows=1, frames=2)))
    assert "Pose facts" not in plain["windows"][0]["prompt"]


def test_p2_rule_backend_pairs(track):
    res = _ok(_run(_task(proxy.P2, track, model="rule", pairs=3, gap_s=0.5, pose_grounding=True)))
    gap = round(0.5 * track.fps)
    assert [(p["frame_a"], p["frame_b"]) for p in res["pairs"]] == \
        [(0, gap), ((len(track) - 1 - gap) // 2, (len(track) - 1 - gap) // 2 + gap),
         (len(track) - 1 - gap, len(track) - 1)]
    for p in res["pairs"]:
        assert p["frame_indices"] == [p["frame_a"], p["frame_b"]]
        assert f"frames {p['frame_a']}, {p['frame_b']}" in p["prompt"]
        assert f"- frame {p['frame_b']}:" in p["prompt"]           # grounded with both frames
        assert p["text"] and p["status"] == "ok" and p["contradictions"] == []
        assert p["provenance"]["frame_times"] == [p["time_a"], p["time_b"]]


def test_p3_refuses_the_rule_backend(track):
    up = {proxy.P1: {"windows": []}, proxy.P2: {"pairs": []}}
    err = _run(_task(proxy.P3, upstream=up, model="rule"))
    assert isinstance(err, ConfigError) and "language model" in str(err)


# -- a real tiny transformers checkpoint: plumbing, not text --------------------------------------
def test_tiny_transformers_p1_and_unparsable_p3(track):
    from tests.vlm_fixtures import tiny_checkpoint

    ckpt = str(tiny_checkpoint("qwen2_5_vl"))
    res = _ok(_run(_task(proxy.P1, track, model=ckpt, windows=2, window_s=0.5, frames=2,
                         max_new_tokens=4)))
    assert res["counts"]["texts"] == 2
    for w in res["windows"]:
        prov = w["provenance"]
        assert prov["backend"] == "transformers" and prov["model_id"] == ckpt
        assert prov["model_revision"] and len(prov["frame_indices"]) == 2
        assert prov["generation_params"]["max_new_tokens"] == 4
        assert prov["stats"]["completion_tokens"] and prov["stats"]["completion_tokens"] <= 4
    up = {proxy.P1: res, proxy.P2: {"pairs": []}}
    p3 = _ok(_run(_task(proxy.P3, upstream=up, model=ckpt, max_new_tokens=6)))
    # random text is not JSON: recorded as an unusable output, never a crash
    assert p3["invalid_output"] is True and p3["items"] == []
    assert p3["rejected"] and p3["rejected"][0]["item"] is None
    assert p3["provenance"]["backend"] == "transformers"
    assert [s["id"] for s in p3["sources"]] == ["T1", "T2"]


# -- a loopback OpenAI server: contradictions, endpoint provenance, P3 records --------------------
def _below_and_above(facts, windows):
    """Windows whose measured left-hand heights are all below the head / include above."""
    lab = facts.labels("left_hand_above_head")
    below, above = set(), set()
    for w in windows:
        seen = [lab[i] for i in w["frame_indices"] if lab[i] is not None]
        if seen and all(s == "below" for s in seen):
            below.add(w["window"])
        if "above" in seen:
            above.add(w["window"])
    return below, above


def test_p1_contradiction_flagged_and_dropped(track, facts, loop):
    url, ctx = loop
    model = "endpoint:raise"
    _Chat.seen.clear()
    flag = _ok(_run(_task(proxy.P1, track, model=model, windows=10, window_s=1.0, frames=4), ctx))
    below, above = _below_and_above(facts, flag["windows"])
    assert below and above                                     # the test can tell both apart
    for w in flag["windows"]:
        assert w["text"] == RAISE and w["status"] == "ok"
        hits = [c for c in w["contradictions"] if c["quantity"] == "left_hand_above_head"]
        if w["window"] in below:
            assert hits and hits[0]["bin"] == "below" and hits[0]["claim"] == RAISE.rstrip(".")
            assert hits[0]["frame"] in w["frame_indices"]
        if w["window"] in above:
            assert w["contradictions"] == []
        prov = w["provenance"]
        assert prov["backend"] == "openai" and prov["model_id"] == "loop-model"
        assert prov["endpoint"].startswith(url) or prov["endpoint"] == "raise"   # URL or name
        assert prov["stats"]["prompt_tokens"] == 100 and prov["stats"]["completion_tokens"] == 9
    flagged = sum(bool(w["contradictions"]) for w in flag["windows"])
    assert flag["counts"]["flagged"] == flagged >= len(below)
    # what the server was sent: the window's frames and the rendered prompt (the batch is
    # served concurrently, so the requests arrive in any order)
    sent = [p for mode, p in _Chat.seen if mode == "raise"]
    assert len(sent) == 10
    for payload in sent:
        assert sum(p["type"] == "image_url" for p in payload["messages"][-1]["content"]) == 4
    assert sorted(p["messages"][-1]["content"][-1]["text"] for p in sent) == \
        sorted(w["prompt"] for w in flag["windows"])
    assert len({w["prompt"] for w in flag["windows"]}) == 10      # one distinct prompt each

    drop = _ok(_run(_task(proxy.P1, track, model=model, windows=10, window_s=1.0, frames=4,
                          contradictions="drop"), ctx))
    dropped = [w for w in drop["windows"] if w["status"] == "dropped"]
    assert drop["counts"]["dropped"] == len(dropped) == flagged and drop["counts"]["kept"] == 10 - flagged
    for w in dropped:
        assert w["text"] == RAISE and w["dropped_reasons"]      # kept for the audit
        if w["window"] in below:
            assert "left_hand_above_head" in " ".join(w["dropped_reasons"])
    assert below <= {w["window"] for w in dropped}


def test_p2_change_contradiction(track, facts, loop):
    res = _ok(_run(_task(proxy.P2, track, model="endpoint:raise", pairs=8, gap_s=2.0,
                         contradictions="drop"), loop[1]))
    col = facts.column("left_hand_above_shoulder")
    falls = rises = 0
    for p in res["pairs"]:
        change = facts.values[p["frame_b"], col] - facts.values[p["frame_a"], col]
        hit = [c for c in p["contradictions"] if c["state"] == "raises"]
        if change < -0.2:                                  # the left hand clearly drops
            falls += 1
            assert hit and p["status"] == "dropped" and hit[0]["frames"] == [p["frame_a"], p["frame_b"]]
        if change > 0:
            rises += 1
            assert not hit
    assert falls and rises


def _upstream_texts() -> dict:
    p1 = {"windows": [
        {"window": 0, "start_frame": 0, "end_frame": 29, "start_s": 0.0, "end_s": 1.0,
         "frame_indices": [3, 10, 17, 24], "text": "The left arm is raised above the head.",
         "status": "ok", "contradictions": [], "provenance": {"pose_backend": "mediapipe-full"}},
        {"window": 1, "start_frame": 30, "end_frame": 59, "start_s": 1.0, "end_s": 2.0,
         "frame_indices": [33, 40], "text": "SECRET-DROPPED The person sits on a chair.",
         "status": "dropped", "contradictions": [{"claim": "sits"}]}]}
    p2 = {"pairs": [
        {"pair": 0, "frame_a": 60, "frame_b": 90, "time_a": 2.0, "time_b": 3.0,
         "frame_indices": [60, 90], "text": "The left arm is raised from the hip to above the head.",
         "status": "ok", "contradictions": []}]}
    return {proxy.P1: p1, proxy.P2: p2}


def test_p3_builds_canonical_records_from_kept_texts(loop):
    _Chat.seen.clear()
    task = _task(proxy.P3, upstream=_upstream_texts(), model="endpoint:mcq",
                 questions=4, options=4, seed=3)
    res = _ok(_run(task, loop[1]))
    prompt = _Chat.seen[-1][1]["messages"][-1]["content"]
    text = prompt if isinstance(prompt, str) else prompt[-1]["text"]
    assert "[T1]" in text and "[T2]" in text and "SECRET-DROPPED" not in text
    assert res["counts"]["dropped_texts_left_out"] == 1 and res["counts"]["sources"] == 2
    assert res["invalid_output"] is False and len(res["items"]) == 2
    reasons = [r["reason"] for r in res["rejected"]]
    assert any("'T9'" in r for r in reasons) and any("letter" in r for r in reasons)
    recs = {r["task"]: r for r in res["items"]}
    for d in res["items"]:
        check_fields(d)                                         # the canonical schema
        rec = QARecord.from_dict(d)
        assert rec.video == str(CLIP) and rec.source == "loop-model"
        prov = d["provenance"]
        assert prov["model_id"] == "loop-model" and prov["prompt_template"] == "p3_mcq"
        assert prov["prompt_version"] == "1" and prov["seed"] == 3
        assert prov["generation_params"]["backend"] == "openai"
        assert prov["facts"][0]["quantity"] == "source_text" and prov["facts"][0]["person"] == 0
    pose = recs["body_part_pose"]
    assert pose["options"][pose["answer_index"]] == "Above the head"
    assert pose["start_s"] == 0.0 and pose["end_s"] == 1.0 and pose["frame_a"] is None
    assert pose["provenance"]["frame_indices"] == [3, 10, 17, 24]
    assert pose["provenance"]["pose_backend"] == "mediapipe-full"
    diff = recs["spatial_difference"]
    assert diff["options"][diff["answer_index"]] == "It is raised"
    assert (diff["frame_a"], diff["frame_b"]) == (60, 90)
    assert diff["provenance"]["facts"][0]["ref"] == "p2_differences:p0"


def test_p3_unparsable_output_and_no_texts(loop):
    res = _ok(_run(_task(proxy.P3, upstream=_upstream_texts(), model="endpoint:garbage"), loop[1]))
    assert res["invalid_output"] is True and res["items"] == []
    assert res["raw_output"].startswith("Sure!") and "not JSON" in res["rejected"][0]["reason"]
    _Chat.seen.clear()
    ups = {proxy.P1: {"windows": [dict(_upstream_texts()[proxy.P1]["windows"][1])]},
           proxy.P2: {"pairs": []}}
    empty = _ok(_run(_task(proxy.P3, upstream=ups, model="endpoint:mcq"), loop[1]))
    assert empty["items"] == [] and empty["skipped"] and _Chat.seen == []


def test_a_failing_endpoint_fails_only_its_own_tasks(track, loop):
    bad = _task(proxy.P1, track, model="endpoint:fail", windows=1, frames=2)
    good = _task(proxy.P1, track, model="endpoint:raise", windows=1, frames=2)
    out = get_stage(proxy.P1).fn_many([bad, good], loop[1])
    assert isinstance(out[0], VLMError) and "window 0" in str(out[0])
    assert isinstance(out[1], dict) and out[1]["windows"][0]["text"] == RAISE


def test_claims_reader_skips_negated_and_hedged_clauses_and_judges_postures(facts):
    from models.describe.claims import state_contradictions, text_claims

    assert text_claims("The person does not raise the left arm above the head.") == []
    assert text_claims("Both knees are slightly bent.") == []
    both = text_claims("Both knees are bent.")
    assert {(c.side, c.state) for c in both} == {("left", "bent"), ("right", "bent")}
    standing = facts.posture_labels.index("standing")
    frames = [i for i in range(len(facts)) if facts.postures[i].tolist().count(True) == 1
              and facts.postures[i, standing]][:4]
    assert frames
    hit = state_contradictions("The person is sitting on the floor.", facts, frames)
    assert hit and hit[0]["quantity"] == "posture" and hit[0]["bin"] == "standing"
    assert state_contradictions("The person is standing.", facts, frames) == []
    assert state_contradictions("The person is not sitting.", facts, frames) == []
