"""About 40 real synthesized QA items on the real test clips, for the fine-tuning tests.

The QA synthesis (``models.qa.synth.synthesize_track``) runs on synthetic pose tracks with
different motions; each track's items are placed on one of the real clips in
``tests/data/clips`` (their frames are decoded and sampled like any project's). Items whose
prompt repeats with another answer are dropped, so the answer follows from the item.
"""
from __future__ import annotations

import numpy as np

from tests.conftest import CLIPS

CLIP_NAMES = ("arm_wrestling.mp4", "tai_chi.mp4", "two_people_room.mp4", "basketball_gym.mp4")


def _tracks():
    from models.pose.skeleton import blazepose
    from tests.models.qa_poses import standing_frame, track_from

    sk = blazepose()
    out = []
    for k in range(len(CLIP_NAMES)):
        world = np.repeat(standing_frame()[None], 60, axis=0)
        t = np.linspace(0, (2 + k) * np.pi, 60)
        world[:, sk.index("left_wrist"), 1] = -0.1 - (0.15 + 0.1 * k) * np.sin(t)
        world[:, sk.index("right_knee"), 2] = -0.1 * (k + 1) * np.clip(np.sin(t), 0, 1)
        world[:, sk.index("right_wrist"), 0] = -0.24 - 0.05 * k * np.cos(t)
        out.append(track_from(world))
    return out


def learn_items(limit: int = 40) -> list:
    from models.answer_parse import build_mcq_prompt
    from models.qa.synth import synthesize_track

    records, answers = [], {}
    for name, track in zip(CLIP_NAMES, _tracks()):
        for rec in synthesize_track(track, name):
            key = build_mcq_prompt(rec.question, rec.options)
            answers.setdefault(key, set()).add(rec.answer_index)
            rec.review.status = "accepted"
            records.append((key, rec))
    out = [rec for key, rec in records if len(answers[key]) == 1]
    seen, unique = set(), []
    for rec in out:
        key = (build_mcq_prompt(rec.question, rec.options), rec.video)
        if key not in seen:
            seen.add(key)
            unique.append(rec)
    return unique[:limit]


VIDEO_ROOT = str(CLIPS)


def sharp_tiny_checkpoint(family: str, out_dir, scale: float = 20.0):
    """A copy of the tests' tiny random checkpoint whose output layer is ``scale`` times
    larger. The tiny builder initialises every weight at std 0.02, so the logits of a
    32-wide model can barely move away from uniform (best loss near ln(vocab)); a larger
    output layer lets a fine-tune reach confident answers. The base stays random."""
    import shutil

    from safetensors.torch import load_file, save_file

    from tests.vlm_fixtures import tiny_checkpoint

    src = tiny_checkpoint(family)
    shutil.copytree(src, out_dir)
    path = f"{out_dir}/model.safetensors"
    weights = load_file(path)
    keys = [k for k in weights if k.endswith("lm_head.weight")]
    assert keys, sorted(weights)[:5]
    for k in keys:
        weights[k] = (weights[k].float() * scale).to(weights[k].dtype)
    save_file(weights, path, metadata={"format": "pt"})
    return out_dir
