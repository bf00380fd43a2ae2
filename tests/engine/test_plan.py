"""`dataset plan`: the arithmetic of the cost estimate, from a config's own stage parameters
and rates, for a probed manifest of real clips and for a dataset given by size."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from models.engine.config import parse_config
from models.engine.plan import RATES, plan_lines, plan_run
from models.video import probe

REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp_path, manifest, plan=None, p1=None):
    doc = {"run": {"manifest": str(manifest), "output": str(tmp_path / "run")},
           "endpoints": [{"name": "a", "url": "http://127.0.0.1:9/v1", "model": "m"}],
           "stages": {"poses": {}, "p1_describe": dict({"model": "endpoints"}, **(p1 or {}))}}
    if plan:
        doc["plan"] = plan
    return parse_config(doc, base_dir=tmp_path)


def test_probed_manifest_counts_real_frames(tmp_path, clips_dir):
    clips = [clips_dir / "tai_chi.mp4", clips_dir / "arm_wrestling.mp4"]
    (tmp_path / "list.csv").write_text("video\n" + "\n".join(str(c) for c in clips)
                                       + "\nnot_there.mp4\n")
    plan = plan_run(_cfg(tmp_path, tmp_path / "list.csv"))
    frames = sum(probe(c).frame_count for c in clips)
    assert plan["entries"] == 3 and plan["items"] == 2 and plan["frames"] == frames
    poses = next(s for s in plan["stages"] if s["name"] == "poses")
    assert poses["cpu_hours"] == pytest.approx(frames / RATES["pose_frames_per_s"] / 3600, abs=1e-3)


def test_mllm_hours_follow_the_stage_parameters_and_rates(tmp_path):
    rates = {"prefill_tokens_per_s": 1000.0, "decode_tokens_per_s": 10.0, "tokens_per_frame": 50.0,
             "pose_frames_per_s": 100.0}
    cfg = _cfg(tmp_path, tmp_path, plan=dict(rates, clips=360, frames_per_clip=250),
               p1={"windows": 2, "frames": 8, "max_new_tokens": 100})
    plan = plan_run(cfg)
    p1 = next(s for s in plan["stages"] if s["name"] == "p1_describe")
    prompt = 8 * 50 + 150                               # frames x tokens/frame + template
    assert p1["requests"] == 720 and p1["prompt_tokens"] == 720 * prompt
    assert p1["new_tokens"] == 720 * 100
    assert p1["gpu_hours"] == pytest.approx(720 * (prompt / 1000 + 100 / 10) / 3600, abs=1e-3)
    assert plan["frames"] == 90_000 and plan["cpu_hours"] == pytest.approx(0.25, abs=1e-3)
    # twice the clips: twice the work; pose grounding adds prompt tokens, not requests
    double = plan_run(cfg, clips=720)
    assert double["gpu_hours"] == pytest.approx(2 * plan["gpu_hours"], rel=1e-3)
    grounded = plan_run(_cfg(tmp_path, tmp_path, plan=dict(rates, clips=360),
                             p1={"windows": 2, "frames": 8, "max_new_tokens": 100,
                                 "pose_grounding": True}))
    g1 = next(s for s in grounded["stages"] if s["name"] == "p1_describe")
    assert g1["requests"] == 720 and g1["prompt_tokens"] > p1["prompt_tokens"]
    text = "\n".join(plan_lines(plan))
    assert "720 requests" in text and "given" in text


def test_cli_plan_for_a_dataset_by_size(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[run]\nmanifest = "{tmp_path}"\noutput = "{tmp_path / "out"}"\n'
                   '[[endpoints]]\nname = "a"\nurl = "http://127.0.0.1:9/v1"\n'
                   '[stages.poses]\n[stages.p1_describe]\nmodel = "endpoints"\n')
    out = subprocess.run([sys.executable, "main.py", "dataset", "plan", str(cfg), "--clips", "4009",
                          "--frames-per-clip", "300", "--json"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["items"] == 4009 and plan["frames"] == 4009 * 300
    assert not (tmp_path / "out").exists()                     # planning creates nothing
    bad = subprocess.run([sys.executable, "main.py", "dataset", "plan", str(cfg), "--clips", "0"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
