"""QA about each of several people from synthetic tracks of known placement: referents in
the questions, no item over a span where people cross, person-aware ids, answers and
answerability checks; one person stored gives the single-person items."""
from __future__ import annotations

import numpy as np
import pytest

from models.describe.referents import referents
from models.qa.answerable import TrackContext, judge_record
from models.qa.checks import answerability_flags
from models.qa.generate import clip_qa, clip_qa_people
from models.qa.person_text import generic_option, option_for, question_for
from models.qa.synth import SynthSettings, rederive, synthesize_people, synthesize_track
from models.qa.tasks import GENERATORS
from tests.models.qa_poses import elbow_pumping, raising_hand

S = SynthSettings(per_clip=40)
LEFT, RIGHT = "the person on the left", "the person on the right"


def apart(frames: int = 100):
    a, b = elbow_pumping(frames), raising_hand(frames)
    a.image[..., 0] -= 0.25
    b.image[..., 0] += 0.25
    return {0: a, 1: b}


def crossing(frames: int = 100):
    """Person 1 stands in the middle (x 0.5); person 0 walks from x 0.2 to 0.8 over frames
    40..60, through person 1 at frame 50 (closer than the referents' margin on 48..52)."""
    tracks = apart(frames)
    tracks[1].image[..., 0] -= 0.25
    shift = np.concatenate([np.zeros(40), np.linspace(0, 0.6, 21), np.full(frames - 61, 0.6)])
    tracks[0].image[..., 0] += (shift - 0.05)[:, None].astype(np.float32)
    return tracks


def _span(r):
    f = r.provenance.frame_indices
    return min(f), max(f) + 1


def test_every_template_names_the_person_once_and_clearly():
    templates = {
        "In the frame at 1.00 s, how is the person's left elbow?":
            "In the frame at 1.00 s, how is the left elbow of the person on the left?",
        "In the frame at 1.00 s, what is the person's overall posture?":
            "In the frame at 1.00 s, what is the overall posture of the person on the left?",
        "Between 1.00 s and 2.00 s, in which direction does the person's left hand mainly "
        "move (relative to the body)?":
            "Between 1.00 s and 2.00 s, in which direction does the left hand of the person on "
            "the left mainly move (relative to the body)?",
        "In the frame at 1.00 s, which of the person's hands is higher?":
            "In the frame at 1.00 s, which of the hands of the person on the left is higher?",
        "In the frame at 1.00 s, where is the person's left hand relative to the head?":
            "In the frame at 1.00 s, where is the left hand of the person on the left relative "
            "to the head?",
        "Between 1.00 s and 2.00 s, how many times does the person bend their left knee?":
            "Between 1.00 s and 2.00 s, how many times does the person on the left bend their "
            "left knee?",
        "From frame A (1.00 s) to frame B (2.00 s), what happens to the person's left knee?":
            "From frame A (1.00 s) to frame B (2.00 s), what happens to the left knee of the "
            "person on the left?",
        "From frame A (1.00 s) to frame B (2.00 s), which joint changes its angle the most?":
            "From frame A (1.00 s) to frame B (2.00 s), which joint of the person on the left "
            "changes its angle the most?",
    }
    for generic, personal in templates.items():
        assert question_for(generic, LEFT) == personal
        assert question_for(generic, "the person") == generic == question_for(generic, None)
    for generic, personal in {"the left hand": "their left hand",
                              "towards the person's right": "towards their own right",
                              "up": "up", "both feet are about level": "both feet are about level"
                              }.items():
        assert option_for(generic, LEFT) == personal and generic_option(personal) == generic
        assert option_for(generic, "the person") == generic


def test_items_name_each_person_where_they_stand():
    tracks = apart()
    records = synthesize_people(tracks, "clip.mp4", S)
    assert {r.person for r in records} == {0, 1}
    tasks = {r.task for r in records}
    assert len(tasks) >= 4
    for r in records:
        want = LEFT if r.person == 0 else RIGHT
        assert r.person_referent == want and want in r.question
        assert "the person's" not in r.question and "'s " not in r.question
        assert not any("the person" in o for o in r.options)
        assert rederive(r) == r.answer_index
        assert judge_record(r, TrackContext(tracks[r.person])).reasons == []
    # the generic items of the same track, renamed, are what per-person synthesis keeps
    plain = {q.question for q in synthesize_track(tracks[0], "clip.mp4", S)}
    assert {question_for(q, LEFT) for q in plain} >= {r.question for r in records if r.person == 0}


def test_no_item_over_a_crossing():
    tracks = crossing()
    records = synthesize_people(tracks, "clip.mp4", S)
    assert records and {r.person for r in records} == {0, 1}
    for r in records:
        a, b = _span(r)
        assert b <= 48 or a >= 53, f"item over the crossing: {r.question}"
        assert referents(tracks, a, b)[r.person] == r.person_referent
    # both sides of the crossing are used, and person 0 is named by where they are then
    before = [r for r in records if r.person == 0 and _span(r)[1] <= 48]
    after = [r for r in records if r.person == 0 and _span(r)[0] >= 53]
    assert before and after
    assert {r.person_referent for r in before} == {LEFT}
    assert {r.person_referent for r in after} == {RIGHT}


def test_ids_are_stable_and_include_the_person_only_among_several():
    tracks = apart()
    one = synthesize_people(tracks, "clip.mp4", S)
    assert [r.to_dict() for r in one] == [r.to_dict() for r in synthesize_people(tracks, "clip.mp4", S)]
    ids = [r.qa_id for r in one]
    assert len(set(ids)) == len(ids)
    # the same track as the only person: the single-person items, ids and all
    alone = clip_qa_people({0: tracks[0]}, "clip.mp4", S)
    plain = clip_qa(tracks[0], "clip.mp4", S)
    assert [r.qa_id for r in alone.records] == [r.qa_id for r in plain.records]
    assert [(r.question, r.options, r.answer_index) for r in alone.records] == \
        [(r.question, r.options, r.answer_index) for r in plain.records]
    assert {(r.person, r.person_referent) for r in alone.records} == {(0, "the person")}
    assert alone.key != plain.key        # a per-person run is its own generation
    # person 1 placed exactly like person 0: every item ambiguous, none generated
    same = {0: tracks[0], 1: tracks[0]}
    assert synthesize_people(same, "clip.mp4", S) == []


def test_answerability_flags_use_the_persons_own_track():
    tracks = apart()
    records = synthesize_people(tracks, "clip.mp4", S)
    loads = []

    def load_person(video, person):
        loads.append(person)
        return tracks[person]
    flags, unchecked = answerability_flags(records, lambda v: None, load_person)
    assert flags == {} and unchecked == [] and sorted(set(loads)) == [0, 1]
    # judged on the wrong person's track, items about person 1 are flagged
    flags, _ = answerability_flags(records, lambda v: None, lambda v, p: tracks[1 - p])
    assert any(r.qa_id in flags for r in records if r.person == 1)
    # without a person loader they are not checked (never judged on the main track)
    flags, unchecked = answerability_flags(records, lambda v: tracks[0])
    assert flags == {} and sorted(unchecked) == sorted(r.qa_id for r in records)


@pytest.mark.parametrize("task", sorted(GENERATORS))
def test_rederive_reads_the_persons_wording(task):
    tracks = apart()
    s = SynthSettings(tasks=(task,), per_clip=10)
    for r in synthesize_people(tracks, "clip.mp4", s):
        assert rederive(r) == r.answer_index
        generic = r.options[r.answer_index]
        assert option_for(generic_option(generic), r.person_referent) == generic


def test_no_item_where_the_other_people_are_lost():
    """Two people stored, person 1 unseen on frames 50.. (the landmarker lost them, as when
    two people hug): items about person 0 over those frames would say "the person", which
    could mean either one in the picture, so none are made there."""
    tracks = apart()
    tracks[1].image[50:] = np.nan
    tracks[1].world[50:] = np.nan
    records = synthesize_people(tracks, "clip.mp4", S)
    assert any(r.person == 0 and _span(r)[1] <= 50 for r in records)
    for r in records:
        assert r.person_referent in (LEFT, RIGHT), r.question
        a, b = _span(r)
        assert referents(tracks, a, b)[r.person] == r.person_referent
    # the same track alone is still "the person" (a clip with one person stored)
    alone = synthesize_people({0: tracks[0]}, "clip.mp4", S)
    assert alone and {r.person_referent for r in alone} == {"the person"}
