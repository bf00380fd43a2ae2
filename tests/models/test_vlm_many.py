"""Stateless backends and many requests at once: concurrent answers on one backend keep
their own stats, ``generate_many`` bounds its concurrency, the endpoint pool fails over
from 500s and garbage to a good endpoint, and the local backend batches."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from models.errors import Cancelled
from models.jobs import CancelToken, JobContext
from models.vlm.many import Generated, generate_many, generate_one
from models.vlm.openai_http import OpenAIBackend
from models.vlm.pool import Endpoint, EndpointPool, PoolDown
from models.vlm.rule_backend import RuleBackend
from models.vlm.types import GenerationParams, VLMError, VLMRequest, messages_for
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401
from tests.vlm_servers import LoopServer


def _req(i: int, n_frames: int = 0, max_new_tokens: int = 4) -> VLMRequest:
    rng = np.random.default_rng(i)
    frames = [rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(n_frames)]
    return VLMRequest(messages_for(f"q{i}"), frames, GenerationParams(max_new_tokens=max_new_tokens))


def test_concurrent_answers_on_one_backend_keep_their_own_stats():
    with LoopServer(gate=threading.Barrier(4)) as srv:
        b = OpenAIBackend(srv.url, model="loop-model", stream=False)
        out = generate_many(b, [_req(i) for i in (3, 5, 7, 11)], max_concurrency=4)
        assert srv.max_in_flight == 4                      # they really overlapped
    assert [o.text for o in out] == [f"answer to q{i}" for i in (3, 5, 7, 11)]
    assert [o.stats.prompt_tokens for o in out] == [3, 5, 7, 11]   # each its own usage
    assert all(o.endpoint == srv.url and o.info.model_id == "loop-model" for o in out)
    assert not hasattr(b, "stats")


def test_concurrent_generate_calls_from_threads_share_no_stats():
    """Two threads iterate ``generate`` of one backend at the same time."""
    with LoopServer(gate=threading.Barrier(2)) as srv:
        b = OpenAIBackend(srv.url, model="loop-model", stream=False)
        got = {}

        def ask(i):
            got[i] = generate_one(b, _req(i))

        threads = [threading.Thread(target=ask, args=(i,)) for i in (2, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert got[2].stats.prompt_tokens == 2 and got[9].stats.prompt_tokens == 9


def test_generate_many_bounds_concurrency_and_records_errors_in_place():
    behaviour = lambda n, q: ("500", "boom") if q == "q4" else ("ok", q.upper())  # noqa: E731
    with LoopServer(behaviour) as srv:
        b = OpenAIBackend(srv.url, model="loop-model", stream=False, retries=0)
        out = generate_many(b, [_req(i) for i in range(10)], max_concurrency=3)
        assert 1 <= srv.max_in_flight <= 3
    assert isinstance(out[4], VLMError) and "HTTP 500" in str(out[4])
    assert [o.text for k, o in enumerate(out) if k != 4] == [f"Q{i}" for i in range(10) if i != 4]


def test_generate_many_cancel_raises():
    token = CancelToken()
    token.cancel()
    with LoopServer() as srv:
        b = OpenAIBackend(srv.url, model="loop-model", stream=False)
        with pytest.raises(Cancelled):
            generate_many(b, [_req(i) for i in range(4)], JobContext(token=token), 2)


def _mixed_bad(n, q):
    """500 for even-numbered questions, garbage JSON for the others."""
    return ("500", "overloaded") if int(q[1:]) % 2 == 0 else ("garbage", "{not json")


def test_pool_retries_500_and_garbage_on_the_good_endpoint():
    with LoopServer(_mixed_bad) as bad, LoopServer() as good:
        pool = EndpointPool([Endpoint(bad.url, "loop-model", concurrency=2, name="bad"),
                             Endpoint(good.url, "loop-model", concurrency=2, name="good")])
        out = generate_many(pool, [_req(i) for i in range(12)])
        assert bad.count >= 1                              # it was tried
        assert good.max_in_flight <= 2 and bad.max_in_flight <= 2   # per-endpoint caps
    assert all(isinstance(o, Generated) for o in out), out
    assert [o.text for o in out] == [f"answer to q{i}" for i in range(12)]
    assert {o.endpoint for o in out} == {good.url}
    assert pool.info.kind == "pool" and "2 endpoints" in pool.info.label


def test_pool_records_the_failure_per_request_after_max_attempts():
    with LoopServer(_mixed_bad) as bad, LoopServer(lambda n, q: ("ok", "fine")) as also:
        pool = EndpointPool([Endpoint(bad.url, "loop-model", concurrency=2)], max_attempts=2)
        out = generate_many(pool, [_req(i) for i in range(4)])
        assert all(isinstance(o, VLMError) for o in out)
        assert "HTTP 500" in str(out[0]) and "gave up after 2 attempts" in str(out[0])
        assert "invalid JSON" in str(out[1])
        assert bad.count == 8                              # 2 attempts each, no more
        ok = generate_one(EndpointPool([Endpoint(also.url, "loop-model")]), _req(1))
        assert ok.text == "fine" and ok.endpoint == also.url


def test_pool_with_every_endpoint_down_names_them():
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    pool = EndpointPool([Endpoint(f"http://127.0.0.1:{p}/v1", "m", name=f"ep{k}")
                         for k, p in enumerate(ports)], cooldown_s=60)
    out = generate_many(pool, [_req(i) for i in range(3)])
    assert all(isinstance(o, PoolDown) for o in out)
    msg = str(out[0])
    assert "ep0" in msg and "ep1" in msg and "connection refused" in msg
    assert not any(s["up"] for s in pool.status())


def test_rule_backend_generate_many_loops_and_marks_abstentions(clip):
    from models.vlm.frames import FrameSelection
    from models.vlm.service import AskSpec, prepare
    track = _track()
    spec = AskSpec(str(clip("arm_wrestling.mp4")), "Which arm is raised?", "mcq_letter",
                   FrameSelection(count=2), ["left arm", "right arm"], answer_index=1)
    req = prepare(spec, track=track).request
    out = generate_many(RuleBackend(track), [req, req])
    assert len(out) == 2 and all(o.abstained and o.info.kind == "rule" for o in out)


def _track():
    from models.describe.synth import SynthPose, track  # noqa: PLC0415
    from models.pose.track import PoseTrack  # noqa: PLC0415

    w = track([SynthPose().world() for _ in range(280)])
    return PoseTrack(np.full_like(w, 0.5), w.astype(np.float32), 25.0, 340, 256,
                     backend="mediapipe")


# -- the local backend batches --------------------------------------------------------------------
def test_transformers_generate_many_batches_and_matches_one_by_one(tiny_ckpt):  # noqa: F811
    from models.vlm.local import TransformersBackend

    b = TransformersBackend(str(tiny_ckpt("qwen2_5_vl")), device="cpu", dtype="fp32")
    b.load()
    try:
        reqs = [_req(i, n_frames=4, max_new_tokens=6) for i in range(3)]
        reqs.append(VLMRequest(messages_for("a much longer question number 12 about arms"),
                               reqs[0].frames, GenerationParams(max_new_tokens=6)))
        reqs.append(_req(20, n_frames=2, max_new_tokens=6))     # another frame count
        single = [generate_one(b, r) for r in reqs]
        calls = []
        real = b.model.generate
        b.model.generate = lambda **kw: (calls.append(kw["input_ids"].shape[0]), real(**kw))[1]
        try:
            many = generate_many(b, reqs, max_concurrency=8)
        finally:
            b.model.generate = real
        assert sorted(calls) == [1, 4]                      # one batch of 4, one of 1
        assert [m.token_ids for m in many] == [s.token_ids for s in single]
        assert [m.text for m in many] == [s.text for s in single]
        assert [m.stats.prompt_tokens for m in many] == [s.stats.prompt_tokens for s in single]
    finally:
        b.unload()


# -- the optional vLLM backend ----------------------------------------------------------------------
def test_choosing_vllm_without_vllm_installed_is_one_clear_message(clip, tmp_path, capsys):
    import importlib.util

    from cli import run_cli
    from models.errors import BackendUnavailable
    from models.vlm.specs import backend_for
    from models.vlm.vllm_backend import VLLMBackend

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(BackendUnavailable, match=r"needs vllm: pip install vllm"):
        backend_for("vllm:" + str(tmp_path))
    with pytest.raises(BackendUnavailable, match=r"vllm package, which is not installed"):
        VLLMBackend(str(tmp_path)).load()
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", "vllm:" + str(tmp_path),
                  "--project", str(tmp_path / "p.aastudio"), "What moves?"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.startswith("error: ") and "pip install vllm" in err
    assert len(err.splitlines()) == 1


def test_vllm_prompt_carries_the_chat_template_and_decoded_frames(tiny_ckpt):  # noqa: F811
    """The part of the vLLM backend that runs without vLLM: its prompt dicts."""
    from transformers import AutoProcessor

    from models.vlm.registry import family_for
    from models.vlm.vllm_backend import VLLMBackend

    b = VLLMBackend(str(tiny_ckpt("qwen2_5_vl")), max_images=3)
    b.processor = AutoProcessor.from_pretrained(tiny_ckpt("qwen2_5_vl"), local_files_only=True)
    b.family = family_for("qwen2_5_vl")
    video = b.prompt_for(_req(1, n_frames=8))
    assert video["multi_modal_data"]["video"].shape == (8, 32, 48, 3)
    assert video["prompt"].count("<|vision_start|><|video_pad|><|vision_end|>") == 1
    assert "q1" in video["prompt"]
    one = _req(2, n_frames=1)
    image = b.prompt_for(one)
    assert image["multi_modal_data"]["image"].size == (48, 32) and "<|image_pad|>" in image["prompt"]
    many = _req(3, n_frames=4)
    many.as_video = False
    with pytest.raises(VLMError, match="more than this vLLM engine takes per prompt"):
        b.prompt_for(many)


def test_generate_many_against_a_dead_server_gives_each_request_its_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = OpenAIBackend(f"http://127.0.0.1:{port}/v1", retries=0)        # no model named
    out = generate_many(b, [_req(i) for i in range(3)])
    assert len(out) == 3 and all(isinstance(o, VLMError) for o in out)
    assert "connection refused" in str(out[0])
