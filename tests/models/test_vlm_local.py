"""Local transformers backend on tiny real checkpoints of all six families (no mocks)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from models.errors import Cancelled
from models.jobs import CancelToken, JobContext
from models.vlm.checkpoint import inspect_checkpoint, safetensors_params
from models.vlm.frames import FrameSelection, sample_frames
from models.vlm.local import RESIDENT, TransformersBackend
from models.vlm.many import Generated, generate_one
from models.vlm.types import GenerationParams, NotEnoughMemory, VLMError, VLMRequest, messages_for
from tests.conftest import CLIPS
from tests.vlm_fixtures import ALL_FAMILIES, copy_checkpoint, tiny_ckpt  # noqa: F401

CLIP = "arm_wrestling.mp4"


@pytest.fixture(scope="module")
def eight_frames():
    return sample_frames(CLIPS / CLIP, FrameSelection(count=8))


@pytest.fixture(scope="module")
def backends():
    made = {}
    yield made
    for b in made.values():
        b.unload()


def _backend(backends, tiny_ckpt, family) -> TransformersBackend:
    if family not in backends:
        backends[family] = TransformersBackend(str(tiny_ckpt(family)), device="cpu")
    b = backends[family]
    b.load()
    return b


def _check_shapes(backend, family, inputs, n_frames: int, video: bool) -> None:
    tok = backend.processor.tokenizer
    ids = inputs["input_ids"][0].tolist()
    if family in ("qwen2_5_vl", "qwen2_vl", "qwen3_vl"):
        key = "video_grid_thw" if video else "image_grid_thw"
        grid = inputs[key][0].tolist()
        assert grid[0] == (n_frames // 2 if video else 1)      # temporal patch of 2 frames
        pad = tok.convert_tokens_to_ids("<|video_pad|>" if video else "<|image_pad|>")
        assert ids.count(pad) == grid[0] * grid[1] * grid[2] // 4   # 2x2 spatial merge
    elif family == "internvl":
        assert tuple(inputs["pixel_values"].shape[1:]) == (3, 28, 28)
        if video:
            assert inputs["pixel_values"].shape[0] == n_frames
            assert ids.count(tok.convert_tokens_to_ids("<IMG_CONTEXT>")) == n_frames
    elif family == "llava_onevision":
        key = "pixel_values_videos" if video else "pixel_values"
        assert inputs[key].shape[-3:] == (3, 28, 28)
        if video:
            assert inputs[key].shape[:2] == (1, n_frames)
    elif family == "smolvlm":
        assert tuple(inputs["pixel_values"].shape[:2]) == (1, n_frames if video else 1)
        image_id = tok.convert_tokens_to_ids("<image>")
        assert ids.count(image_id) == 4 * (n_frames if video else 1)   # image_seq_len 4


@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("video", [False, True], ids=["image", "video8"])
def test_answer_streams_like_bare_generate(family, video, backends, tiny_ckpt, eight_frames):
    import torch

    b = _backend(backends, tiny_ckpt, family)
    frames = eight_frames.frames if video else eight_frames.frames[:1]
    req = VLMRequest(messages_for("What does the left arm do?", "Be brief."), list(frames),
                     GenerationParams(max_new_tokens=10), fps=eight_frames.fps,
                     frame_indices=eight_frames.indices if video else eight_frames.indices[:1])
    inputs = b.prepare(req)
    _check_shapes(b, family, inputs, len(frames), video)
    *chunks, done = list(b.generate(req))
    st, ids = done.stats, done.token_ids
    assert st.prompt_tokens == inputs["input_ids"].shape[1]
    assert 1 <= st.completion_tokens <= 10 and st.completion_tokens == len(ids)
    tok = b.processor.tokenizer
    assert "".join(chunks) == done.text == tok.decode(ids, skip_special_tokens=True)  # order kept
    with torch.inference_mode():
        bare = b.model.generate(**inputs, max_new_tokens=10, do_sample=False)
    assert bare[0, inputs["input_ids"].shape[1]:].tolist() == ids             # same path
    assert st.ttft_s is not None and 0 < st.ttft_s <= st.total_s
    assert st.peak_mem_bytes and st.peak_mem_bytes > 0
    assert b.info.family == family and b.info.device == "cpu" and b.info.dtype == "fp32"
    assert b.info.revision.startswith("local-")


def test_cancel_stops_generation(backends, tiny_ckpt, eight_frames):
    b = _backend(backends, tiny_ckpt, "qwen2_5_vl")
    token = CancelToken()
    ctx = JobContext(token=token)
    req = VLMRequest(messages_for("Describe everything."), list(eight_frames.frames[:2]),
                     GenerationParams(max_new_tokens=400), fps=28.0, frame_indices=[0, 1])
    got = []
    with pytest.raises(Cancelled):
        for chunk in b.generate(req, ctx):
            got.append(chunk)
            token.cancel()
    assert 1 <= len(got) < 400                   # stopped long before max_new_tokens
    assert not any(isinstance(c, Generated) for c in got)   # a cancelled answer has no record


def test_one_model_resident_per_device(tiny_ckpt):
    a = TransformersBackend(str(tiny_ckpt("smolvlm")), device="cpu")
    b = TransformersBackend(str(tiny_ckpt("internvl")), device="cpu")
    a.load()
    assert RESIDENT.resident("cpu") is a
    b.load()
    assert RESIDENT.resident("cpu") is b and not a.loaded and b.loaded
    b.unload()
    assert RESIDENT.resident("cpu") is None and not b.loaded


def test_memory_estimate_and_refusal(tiny_ckpt):
    folder = tiny_ckpt("qwen2_5_vl")
    n = safetensors_params(folder)
    from models.vlm.checkpoint import params_from_config
    from transformers import AutoConfig

    assert n == params_from_config(AutoConfig.from_pretrained(folder))   # headers == meta model
    b = TransformersBackend(str(folder), device="cpu", memory_limit_bytes=1024 ** 2)
    with pytest.raises(NotEnoughMemory, match=r"Not enough memory on cpu: .* needs about"):
        b.load()
    assert not b.loaded


def _write_config(folder, cfg: dict):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.mark.parametrize("case,pattern", [
    ("not_checkpoint", r"is not a model checkpoint \(no config.json\)"),
    ("no_processor", r"missing processor files"),
    ("unknown_arch", r"Architecture 'zz_made_up_vlm' is not known to transformers"),
    ("remote_code", r"needs remote code .* enable 'trust remote code'"),
    ("not_vlm", r"'bert' is not a vision-language model"),
    ("pickle_weights", r"pickle files \(\.bin: pytorch_model\.bin\)"),
    ("missing", r"neither a folder nor in the Hugging Face cache"),
])
def test_bad_checkpoints_give_clear_messages(case, pattern, tmp_path, tiny_ckpt):
    folder = tmp_path / case
    if case == "not_checkpoint":
        folder.mkdir()
        (folder / "notes.txt").write_text("hello")
    elif case == "no_processor":
        copy_checkpoint("smolvlm", folder, drop=("processor_config.json",))
    elif case == "unknown_arch":
        _write_config(folder, {"model_type": "zz_made_up_vlm"})
    elif case == "remote_code":
        _write_config(folder, {"model_type": "my_custom_vlm",
                               "auto_map": {"AutoModel": "modeling_my.MyModel"}})
    elif case == "not_vlm":
        _write_config(folder, {"model_type": "bert"})
    elif case == "pickle_weights":
        copy_checkpoint("smolvlm", folder, drop=("model.safetensors",))
        (folder / "pytorch_model.bin").write_bytes(b"not really")
    b = TransformersBackend(str(folder), device="cpu")
    with pytest.raises(VLMError, match=pattern) as err:
        b.load()
    assert "\n" not in str(err.value)
    assert not b.loaded


def test_remote_code_opt_in_is_per_model(tmp_path):
    folder = _write_config(tmp_path / "rc", {"model_type": "my_custom_vlm",
                                             "auto_map": {"AutoConfig": "x.Y"}})
    assert not inspect_checkpoint(folder).runnable          # default: no remote code
    # the explicit user opt-in under test (what --trust-remote-code passes for this model only)
    info = inspect_checkpoint(folder, trust_remote_code=True)
    assert info.needs_remote_code and "processor" in info.reason   # passes the code gate


def test_empty_question_and_bad_frames(backends, tiny_ckpt):
    b = _backend(backends, tiny_ckpt, "smolvlm")
    with pytest.raises(VLMError, match="question is empty"):
        list(b.generate(VLMRequest(messages_for("   "))))
    with pytest.raises(VLMError, match="RGB uint8"):
        list(b.generate(VLMRequest(messages_for("hi"), [np.zeros((4, 4), np.uint8)])))


def test_generate_to_streams_on_the_calling_thread(backends, tiny_ckpt, eight_frames):
    import threading

    b = _backend(backends, tiny_ckpt, "qwen2_5_vl")
    req = VLMRequest(messages_for("Which arm moves?"), list(eight_frames.frames[:4]),
                     GenerationParams(max_new_tokens=12), fps=28.0, frame_indices=[0, 1, 2, 3])
    threads, chunks = set(), []
    done = b.generate_to(req, on_text=lambda t: (chunks.append(t),
                                                  threads.add(threading.get_ident())))
    text = done.text
    assert threads == {threading.get_ident()} and "".join(chunks) == text
    assert done.token_ids == generate_one(b, req).token_ids   # same answer as the iterator path
    token = CancelToken()
    long = VLMRequest(req.messages, req.frames, GenerationParams(max_new_tokens=400), fps=28.0,
                      frame_indices=[0, 1, 2, 3])
    seen = []
    with pytest.raises(Cancelled):
        b.generate_to(long, JobContext(token=token),
                      on_text=lambda t: (seen.append(t), token.cancel()))
    assert 1 <= len(seen) < 400


def test_core_modules_import_without_torch_or_transformers():
    import subprocess
    import sys

    code = ("import sys; import models.vlm.service, models.vlm.local, models.vlm.openai_http, "
            "models.vlm.discovery, models.vlm.specs, models.vlm.rule_backend, models.vlm.tiny, "
            "models.store.repo_vlm, cli.vlm; "
            "print(sorted(m for m in ('torch', 'transformers', 'PySide6', 'cv2') if m in sys.modules))")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(repo), check=True)
    assert out.stdout.strip() == "[]"


def test_quantization_needs_bitsandbytes_and_cuda(tiny_ckpt):
    import importlib.util

    b = TransformersBackend(str(tiny_ckpt("smolvlm")), device="cpu", quantization="4bit")
    expected = "bitsandbytes" if importlib.util.find_spec("bitsandbytes") is None else "CUDA GPU"
    with pytest.raises(VLMError, match=expected):
        b.load()
    with pytest.raises(VLMError, match="Unknown quantisation"):
        TransformersBackend("x", quantization="2bit")
    with pytest.raises(VLMError, match="Unknown dtype"):
        TransformersBackend(str(tiny_ckpt("smolvlm")), device="cpu", dtype="int3").load()


# -- safetensors only: decoys, pickles and forged headers -----------------------------------
def _state_dict_pickle(path: Path, family: str = "smolvlm") -> None:
    """A real pytorch_model.bin (torch.save of the tiny model's own state dict)."""
    import torch
    from safetensors.torch import load_file

    from tests.vlm_fixtures import tiny_checkpoint

    torch.save(load_file(str(tiny_checkpoint(family) / "model.safetensors")), path)


def _safetensors_bytes(header, data: bytes = b"", length=None) -> bytes:
    import struct

    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def test_decoy_safetensors_beside_pickle_weights_is_refused(tmp_path):
    from models.vlm.discovery import discover

    folder = copy_checkpoint("smolvlm", tmp_path / "decoy", drop=("model.safetensors",))
    (folder / "model.safetensors").write_bytes(b"\x00\x00\x00\x00")       # 4-byte decoy
    _state_dict_pickle(folder / "pytorch_model.bin")
    info = inspect_checkpoint(folder)
    assert not info.runnable and info.params is None
    assert "model.safetensors is not a valid safetensors file" in info.reason
    assert "pickle files (.bin: pytorch_model.bin)" in info.reason
    assert not discover([tmp_path])[0]["runnable"]
    b = TransformersBackend(str(folder), device="cpu")
    with pytest.raises(VLMError, match="not a valid safetensors file") as err:
        b.load()
    assert "\n" not in str(err.value) and not b.loaded


def test_other_safetensors_name_beside_pickle_weights_is_refused(tmp_path):
    folder = copy_checkpoint("smolvlm", tmp_path / "renamed", drop=("model.safetensors",))
    from tests.vlm_fixtures import tiny_checkpoint

    (folder / "extra.safetensors").write_bytes(
        (tiny_checkpoint("smolvlm") / "model.safetensors").read_bytes())   # valid, wrong name
    _state_dict_pickle(folder / "pytorch_model.bin")
    info = inspect_checkpoint(folder)
    assert not info.runnable and "pickle files (.bin: pytorch_model.bin)" in info.reason


def test_loading_never_falls_back_to_pickled_weights(tmp_path):
    """Past the folder check, the load itself asks transformers for safetensors only."""
    folder = copy_checkpoint("smolvlm", tmp_path / "pickled", drop=("model.safetensors",))
    _state_dict_pickle(folder / "pytorch_model.bin")
    b = TransformersBackend(str(folder), device="cpu")
    b.device = "cpu"
    with pytest.raises(VLMError, match=r"Cannot load pickled: .*model\.safetensors"):
        b._load_weights(folder, "fp32")
    assert not b.loaded and RESIDENT.resident("cpu") is not b


def test_checkpoint_with_safetensors_and_pickles_loads_the_safetensors(tmp_path, tiny_ckpt):
    folder = copy_checkpoint("smolvlm", tmp_path / "both")
    (folder / "pytorch_model.bin").write_bytes(b"never unpickled")      # would fail if read
    assert inspect_checkpoint(folder).runnable
    b = TransformersBackend(str(folder), device="cpu")
    b.load()
    try:
        assert b.loaded and b.params == safetensors_params(tiny_ckpt("smolvlm"))
    finally:
        b.unload()


F32_1x2 = {"w": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("content,pattern", [
    (_safetensors_bytes(b"{}", length=2 ** 63), r"header length 9223372036854775808 does not fit"),
    (_safetensors_bytes(b"{}", length=4096), r"header length 4096 does not fit a 10-byte file"),
    (_safetensors_bytes(b"not json at all"), r"the header is not JSON"),
    (_safetensors_bytes(b"\xff\xfe{}"), r"the header is not JSON"),
    (_safetensors_bytes(b"[1, 2]"), r"not a JSON object"),
    (_safetensors_bytes({"__metadata__": {"format": "pt"}}), r"holds no tensors"),
    (_safetensors_bytes(F32_1x2, b"\0" * 4), r"'w' lies outside the file's data"),
    (_safetensors_bytes({"w": dict(F32_1x2["w"], data_offsets=[0, 4])}, b"\0" * 8),
     r"'w' has 4 bytes for shape \[1, 2\]"),
    (_safetensors_bytes({"w": dict(F32_1x2["w"], shape=[-1, 2])}, b"\0" * 8),
     r"'w' has no valid dtype, shape and data_offsets"),
    (_safetensors_bytes({"w": "x"}), r"'w' has no valid dtype"),
    (b"\x01\x02", r"2 bytes, shorter than the 8-byte header length"),
], ids=["len2^63", "len_past_eof", "not_json", "not_utf8", "json_list", "no_tensors",
        "offsets_out", "size_mismatch", "negative_dim", "entry_not_object", "truncated"])
def test_forged_safetensors_headers_are_refused(tmp_path, content, pattern):
    folder = copy_checkpoint("smolvlm", tmp_path / "forged", drop=("model.safetensors",))
    (folder / "model.safetensors").write_bytes(content)
    info = inspect_checkpoint(folder)
    assert not info.runnable and info.params is None
    assert re.search(pattern, info.reason), info.reason
    b = TransformersBackend(str(folder), device="cpu")
    with pytest.raises(VLMError, match=pattern) as err:
        b.load()
    assert "\n" not in str(err.value) and not b.loaded


@pytest.mark.parametrize("index,pattern", [
    ({"weight_map": {"w": "model-00001-of-00002.safetensors"}},
     r"model-00001-of-00002.safetensors is not a valid safetensors file \(the file is missing\)"),
    ({"weight_map": {"w": "../outside.safetensors"}}, r"names no shard files in the folder"),
    ({"nothing": 1}, r"is not a valid safetensors index"),
], ids=["missing_shard", "shard_outside", "no_weight_map"])
def test_bad_safetensors_index_is_refused(tmp_path, index, pattern):
    folder = copy_checkpoint("smolvlm", tmp_path / "sharded", drop=("model.safetensors",))
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    info = inspect_checkpoint(folder)
    assert not info.runnable and re.search(pattern, info.reason), info.reason


def test_sharded_checkpoint_counts_its_shards(tmp_path, tiny_ckpt):
    import shutil

    folder = copy_checkpoint("smolvlm", tmp_path / "sharded", drop=("model.safetensors",))
    shutil.copy(tiny_ckpt("smolvlm") / "model.safetensors", folder / "model-00001-of-00001.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"any": "model-00001-of-00001.safetensors"}}))
    info = inspect_checkpoint(folder)
    assert info.runnable and info.params == safetensors_params(tiny_ckpt("smolvlm"))
