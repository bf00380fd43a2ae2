"""QA synthesis from pose facts: correctness re-derived from stored facts, distractors
provably wrong, visibility gating, balance, near-duplicates, resume/cancel, real clips."""
from __future__ import annotations

from collections import Counter

import pytest

from models.errors import Cancelled
from models.jobs import JobContext
from models.pose.skeleton import blazepose
from models.qa import checks
from models.qa.generate import generate_qa
from models.qa.synth import Balancer, SynthSettings, rederive, synthesize_track
from models.qa.tasks import (body_part_pose, full_body_posture, movement_direction,
                             relative_position, repetition_count)
from models.qa.tasks.common import ClipFacts
from tests.models.qa_poses import elbow_pumping, raising_hand


def _clip(frames=None, intervals=(), pairs=()) -> ClipFacts:
    return ClipFacts("v.mp4", 25.0, frames or {}, list(intervals), list(pairs))


def _angle(part, value, frame=5):
    return {"part": part, "quantity": "angle", "value": value, "unit": "deg", "frame": frame,
            "visibility": 0.9}


def test_body_part_pose_answer_bin_and_provably_wrong_distractors():
    clip = _clip({5: [_angle("left_knee", 92.0), _angle("right_knee", 104.0)]})
    cands = body_part_pose.generate(clip)
    assert [c.params["joint"] for c in cands] == ["left_knee"]  # 104 is within 7 deg of an edge
    c = cands[0]
    assert c.answer == "bent at a right angle" and c.answer not in c.distractors
    assert c.distractors[:2] == ["straight", "completely bent"]  # far bins first
    assert body_part_pose.derive(c.facts, c.params) == c.answer


def test_posture_distractors_fail_their_rules_even_with_margin():
    m = {"torso": 3.0, "knee_angle_min": 175.0, "knee_angle_max": 178.0,
         "knee_height_min": 0.45, "hip_height_min": 0.9}
    answer, wrong = full_body_posture.classify(m)
    assert answer == "standing upright"
    assert set(wrong) == {"lying down", "kneeling", "bending forward at the waist", "squatting"}
    m["torso"] = 28.0  # near 'bending forward' (>= 30 with a 5 degree margin): not offered
    answer, wrong = full_body_posture.classify(m)
    assert answer is None or "bending forward at the waist" not in wrong


def test_relative_position_ambiguous_band_is_skipped():
    f = lambda v: {"part": ["left_wrist", "right_wrist"], "quantity": "offset", "value": v,  # noqa: E731
                   "unit": "m", "frame": 1, "visibility": 0.9, "axis": "y"}
    for v, expected in ((0.3, "the left hand"), (-0.2, "the right hand"),
                        (0.01, "both hands are at about the same height"), (0.1, None)):
        cands = relative_position.generate(_clip({1: [f(v)]}))
        assert [c.answer for c in cands] == ([expected] if expected else [])


def test_movement_direction_from_a_real_rise():
    recs = synthesize_track(raising_hand(), "rise.mp4", SynthSettings(tasks=("movement_direction",),
                                                                       per_clip=20))
    left = [r for r in recs if "left hand" in r.question]
    assert left and all(r.answer_text == "up" for r in left)
    assert all("down" in r.options for r in left)  # the opposite is always offered
    assert all(rederive(r) == r.answer_index for r in recs)
    assert movement_direction.direction({"x": 0.02, "y": 0.3, "z": 0.2})[0] is None  # no dominant axis


def test_repetition_count_counts_cycles_and_offers_neighbouring_counts():
    recs = synthesize_track(elbow_pumping(cycles=3), "pump.mp4",
                            SynthSettings(tasks=("repetition_count",), per_clip=5))
    assert len(recs) == 1
    r = recs[0]
    assert "right elbow" in r.question and r.answer_text == "3 times"
    assert set(r.options) - {"3 times"} <= {"twice", "4 times", "5 times", "once", "6 times"}
    assert rederive(r) == r.answer_index
    assert repetition_count.neighbours(1) == ["twice", "3 times", "4 times"]


def test_no_questions_about_joints_below_visibility():
    track = elbow_pumping()
    track.world[:, blazepose().index("right_elbow"), 3] = 0.2
    recs = synthesize_track(track, "hidden.mp4", SynthSettings(per_clip=100))
    assert recs and not any("right elbow" in r.question for r in recs)
    assert all(f["visibility"] >= 0.5 for r in recs for f in r.provenance.facts)


def test_balanced_positions_no_duplicates_deterministic():
    s = SynthSettings(per_clip=30, seed=5)
    tracks = [elbow_pumping(cycles=k, frames=80 + 10 * k) for k in range(2, 6)] + [raising_hand()]
    balancer = Balancer()
    recs = [r for i, t in enumerate(tracks) for r in synthesize_track(t, f"c{i}.mp4", s, balancer)]
    by_n = Counter((len(r.options), r.answer_index) for r in recs)
    for n in {len(r.options) for r in recs}:
        counts = [by_n[(n, i)] for i in range(n)]
        assert max(counts) - min(counts) <= 1, counts
    assert len({r.qa_id for r in recs}) == len(recs)
    assert checks.duplicates(recs) == {}
    assert all(not checks.identical_options(r) and not checks.option_contains_answer(r) for r in recs)
    assert all(rederive(r) == r.answer_index for r in recs)
    again = [r for i, t in enumerate(tracks) for r in synthesize_track(t, f"c{i}.mp4", s, Balancer())]
    assert [r.to_dict() for r in again][:5] == [r.to_dict() for r in recs][:5]


def test_resume_and_cancel(project, tmp_path):
    tracks = {f"/data/c{i}.mp4": elbow_pumping(cycles=2 + i) for i in range(3)}
    calls = []

    def loader(path):
        calls.append(path)
        return tracks[path]
    ctx = JobContext(on_progress=lambda done, total, msg: done == 1 and ctx.token.cancel())
    with pytest.raises(Cancelled):
        generate_qa(project, list(tracks), SynthSettings(per_clip=4), ctx, root="/data", loader=loader)
    first = project.qa_count()
    assert first == 4 and project.qa_distinct("video") == ["c0.mp4"]
    summary = generate_qa(project, list(tracks), SynthSettings(per_clip=4), root="/data", loader=loader)
    assert summary.skipped == ["c0.mp4"] and summary.generated == 8
    assert project.qa_count() == 12
    none = generate_qa(project, ["/data/none.mp4"], loader=lambda p: None)
    assert none.no_poses == ["none.mp4"]


@pytest.mark.slow
def test_real_clip_every_answer_rederives(project, clip):
    from models.pose.extract import extract_video

    path = clip("two_people_room.mp4")
    summary = generate_qa(project, [str(path)], SynthSettings(per_clip=40, seed=1), extract=True)
    recs = project.qa_records()
    assert summary.generated == len(recs) >= 10
    assert len({r.task for r in recs}) >= 3   # only answerable items (models.qa.answerable)
    for r in recs:
        assert r.provenance.facts and r.provenance.pose_backend
        assert rederive(r) == r.answer_index, r.question
    track = extract_video(path, project)  # cached: same facts
    for r in recs:
        _agrees_with_describer(r, track.world)
    pump = synthesize_track(elbow_pumping(), "synthetic_pump.mp4", SynthSettings(per_clip=40))
    rise = synthesize_track(raising_hand(), "synthetic_rise.mp4", SynthSettings(per_clip=40))
    shown = {}
    for r in recs + pump + rise:
        shown.setdefault(r.task, r)
    assert len(shown) == 6
    print(f"\n--- generated examples ({len(track)} frames of {path.name}; run with -s) ---")
    for r in shown.values():
        print(f"[{r.task}] {r.video} | {r.question} | options={r.options} | "
              f"answer={r.answer_letter} ({r.answer_text}) | facts={r.provenance.facts[:2]}")


def _agrees_with_describer(r, world) -> None:
    """The pose describer's text of the same frame says the same thing as the answer."""
    from models.describe import pose_facts

    p = r.provenance.generation_params["params"]
    if r.task not in ("body_part_pose", "relative_position", "full_body_posture"):
        return
    said = {f.quantity: f for f in pose_facts(world, p["frame"])}
    postures = [f.bin for f in pose_facts(world, p["frame"]) if f.kind == "posture"]
    if r.task == "body_part_pose":
        fact = said[p["joint"] + "_angle"] if p["joint"] + "_angle" in said else None
        value = r.provenance.facts[0]["value"]
        assert fact is None or fact.phrase.endswith(r.answer_text), (fact, r.answer_text)
        assert fact is not None or r.answer_text == "straight"   # hips: a silent bin
        assert abs(value - (fact.value if fact else value)) < 1e-3
    elif r.task == "relative_position" and r.provenance.facts[0].get("measure"):
        from models.describe import track_facts
        from models.describe.config import group

        m = r.provenance.facts[0]["measure"]
        tf = track_facts(world[p["frame"]:p["frame"] + 1], hysteresis=False)
        labels = group(tf.specs[tf.column(m)].group)["labels"]
        phrases = relative_position.PHRASES[(*p["parts"], p["axis"])]
        expected = labels[{1: 4, 2: 0, 3: 2}[phrases.index(r.answer_text)]]
        assert tf.labels(m)[0] == expected == r.provenance.facts[0]["bin"], (m, expected)
    elif r.task == "full_body_posture":
        assert full_body_posture.DESCRIBED[r.answer_text] in postures
        wrong = [o for i, o in enumerate(r.options) if i != r.answer_index]
        assert not {full_body_posture.DESCRIBED[o] for o in wrong} & set(postures)


def test_answers_use_the_describers_bins_and_words():
    track = elbow_pumping(cycles=2)
    recs = synthesize_track(track, "pump.mp4", SynthSettings(per_clip=60, seed=3))
    assert {"body_part_pose", "relative_position"} <= {r.task for r in recs}
    for r in recs:
        assert rederive(r) == r.answer_index
        _agrees_with_describer(r, track.world)
    knees = [r for r in recs if r.task == "body_part_pose" and "knee" in r.question]
    assert knees and all(r.answer_text == "straight" for r in knees)


def test_taxonomy_is_data_and_bad_files_are_refused(tmp_path):
    from models.qa.errors import QAError
    from models.qa.taxonomy import load_taxonomy, task_ids

    tax = load_taxonomy()
    assert list(tax) == ["body_part_pose", "full_body_posture", "relative_position",
                         "human_object_interaction", "movement_direction", "action_sequence",
                         "repetition_count", "spatial_difference", "interaction_contact",
                         "interaction_facing", "interaction_height", "interaction_approach"]
    assert tax["action_sequence"].derivable_from_pose == "partly"
    assert set(task_ids("pose")) == set(SynthSettings().tasks)
    bad = tmp_path / "tax.json"
    bad.write_text('{"tasks": [{"id": "x", "kind": "spatial"}]}', encoding="utf-8")
    with pytest.raises(QAError, match="entry 1"):
        load_taxonomy(str(bad))
    with pytest.raises(QAError, match="No pose-fact generator"):
        SynthSettings(tasks=("human_object_interaction",))


def test_a_second_run_with_other_settings_adds_no_near_duplicates(project):
    track = elbow_pumping(cycles=3)
    runs = [SynthSettings(per_clip=6, seed=1), SynthSettings(per_clip=40, seed=2, n_options=3)]
    for s in runs:
        generate_qa(project, ["/data/pump.mp4"], s, root="/data", loader=lambda p: track)
    recs = project.qa_records()
    assert {r.provenance.seed for r in recs} == {1, 2}      # both runs added items
    assert checks.duplicates(recs) == {}
    assert len({r.question for r in recs}) == len(recs)
