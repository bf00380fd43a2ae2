"""Frame sampling, prompt templates, discovery, the store mixin and the ask/compare service."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from models.errors import StoreError
from models.video import VideoInfo, VideoReader
from models.vlm import frames as F
from models.vlm.discovery import add_folder, discover, remove_folder, user_folders
from models.vlm.prompts import get_template, grounding_text, load_templates, render
from models.vlm.service import AskSpec, compare, prepare, save_comparison
from models.vlm.specs import backend_for, parse_model
from models.vlm.types import GenerationParams, VLMError
from tests.vlm_fixtures import copy_checkpoint, tiny_ckpt  # noqa: F401

INFO = VideoInfo("x.mp4", 280, 28.0, 340, 256)


# -- frame sampling ------------------------------------------------------------------------------
def test_uniform_indices_cover_clip_and_interval():
    assert F.sample_indices(INFO, F.FrameSelection(count=8)) == [17, 52, 87, 122, 157, 192, 227, 262]
    assert F.sample_indices(INFO, F.FrameSelection(count=4, start=100, end=107)) == [101, 103, 105, 107]
    assert F.sample_indices(INFO, F.FrameSelection(count=50, start=10, end=14)) == [10, 11, 12, 13, 14]


def test_rate_and_marked_selection():
    idx = F.sample_indices(INFO, F.FrameSelection("rate", count=256, rate=2.0, start=0, end=55))
    assert idx == [0, 14, 28, 42]                                  # 28 fps -> every 14th
    assert F.sample_indices(INFO, F.FrameSelection("marked", marked=(40, 10))) == [40, 10]
    with pytest.raises(VLMError, match="outside the clip"):
        F.sample_indices(INFO, F.FrameSelection("marked", marked=(5, 400)))
    with pytest.raises(VLMError, match="No frames are marked"):
        F.sample_indices(INFO, F.FrameSelection("marked"))


@pytest.mark.parametrize("count", [0, -3])
def test_frame_count_below_one_is_refused(count):
    with pytest.raises(VLMError, match=f"number of frames must be at least 1 \\(got {count}\\)"):
        F.sample_indices(INFO, F.FrameSelection(count=count))


@pytest.mark.parametrize("start,end", [(300, 320), (50, 20), (-10, -1)])
def test_empty_interval_is_a_clear_error(start, end):
    with pytest.raises(VLMError, match="No frames in the chosen interval"):
        F.sample_indices(INFO, F.FrameSelection(start=start, end=end))


def test_both_decoders_give_the_reader_pixels(clip):
    path = clip("arm_wrestling.mp4")
    idx = [3, 4, 90, 200, 279]
    seq, seek = F.decode_sequential(path, idx), F.decode_seek(path, idx)
    with VideoReader(path) as r:
        for i in idx:
            ref = r.read(i)
            assert np.array_equal(seq[i], ref) and np.array_equal(seek[i], ref)
    assert F.choose_strategy([0, 10, 20]) == "sequential"
    assert F.choose_strategy([0, 1000, 2000]) == "seek"


def test_sample_frames_cached_capped_and_identical(clip):
    F.clear_cache()
    path = clip("two_people_room.mp4")
    sel = F.FrameSelection(count=3, max_pixels=320 * 180)
    a = F.sample_frames(path, sel)
    b = F.sample_frames(path, sel)
    assert a is b                                     # decoded once, reused
    h, w = a.frames[0].shape[:2]
    assert h * w <= 320 * 180 and abs(w / h - 1920 / 1080) < 0.05
    assert a.indices == [12, 36, 60] and a.window == (0, 71) and a.fps > 27


# -- prompts -------------------------------------------------------------------------------------
def test_templates_have_ids_versions_and_render():
    t = load_templates()
    assert {"clip_question", "pose_description", "frame_difference", "mcq_letter"} <= set(t)
    assert all(v.version for v in t.values())
    text = render(get_template("mcq_letter"), "Which arm is raised?", ["left", "right"],
                  [1, 5, 9], 1.5)
    assert "3 frames" in text and "A. left\nB. right" in text and "letter only" in text
    with pytest.raises(VLMError, match="at least two answer options"):
        render(get_template("mcq_letter"), "Which?", ["only"])
    with pytest.raises(VLMError, match="question is empty"):
        render(get_template("free"), "  ")
    assert "frames 4, 9" in render(get_template("frame_difference"), "", (), [4, 9])
    with pytest.raises(VLMError, match="Unknown prompt template"):
        get_template("nope")


def test_pose_grounding_uses_the_describer():
    from models.describe.synth import SynthPose, track

    up = SynthPose()
    up.raise_arm("left")
    world = track([SynthPose().world(), up.world()])
    text = grounding_text(world, [0, 1])
    assert text.startswith("- frame 0:") and "- frame 1:" in text
    assert "left" in text.split("- frame 1:")[1]
    with pytest.raises(VLMError, match="extract poses first"):
        grounding_text(None, [0])


# -- discovery -----------------------------------------------------------------------------------
def test_discovery_in_hf_cache_and_user_folders(tmp_path, monkeypatch, tiny_ckpt, project):
    cache = tmp_path / "hub"
    snap = cache / "models--acme--tiny-smol" / "snapshots" / "abc123"
    shutil.copytree(tiny_ckpt("smolvlm"), snap)
    (cache / "models--acme--tiny-smol" / "refs").mkdir()
    (cache / "models--acme--tiny-smol" / "refs" / "main").write_text("abc123")
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    mine = tmp_path / "mine"
    copy_checkpoint("internvl", mine / "good")
    copy_checkpoint("qwen2_5_vl", mine / "broken", drop=("tokenizer.json",))
    add_folder(project, mine)
    found = {e["spec"]: e for e in discover(user_folders(project))}
    smol = found["acme/tiny-smol"]
    assert smol["family"] == "smolvlm" and smol["runnable"] and smol["revision"] == "abc123"
    assert smol["params"] > 10_000
    assert found[str(mine / "good")]["runnable"]
    assert "missing tokenizer files" in found[str(mine / "broken")]["reason"]
    b = backend_for("acme/tiny-smol", device="cpu")          # cache id -> snapshot folder
    b.load()
    assert b.info.revision == "abc123" and b.info.family == "smolvlm"
    b.unload()
    assert remove_folder(project, mine) == []


# -- store ---------------------------------------------------------------------------------------
def test_endpoints_persist_without_keys(project):
    project.add_endpoint("cluster", "http://10.0.0.5:8000/v1", "qwen", "MY_KEY_VAR")
    assert project.endpoint("cluster")["api_key_env"] == "MY_KEY_VAR"
    choice = parse_model("endpoint:cluster", project)
    assert choice.kind == "openai" and choice.settings["base_url"] == "http://10.0.0.5:8000/v1"
    with pytest.raises(StoreError):
        project.add_endpoint("x", "not-a-url")
    with pytest.raises(StoreError, match="API key"):
        project.save_answer({"api_key": "sk-1"})
    assert project.remove_endpoint("cluster") and project.endpoints() == []


@pytest.mark.parametrize("url", ["http://alice:pw-123@10.0.0.5:8000/v1",
                                 "http://10.0.0.5:8000/v1?api_key=qk-999",
                                 "https://tok-abc@10.0.0.5/v1"])
def test_endpoint_with_credentials_is_never_saved(project, url):
    with pytest.raises(StoreError, match=r"holds credentials, which are never saved") as err:
        project.add_endpoint("lab", url, "m")
    for secret in ("pw-123", "qk-999", "tok-abc"):
        assert secret not in str(err.value)
    assert project.endpoints() == []


def test_url_credentials_never_reach_labels_or_records(clip):
    from models.vlm.service import Answer
    from models.vlm.types import BackendInfo

    choice = parse_model("http://alice:pw-123@h:8000/v1?api_key=qk-999#qwen")
    assert choice.label == "qwen @ http://***@h:8000/v1?api_key=***"
    b = backend_for("http://alice:pw-123@h:8000/v1?api_key=qk-999#qwen")
    assert "pw-123" not in b.info.label + b.info.device and "qk-999" not in b.info.label
    prepared = prepare(AskSpec(str(clip("arm_wrestling.mp4")), "What happens?",
                               selection=F.FrameSelection(count=1)))
    leaky = Answer(BackendInfo("openai", "qwen", device="http://alice:pw-123@h/v1?token=qk-999"),
                   status="error", error="cannot reach http://alice:pw-123@h/v1?token=qk-999")
    record = str(leaky.as_record(prepared))
    assert "pw-123" not in record and "qk-999" not in record and "http://***@h/v1" in record


def test_compare_two_tiny_models_saves_full_provenance(clip, tiny_ckpt, project):
    spec = AskSpec(str(clip("arm_wrestling.mp4")), "Which arm wins?", "mcq_letter",
                   F.FrameSelection(count=4, start=20, end=120), ["left", "right"], 1,
                   params=GenerationParams(max_new_tokens=5, seed=7))
    prepared = prepare(spec)
    backends = [backend_for(str(tiny_ckpt(f)), device="cpu") for f in ("smolvlm", "qwen2_5_vl")]
    seen = []
    answers = compare(backends, prepared, on_chunk=lambda pos, chunk: seen.append(pos))
    assert [a.status for a in answers] == ["ok", "ok"] and seen and seen == sorted(seen)
    cid = save_comparison(project, prepared, answers, "t")
    rec = project.comparison(cid)
    assert rec["frame_indices"] == prepared.frames.indices == [32, 57, 83, 108]
    assert rec["options"] == ["left", "right"] and rec["answer_index"] == 1
    for a, row in zip(answers, rec["answers"]):
        assert row["answer"] == a.text and row["frame_indices"] == rec["frame_indices"]
        assert row["model_revision"].startswith("local-") and row["family"] in ("smolvlm", "qwen2_5_vl")
        assert row["template_id"] == "mcq_letter" and row["template_version"] == "1"
        assert row["generation_params"]["seed"] == 7 and row["seed"] == 7
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] >= 1
        assert row["ttft_s"] > 0 and row["load_s"] > 0 and row["peak_mem_bytes"] > 0
        assert row["pose_grounding"] is False and row["start_frame"] == 20 and row["end_frame"] == 120
        assert row["correct"] in (True, False, None) and row["content_hash"]
    assert project.comparisons()[0]["n_answers"] == 2


def test_compare_keeps_going_when_one_backend_fails(clip, tiny_ckpt, tmp_path):
    spec = AskSpec(str(clip("arm_wrestling.mp4")), "What happens?",
                   selection=F.FrameSelection(count=2), params=GenerationParams(max_new_tokens=3))
    prepared = prepare(spec)
    bad = backend_for(str(tmp_path), device="cpu")
    good = backend_for(str(tiny_ckpt("internvl")), device="cpu")
    answers = compare([bad, good], prepared)
    assert answers[0].status == "error" and "no config.json" in answers[0].error
    assert answers[1].status == "ok"


def test_prepare_rejects_empty_question(clip):
    with pytest.raises(VLMError, match="question is empty"):
        prepare(AskSpec(str(clip("arm_wrestling.mp4")), "  "))
