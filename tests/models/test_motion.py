"""Temporal facts: repetition counts, directions and onset order on synthetic tracks."""
from __future__ import annotations

import numpy as np
import pytest

from models.describe import DescribeError
from models.describe.synth import SynthPose, track
from models.motion import count_repetitions, describe_motion, motion_facts

FPS = 30.0


@pytest.mark.parametrize("cycles,noise", [(3, 2.0), (5, 4.0), (8, 4.0)])
def test_count_repetitions_known_cycles_with_noise(cycles, noise):
    rng = np.random.default_rng(cycles)
    t = np.arange(int(6 * FPS)) / FPS
    sig = 120 - 40 * np.cos(2 * np.pi * cycles * t / 6) + rng.normal(0, noise, len(t))
    sig[20:23] = np.nan                                   # a short gap is interpolated
    count, peaks, smoothed = count_repetitions(sig, FPS, prominence=20)
    assert count == cycles
    assert len(peaks) == cycles and len(smoothed) == len(sig)
    expected = (np.arange(cycles) + 0.5) * 6 / cycles * FPS
    assert np.abs(peaks - expected).max() <= 4


def test_flat_noisy_signal_has_no_repetition():
    rng = np.random.default_rng(1)
    count, peaks, _ = count_repetitions(90 + rng.normal(0, 3, 200), FPS, prominence=20)
    assert count == 0 and len(peaks) == 0


def squat_track(reps=4, seconds=4.0, hand_at=None):
    poses = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        knee = 170 - 50 * (1 - np.cos(2 * np.pi * reps * t / seconds))
        p = SynthPose().bend("left_knee", knee).bend("right_knee", knee)
        if hand_at is not None and t >= hand_at:
            p.move("left_wrist", (0, min(0.35, 2 * (t - hand_at)), 0.0))
        poses.append(p)
    return track(poses)


def test_motion_repetitions_named_signal():
    facts = motion_facts(squat_track(), FPS, 0, 4.0)
    rep = [f for f in facts if f.kind == "repetition"]
    assert len(rep) == 1 and rep[0].value == 4
    assert rep[0].extra["signal"] in {"left knee angle", "right knee angle", "left foot height",
                                      "right foot height", "hips height"}
    assert len(rep[0].extra["peaks"]) == 4
    assert f"The {rep[0].extra['signal']} goes through 4 cycles" in describe_motion(facts)


def test_motion_direction_and_onset_order():
    w = track([SynthPose()] * 30 + [SynthPose().bend("left_knee", 120).bend("right_knee", 120)] * 20
              + [SynthPose().bend("left_knee", 120).bend("right_knee", 120).raise_arm("left")] * 40)
    facts = motion_facts(w, FPS, 0, 3.0)
    moves = {f.quantity: f for f in facts if f.kind == "movement"}
    assert moves["left_hand_movement"].extra["directions"][0] == "up"
    assert moves["left_hand_movement"].bin == "clearly"
    assert "right_hand_movement" not in moves
    onsets = [f for f in facts if f.kind == "onset"]
    knee = next(f for f in onsets if f.parts == ("left_knee",))
    hand = next(f for f in onsets if f.parts == ("left_hand",))
    assert knee.value < hand.value and knee.bin == "bending" and hand.bin == "rising"
    assert hand.value - knee.value == pytest.approx(20 / FPS, abs=0.1)
    text = describe_motion(facts)
    assert "both feet move back and up" in text
    assert text.startswith("The left hand moves up")
    assert "Both knees start bending at 0.97 s" in text
    assert "just after, the left hand starts rising" in text


def test_interval_errors():
    w = squat_track(seconds=2.0)
    with pytest.raises(DescribeError, match="outside the clip"):
        motion_facts(w, FPS, 1.0, 5.0)
    with pytest.raises(DescribeError, match="is empty: the end must come after the start"):
        motion_facts(w, FPS, 1.5, 1.0)
    with pytest.raises(DescribeError, match="outside the clip"):
        motion_facts(w, FPS, -1.0, 1.0)
    with pytest.raises(DescribeError, match="shorter than one movement cycle"):
        motion_facts(w, FPS, 0.5, 0.6)
    empty = np.full((60, 33, 4), np.nan)
    with pytest.raises(DescribeError, match="No pose"):
        motion_facts(empty, FPS, 0, 2.0)


def test_importing_the_core_stays_light():
    import subprocess
    import sys

    code = ("import sys, models.describe, models.diff, models.motion; "
            "print(sorted(m for m in ('scipy', 'torch', 'mediapipe', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "[]"


def test_motion_text_merges_subjects_and_never_dangles():
    from models.describe.facts import Fact
    from models.motion_text import render_motion

    def move(part, dirs, label="slightly", side="centre"):
        return Fact("movement", (part,), f"{part}_movement", 0.2, "m", label, 0, 1.0, (), "body",
                    side, "", {"directions": dirs})
    body = Fact("movement", ("body",), "body_sideways", 1.2, "torso lengths", "clearly", 0, 1.0, (),
                "body", "centre", "", {"directions": ["right of the frame"]})
    turn = Fact("turn", ("body",), "turn", 170.0, "deg", "around", 0, 1.0, (), "body", "centre", "",
                {"direction": "left"})
    text = render_motion([move("left_foot", []), body, turn])
    assert text == ("The left foot moves slightly and the body moves towards the right of the frame "
                    "and turns around.")
