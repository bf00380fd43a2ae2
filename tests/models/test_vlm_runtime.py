"""Generation runtime details: incremental streaming text, torch threads of the worker
thread, the rule baseline's MCQ answers / abstentions, quiet CLI pose extraction."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from models.describe.synth import SynthPose, track
from models.jobs import CancelToken, JobContext, NULL_CONTEXT
from models.pose.track import PoseTrack
from models.vlm.types import GenerationParams, VLMRequest, messages_for
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
TEXT = "Le coude gauche est plié à 90°; the right knee straightens — ok? 🙂 Ünïcödé."


def _tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _stream(tok, ids, interval_s, ctx=NULL_CONTEXT, step=1):
    import torch

    from models.vlm.streaming import IncrementalText

    chunks = []
    s = IncrementalText(tok, chunks.append, ctx, interval_s)
    s.put(torch.tensor([[1, 2, 3]]))                      # the prompt: never shown
    for i in range(0, len(ids), step):
        s.put(torch.tensor(ids[i:i + step]))
    s.end()
    return chunks, s


@pytest.mark.parametrize("family", ["qwen2_5_vl", "smolvlm"])
@pytest.mark.parametrize("interval_s", [0.0, 60.0])
def test_incremental_text_equals_one_full_decode(tiny_ckpt, family, interval_s):
    tok = _tokenizer(tiny_ckpt(family))
    ids = tok.encode(TEXT + " " + TEXT, add_special_tokens=False) + [tok.eos_token_id or 0]
    chunks, s = _stream(tok, ids, interval_s)
    assert "".join(chunks) == tok.decode(ids, skip_special_tokens=True)
    assert s.ids == ids and s.first_token_at is not None
    if interval_s:                   # batched: the first token at once, the rest at the end
        assert len(chunks) <= 2
    else:
        assert len(chunks) > len(ids) // 4          # streamed as the tokens arrive


def test_incremental_text_stops_generation_on_cancel(tiny_ckpt):
    import torch

    from models.vlm.streaming import IncrementalText, _Stop

    token = CancelToken()
    s = IncrementalText(_tokenizer(tiny_ckpt("qwen2_5_vl")), lambda t: token.cancel(),
                        JobContext(token=token))
    s.put(torch.tensor([[5, 6]]))
    s.put(torch.tensor([40]))                      # first text -> the user cancels
    with pytest.raises(_Stop):
        s.put(torch.tensor([41]))


def test_worker_thread_generates_with_the_configured_torch_threads(tiny_ckpt):
    """A worker thread whose torch thread count was lowered (the count is per thread)
    still generates on the configured number of threads."""
    import torch

    from models.vlm.local import TransformersBackend

    b = TransformersBackend(str(tiny_ckpt("qwen2_5_vl")), device="cpu", dtype="fp32", threads=2)
    req = VLMRequest(messages_for("Which arm moves?"), [np.zeros((32, 32, 3), np.uint8)],
                     GenerationParams(max_new_tokens=3))
    seen = {}

    def work():
        torch.set_num_threads(1)
        b.generate_to(req, on_text=lambda _t: seen.setdefault("during", torch.get_num_threads()))

    try:
        t = threading.Thread(target=work)
        t.start()
        t.join(120)
    finally:
        b.unload()
    assert seen["during"] == 2 and b.threads_used == 2


def test_torch_threads_default_and_env(monkeypatch):
    from models.vlm.streaming import torch_threads

    monkeypatch.delenv("ACTIONART_TORCH_THREADS", raising=False)
    assert torch_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("ACTIONART_TORCH_THREADS", "3")
    assert torch_threads() == 3


# -- rule baseline on multiple-choice questions ---------------------------------------------
@pytest.fixture(scope="module")
def moving_track():
    up, bent = SynthPose().raise_arm("right"), SynthPose().bend("left_elbow", 90)
    w = track([SynthPose().world() if i < 40 else (up.world() if i < 80 else bent.world())
               for i in range(120)])
    # image landmarks: the world pose seen from the front (a collapsed all-0.5 skeleton
    # would be judged unreliable and never used for QA)
    img = w.copy()
    img[..., 0], img[..., 1] = 0.5 + 0.25 * w[..., 0], 0.5 + 0.33 * w[..., 1]
    return PoseTrack(img.astype(np.float32), w.astype(np.float32), 30.0, 340, 256,
                     backend="mediapipe")


def test_rule_baseline_answers_pose_derivable_mcq_items(moving_track):
    from models.qa.synth import synthesize_track
    from models.vlm.many import generate_one
    from models.vlm.rule_backend import RuleBackend
    from models.vlm.service import Answer, AskSpec, score

    records = synthesize_track(moving_track, "synthetic.mp4")
    assert len({r.task for r in records}) >= 4
    backend = RuleBackend(moving_track)
    for r in records:
        req = VLMRequest(messages_for(r.question), [], frame_indices=[10, 70],
                         mcq=(r.question, list(r.options)))
        done = generate_one(backend, req)
        answer = Answer(backend.info, text=done.text)
        score(answer, AskSpec("synthetic.mp4", r.question, "mcq_letter", options=r.options,
                              answer_index=r.answer_index))
        assert not done.abstained and answer.correct, (r.task, r.question, answer.text)


def test_rule_baseline_abstains_on_other_mcq_and_is_not_marked_wrong(moving_track, clip):
    from models.vlm.frames import FrameSelection
    from models.vlm.rule_backend import RuleBackend
    from models.vlm.rule_mcq import ABSTAIN
    from models.vlm.service import AskSpec, prepare, run_answer

    spec = AskSpec(str(clip("arm_wrestling.mp4")), "Which arm is raised?", "mcq_letter",
                   FrameSelection(count=2), ["left arm", "right arm"], answer_index=1)
    answer = run_answer(RuleBackend(moving_track), prepare(spec, track=moving_track))
    assert answer.text == ABSTAIN and answer.abstained and answer.status == "ok"
    assert answer.correct is None and answer.chosen_index is None


def test_cli_with_poses_prints_no_native_log_lines(tmp_path, clip):
    """`ask --model rule` extracts poses with mediapipe: its C++ log lines stay hidden."""
    import cv2

    src = cv2.VideoCapture(str(clip("arm_wrestling.mp4")))
    short = tmp_path / "short.mp4"
    out = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"mp4v"), 28.0, (340, 256))
    for _ in range(12):
        ok, frame = src.read()
        assert ok
        out.write(frame)
    out.release()
    src.release()
    env = {k: v for k, v in os.environ.items() if k != "ACTIONART_DEBUG"}
    run = subprocess.run([sys.executable, "main.py", "ask", str(short), "--model", "rule",
                          "--frames", "2", "What changes?", "--project",
                          str(tmp_path / "p.aastudio")], cwd=REPO, env=env, text=True,
                         capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[frames "), run.stderr
