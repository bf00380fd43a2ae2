"""Exports checked by the REAL consumers in a side virtual environment (lmms-eval 0.7.x and
ms-vlmeval clash with the app's OpenCV/av pins). scripts/setup_lmms_eval_venv.sh creates
it once (test.sh runs it before pytest) and is a no-op afterwards."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from models.evaluate import score_texts
from models.export import ExportOptions, export
from tests.conftest import CLIPS, REPO
from tests.models.export_samples import sample_records

# real-looking outputs: right, wrong, option text, unparseable
PREDICTIONS = {"qa_0001": "The answer is C.", "qa_0002": "**B**",
               "qa_0003": "(B) the right knee bent more", "qa_0004": "2",
               "qa_0005": "I cannot tell from the video."}


@pytest.fixture(scope="module")
def side_python() -> str:
    proc = subprocess.run(["bash", str(REPO / "scripts" / "setup_lmms_eval_venv.sh")],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def _run(python: str, script: str, *args) -> dict:
    proc = subprocess.run([python, str(REPO / "scripts" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=str(args[0]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_lmms_eval_loads_tasks_and_scores_like_the_app(side_python, tmp_path):
    records = sample_records()
    export("lmms-eval", records, tmp_path / "tasks",
           ExportOptions(name="aa_bench", video_root=str(CLIPS)))
    (tmp_path / "preds.json").write_text(json.dumps(PREDICTIONS))
    out = _run(side_python, "check_lmms_eval_export.py", tmp_path / "tasks", "aa_bench",
               tmp_path / "preds.json")
    app = score_texts(records, PREDICTIONS)
    assert "aa_bench" in out["found"] and out["visual_missing"] == [] and out["prompts"] == 5
    assert {k.removeprefix("aa_bench_"): v["accuracy"] for k, v in out["tasks"].items()} == \
        pytest.approx({t: 100 * s.accuracy for t, s in app.tasks.items()})
    assert {k.removeprefix("aa_bench_"): v["n"] for k, v in out["tasks"].items()} == \
        {t: s.n for t, s in app.tasks.items()}
    assert out["group"] == pytest.approx(100 * app.mean_over_tasks)
    chat = out["chat"]   # the chat-model path builds messages from the same hooks
    assert chat["prompts"] == 5 and chat["visuals"] == 5 and chat["visual_missing"] == []
    assert chat["chat_texts"] == 5 and chat["tasks"] == out["tasks"]
    assert app.unparseable == ["qa_0005"] and app.overall == pytest.approx(0.6)


def test_vlmevalkit_loaders_read_both_tsvs(side_python, tmp_path):
    assert (Path(side_python).parent.parent / ".vlmeval").exists(), \
        "ms-vlmeval did not install in the side venv (see setup_lmms_eval_venv.sh output)"
    twin = dataclasses.replace(sample_records()[1], qa_id="qa_0002b", question="Same frames?")
    records = sample_records() + [twin]     # shares its image with qa_0002 (index reference)
    opts = ExportOptions(name="aa_bench", video_root=str(CLIPS), frames_per_item=4)
    export("vlmevalkit-video", records, tmp_path / "video", opts)
    export("vlmevalkit-frames", records, tmp_path / "frames", opts)
    preds = dict(PREDICTIONS, qa_0002b="A")
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    out = _run(side_python, "check_vlmeval_export.py", tmp_path / "video", "aa_bench",
               tmp_path / "frames", tmp_path / "preds.json")
    app = score_texts(records, preds)
    video = out["video"]
    assert video["len"] == 6 and video["video_exists"]
    assert video["prompt"].splitlines()[1:3] == ["A. straight", "B. slightly bent"]
    assert video["score"]["mean_over_tasks"] == pytest.approx(100 * app.mean_over_tasks)
    assert video["score"]["overall"] == pytest.approx(100 * app.overall)
    assert video["frames_mode"] == 4 and video["frames_mode_exist"]   # decord-sampled frames
    frames = out["frames"]
    assert frames["class"] == "CustomMCQDataset" and frames["len"] == 6 and frames["images_exist"]
    assert "A. straight" in frames["text"]
