"""Fine-tuned adapters as models: a tiny real Qwen2.5-VL base, a real PEFT LoRA adapter
saved by peft, loaded through the app's spec -> backend path (merged and unmerged), the
refusals, and the model listing."""
from __future__ import annotations

import json
import shutil

import pytest

from cli import run_cli
from models.errors import StudioError
from models.vlm.adapter import AdapterError, resolve_adapter, split_spec
from models.vlm.discovery import discover
from models.vlm.frames import FrameSelection, sample_frames
from models.vlm.specs import backend_for, parse_model
from models.vlm.types import GenerationParams, VLMRequest, messages_for
from tests.adapter_fixtures import make_adapter, resized_base, set_base
from tests.conftest import CLIPS
from tests.vlm_fixtures import tiny_checkpoint


@pytest.fixture(scope="module")
def base():
    return tiny_checkpoint("qwen2_5_vl")


@pytest.fixture(scope="module")
def adapter(base, tmp_path_factory):
    return make_adapter(base, tmp_path_factory.mktemp("adapters") / "lora")


def copy_adapter(adapter, dest):
    shutil.copytree(adapter, dest)
    return dest


@pytest.fixture(scope="module")
def request_frames():
    sampled = sample_frames(CLIPS / "arm_wrestling.mp4", FrameSelection(count=2, max_pixels=56 * 56))
    return VLMRequest(messages_for("What does the left arm do? Answer A or B."),
                      list(sampled.frames), GenerationParams(max_new_tokens=4),
                      fps=sampled.fps, frame_indices=list(sampled.indices))


def _logits(spec, req, **opts):
    import torch

    b = backend_for(str(spec), device="cpu", dtype="fp32", **opts)
    b.load()
    try:
        with torch.no_grad():
            out = b.model(**b.prepare(req)).logits[0, -8:].clone()
        return out, b.info, type(b.model).__name__, b.generate_to(req).text
    finally:
        b.unload()


def test_adapter_loads_on_its_base_merged_and_unmerged(base, adapter, request_frames):
    import torch

    base_logits, base_info, _, _ = _logits(base, request_frames)
    merged, info, merged_cls, _ = _logits(adapter, request_frames)
    unmerged, info_u, unmerged_cls, text = _logits(f"local:{adapter}", request_frames,
                                                   merge_adapter=False)
    explicit, _, _, _ = _logits(f"{base} + {adapter}", request_frames, merge_adapter=False)
    assert unmerged_cls == "PeftModel" and merged_cls == "Qwen2_5_VLForConditionalGeneration"
    assert (merged - base_logits).abs().max().item() > 1e-2          # the adapter acts
    assert torch.allclose(merged, unmerged, atol=1e-4, rtol=1e-4)    # merge changes nothing
    assert torch.allclose(explicit, unmerged, atol=1e-6)
    assert info.label == "qwen2_5_vl + lora" and info.model_id == str(adapter)
    assert info.revision.startswith(base_info.revision + "+adapter-")
    assert isinstance(text, str)                                     # streams unmerged too


def test_spec_forms(base, adapter, tmp_path):
    assert split_spec(str(base)) is None
    assert split_spec(str(adapter)).base is None
    assert split_spec(f"local:{adapter}").adapter == str(adapter)
    s = split_spec(f"{base} + {adapter}")
    assert (s.base, s.adapter) == (str(base), str(adapter))
    with pytest.raises(AdapterError, match="BASE \\+ ADAPTER"):
        split_spec(f" + {adapter}")
    with pytest.raises(StudioError, match="is an adapter"):
        parse_model(f"vllm:{adapter}")
    found = resolve_adapter(str(adapter))
    assert found.base_folder == base and found.params > 0


def _refusal(spec) -> str:
    """Refused when the backend is made (before any model loads), and again at load when
    the files changed after that."""
    from models.vlm.local import RESIDENT

    with pytest.raises(AdapterError) as err:
        backend_for(str(spec), device="cpu")
    assert RESIDENT.resident("cpu") is None
    return str(err.value)


def test_missing_base_is_refused_naming_both(adapter, tmp_path, clip, capsys):
    orphan = set_base(copy_adapter(adapter, tmp_path / "orphan"), str(tmp_path / "gone-base"))
    msg = _refusal(orphan)
    assert "orphan" in msg and "gone-base" in msg and "missing" in msg
    msg = _refusal(f"{tmp_path / 'other-gone'} + {adapter}")
    assert "other-gone" in msg and "lora" in msg and "missing" in msg
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", str(orphan), "--device",
                  "cpu", "--project", str(tmp_path / "p.aastudio"), "what?"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "gone-base" in err and "Traceback" not in err


def test_other_base_is_refused_naming_both(base, adapter, tmp_path):
    other = tiny_checkpoint("qwen2_vl")
    msg = _refusal(f"{other} + {adapter}")
    assert f"trained on '{base}'" in msg and str(other) in msg and "qwen2_vl" in msg
    wider = resized_base(base, tmp_path / "wider")
    msg = _refusal(f"{wider} + {adapter}")
    assert "hidden size 32" in msg and "hidden size 48" in msg and str(wider) in msg
    # the recorded base gone, a base of other sizes chosen: the weight shapes disagree
    orphan = set_base(copy_adapter(adapter, tmp_path / "orphan"), str(tmp_path / "gone"))
    msg = _refusal(f"{wider} + {orphan}")
    assert "layer sizes differ" in msg and "q_proj" in msg
    # a copy of the very base elsewhere is the same base
    same = shutil.copytree(base, tmp_path / "copy-of-base")
    assert resolve_adapter(str(adapter), str(same)).base_folder == same


def test_files_changed_after_choosing_are_refused_at_load(adapter, tmp_path):
    moved = copy_adapter(adapter, tmp_path / "moved")
    b = backend_for(str(moved), device="cpu")
    set_base(moved, str(tmp_path / "gone"))
    with pytest.raises(AdapterError, match="gone"):
        b.load()
    assert not b.loaded


def test_bad_adapter_folders_are_refused(base, adapter, tmp_path):
    no_cfg = copy_adapter(adapter, tmp_path / "nocfg")
    (no_cfg / "adapter_config.json").unlink()
    assert "no adapter_config.json" in _refusal(no_cfg)
    assert "no adapter_config.json" in _refusal(f"{base} + {no_cfg}")
    bad = copy_adapter(adapter, tmp_path / "bad")
    for content, why in (("{broken", "invalid JSON"), ("[1, 2]", "not a JSON object"),
                         ('{"r": 4}', "no peft_type"),
                         ('{"peft_type": "LORA", "base_model_name_or_path": 5}', "not text"),
                         (" " * (1024 * 1024 + 10) + "{}", "more than")):
        (bad / "adapter_config.json").write_text(content)
        assert why in _refusal(bad), why
    pickled = copy_adapter(adapter, tmp_path / "pickled")
    (pickled / "adapter_model.safetensors").rename(pickled / "adapter_model.bin")
    assert "pickle" in _refusal(pickled) and "adapter_model.bin" in _refusal(pickled)
    broken = copy_adapter(adapter, tmp_path / "broken")
    (broken / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    assert "not a valid safetensors" in _refusal(broken)


def test_listing_shows_base_plus_adapter(base, adapter, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    folder = tmp_path / "models"
    folder.mkdir()
    copy_adapter(adapter, folder / "lora")
    set_base(copy_adapter(adapter, folder / "orphan"), str(tmp_path / "gone"))
    shutil.copytree(base, folder / "base")
    found = {e["path"]: e for e in discover([folder])}
    entry = found[str(folder / "lora")]
    assert entry["spec"] == f"{base} + {folder / 'lora'}" and entry["runnable"]
    assert entry["family_label"] == "Qwen2.5-VL + adapter" and entry["label"] == "qwen2_5_vl + lora"
    assert entry["params"] > found[str(folder / "base")]["params"]
    orphan = found[str(folder / "orphan")]
    assert not orphan["runnable"] and "missing" in orphan["reason"]
    assert run_cli(["models", "--folder", str(folder), "--project",
                    str(tmp_path / "p.aastudio")]) == 0
    out = capsys.readouterr().out
    assert f"{base} + {folder / 'lora'}  [Qwen2.5-VL + adapter," in out
    assert "NOT runnable: The base model of adapter orphan" in out
    assert run_cli(["models", "--folder", str(folder), "--project",
                    str(tmp_path / "p.aastudio"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["checkpoints"]
    assert any(e.get("adapter") == str(folder / "lora") and e["runnable"] for e in listed)
    # the listed spec runs as it is
    assert resolve_adapter(*reversed(entry["spec"].split(" + "))).folder == folder / "lora"


def test_revision_covers_all_of_the_weights(tmp_path):
    """Two adapters that differ only late in their weights file are different revisions
    (evaluation tells models apart by revision)."""
    from models.vlm.adapter import _digest

    digests = []
    for k, last in enumerate((b"\0", b"\1")):
        folder = tmp_path / f"a{k}"
        folder.mkdir()
        (folder / "adapter_config.json").write_text('{"peft_type": "LORA"}')
        weights = folder / "adapter_model.safetensors"
        weights.write_bytes(bytes(3 << 20) + last)
        digests.append(_digest(folder, weights))
    assert digests[0] != digests[1]
