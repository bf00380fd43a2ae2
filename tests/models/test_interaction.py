"""Facts between two people (models.describe.interaction), the sentence naming them and the
QA items about them (models.qa.tasks.interaction): synthetic pairs with known geometry and
two real clips whose frames were looked at."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from models.describe import interaction as ix
from models.describe.synth import SynthPose
from models.pose.track import PoseTrack
from models.qa.record import check_record
from models.qa.synth import SynthSettings
from models.qa.tasks.interaction import (APPROACH, CONTACT, FACING, HEIGHT, derive,
                                         interaction_items)
from tests.conftest import CLIPS

W, H, PX_PER_M = 1280, 720, 400.0     # torso (0.5 m) = 200 px


def person(xs, ys=0.5, yaw=0.0, pose: SynthPose | None = None, frames: int = 12,
           fps: float = 10.0) -> PoseTrack:
    """A synthetic person whose hips sit at picture x ``xs`` (a number or per frame; NaN:
    absent), y ``ys``; image = the world pose seen straight on, 400 px per metre."""
    pose = pose or SynthPose()
    xs = np.broadcast_to(np.asarray(xs, dtype=np.float64), (frames,))
    ys = np.broadcast_to(np.asarray(ys, dtype=np.float64), (frames,))
    world = np.repeat(pose.world(yaw)[None], frames, axis=0)
    img = world.copy()
    img[..., 0] = xs[:, None] + world[..., 0] * PX_PER_M / W
    img[..., 1] = ys[:, None] + world[..., 1] * PX_PER_M / H
    img[..., 2] = world[..., 2] * PX_PER_M / W
    gone = np.isnan(xs)
    img[gone], world[gone] = np.nan, np.nan
    return PoseTrack(img, world, fps=fps, width=W, height=H)


def reaching(side: str) -> SynthPose:
    """Standing, the ``side`` hand stretched out sideways at chest height."""
    p = SynthPose()
    sign = 1 if side == "left" else -1
    p.set(f"{side}_elbow", (sign * 0.4, 0.35, 0))
    return p.set(f"{side}_wrist", (sign * 0.62, 0.3, 0))


def reaching_forward(side: str) -> SynthPose:
    """Standing, the ``side`` hand stretched straight forward at chest height."""
    p = SynthPose()
    p.set(f"{side}_elbow", (0.0, 0.35, 0.35))
    return p.set(f"{side}_wrist", (0.0, 0.3, 0.62))


GAP = 1.24 * PX_PER_M / W     # picture x between two hips whose stretched hands meet


def shaking(a_hand_vis=0.99):
    """A on the left reaches its left hand (picture right), B its right one: they meet."""
    a = reaching("left")
    a.vis[a.sk.index("left_wrist")] = a_hand_vis
    return {0: person(0.4, pose=a), 1: person(0.4 + GAP, pose=reaching("right"))}


def fact(tracks, kind, frame=5, persons=(0, 1)):
    facts = ix.pair_facts(tracks[persons[0]], tracks[persons[1]], frame, persons)
    f = ix.find(facts, kind, persons)
    assert f is not None
    return f


# -- synthetic pairs ---------------------------------------------------------------------
def test_body_size_is_the_torso_in_pixels():
    t = person(0.5)
    assert ix.body_size(t, 0) == pytest.approx(0.5 * PX_PER_M, rel=1e-3)
    turned = person(0.5, yaw=70)        # shoulders foreshortened: the torso length stays
    assert ix.body_size(turned, 0) == pytest.approx(0.5 * PX_PER_M, rel=0.02)


def test_hands_touching_and_apart():
    tracks = shaking()
    near = fact(tracks, "hands_distance")
    assert near.value == pytest.approx(0.0, abs=0.02)
    assert near.detail["hands"] == ["left_hand", "right_hand"]
    touch = fact(tracks, "hands_touch")
    assert touch.state is True and touch.label == "touch"
    apart = {0: person(0.3), 1: person(0.7)}     # arms hanging, 512 px between the hips
    f = fact(apart, "hands_touch")
    assert f.state is False and f.label == "apart" and f.value > ix.APART
    # 0.3/0.7: A's left hand at 0.3*1280 + 72 px, B's right at 0.7*1280 - 72 px
    assert fact(apart, "hands_distance").value == pytest.approx((512 - 144) / 200, rel=1e-3)
    assert fact(apart, "hand_on_body").state is False
    assert fact(apart, "hand_on_body", persons=(1, 0)).state is False


def test_a_hand_between_touching_and_apart_cannot_be_told():
    a, b = reaching("left"), reaching("right")
    tracks = {0: person(0.4, pose=a), 1: person(0.4 + GAP + 0.5 * 200 / W, pose=b)}
    f = fact(tracks, "hands_touch")     # 0.5 torso lengths: inside the band
    assert f.state is None and "between touching and apart" in f.reason
    assert fact(tracks, "hands_distance").value == pytest.approx(0.5, abs=0.02)


def test_hand_on_the_other_body():
    a = SynthPose()
    a.set("left_elbow", (0.45, 0.4, 0))
    a.set("left_wrist", (0.75, 0.3, 0))        # rests on B's chest: B's hips 0.8 m away
    tracks = {0: person(0.4, pose=a), 1: person(0.4 + 0.8 * PX_PER_M / W)}
    f = fact(tracks, "hand_on_body")
    assert f.state is True and f.detail["hand"] == "left_hand"
    assert fact(tracks, "hand_on_body", persons=(1, 0)).state is False
    text = ix.describe_pair(tracks, 0, 1, 5)
    assert "the left hand of the person on the left touches the person on the right" in text


def test_an_invisible_hand_cannot_tell_instead_of_apart():
    f = fact(shaking(a_hand_vis=0.2), "hands_touch")
    assert f.state is None and "left hand not visible" in f.reason
    # visible again (the same geometry): determinate
    assert fact(shaking(), "hands_touch").state is True


def test_a_missing_person_cannot_tell_anything():
    xs = np.full(12, 0.7)
    xs[5] = np.nan
    tracks = {0: person(0.3), 1: person(xs)}
    facts = ix.pair_facts(tracks[0], tracks[1], 5, (0, 1))
    assert facts and all(f.state is None and "absent" in f.reason for f in facts)
    text = ix.describe_pair(tracks, 0, 1, 5)
    assert text.startswith("Cannot tell which person is which")
    # a frame either side of the gap: the fact itself is known but not steady
    assert fact(tracks, "hands_touch", frame=4).state is None
    assert fact(tracks, "hands_touch", frame=2).state is False


def test_a_one_frame_flicker_is_not_steady():
    a = reaching("left")
    a_far = SynthPose()                 # the same person, hands hanging
    ta = person(0.4, pose=a)
    far = person(0.4, pose=a_far)
    ta.image[6], ta.world[6] = far.image[6], far.world[6]
    tracks = {0: ta, 1: person(0.4 + GAP, pose=reaching("right"))}
    assert fact(tracks, "hands_touch", frame=2).state is True
    f = fact(tracks, "hands_touch", frame=5)
    assert f.state is None and "not steady" in f.reason
    raw = ix.find(ix.pair_facts(ta, tracks[1], 5, (0, 1), steady=False), "hands_touch")
    assert raw is not None and raw.state is True


def test_unreliable_frame_cannot_tell():
    tracks = {0: person(0.3), 1: person(0.7)}
    hidden = tracks[1]
    for name in ("left_hip", "right_hip"):          # hips hidden: reliability says no
        hidden.image[5, SynthPose().sk.index(name), 3] = 0.6
    f = fact(tracks, "hands_touch")
    assert f.state is None and "unreliable pose" in f.reason


def test_facing_each_other_back_to_back_and_the_same_way():
    def facing(ya, yb):
        return fact({0: person(0.3, yaw=ya), 1: person(0.7, yaw=yb)}, "facing")

    f = facing(70, -70)         # A (left) turned to the picture's right, B to the left
    assert f.state is True and f.label == "face each other"
    f = facing(-70, 70)
    assert f.state is False and f.label == "face away from each other"
    f = facing(70, 70)
    assert f.state is False and f.label == "face the same way"
    f = facing(0, -70)          # A faces the camera: which side is unclear
    assert f.state is None and "camera axis" in f.reason
    f = facing(180, -70)        # back to the camera: unclear too
    assert f.state is None
    text = ix.describe_pair({0: person(0.3, yaw=70), 1: person(0.7, yaw=-70)}, 0, 1, 5)
    assert text.startswith("The person on the left and the person on the right face each other")


def test_one_higher_in_the_picture():
    tracks = {0: person(0.3, ys=0.8), 1: person(0.7, ys=0.8 - 200 / H)}   # B 1 torso up
    f = fact(tracks, "higher")
    assert f.state is False and f.label == "b" and f.value == pytest.approx(-1.0, abs=1e-3)
    assert fact({0: person(0.3), 1: person(0.7)}, "higher").label == "level"
    mid = {0: person(0.3, ys=0.8), 1: person(0.7, ys=0.8 - 50 / H)}     # 0.25: in the band
    assert fact(mid, "higher").state is None
    assert "the person on the right is higher in the picture than the person on the left" \
        in ix.describe_pair(tracks, 0, 1, 5)


def test_approach_separate_and_keep_distance():
    n = 20
    closer = np.linspace(0.2, 0.45, n)
    f = ix.approach_fact(person(closer, frames=n), person(0.75, frames=n), 0, n, (0, 1))
    assert f.state is True and f.label == "closer"
    # medians of the first and last 5 frames: x of frames 2 and 17
    assert f.value == pytest.approx(-0.25 * 15 / 19 * W / 200, rel=1e-3)
    f = ix.approach_fact(person(closer[::-1], frames=n), person(0.75, frames=n), 0, n)
    assert f.state is False and f.label == "apart"
    f = ix.approach_fact(person(0.3, frames=n), person(0.7, frames=n), 0, n)
    assert f.state is False and f.label == "same" and f.value == pytest.approx(0.0, abs=1e-6)
    little = np.linspace(0.3, 0.36, n)          # 0.3 torso lengths between the ends: the band
    f = ix.approach_fact(person(little, frames=n), person(0.7, frames=n), 0, n)
    assert f.state is None
    gone = np.full(n, np.nan)
    f = ix.approach_fact(person(gone, frames=n), person(0.7, frames=n), 0, n)
    assert f.state is None and "usable on only 0" in f.reason


# -- QA ----------------------------------------------------------------------------------
def _settings(**kw):
    return SynthSettings(per_clip=kw.pop("per_clip", 40), max_frames=kw.pop("max_frames", 6),
                         window_s=kw.pop("window_s", 1.9), **kw)


def test_items_for_a_pair_name_both_and_rederive():
    # in profile, facing each other, each reaching forward: the hands meet
    tracks = {0: person(0.4 + GAP, pose=reaching_forward("right"), yaw=-90, frames=20),
              3: person(0.4, pose=reaching_forward("left"), yaw=90, frames=20)}
    recs = interaction_items(tracks, "clip.mp4", _settings(), seed=1)
    tasks = {r.task for r in recs}
    assert {CONTACT, FACING, HEIGHT, APPROACH} <= tasks
    for r in recs:
        check_record(r)
        assert r.person == 3 and r.person_referent == "the person on the left"
        assert "the person on the left" in r.question and "the person on the right" in r.question
        params = r.provenance.generation_params["params"]
        assert params["persons"] == [3, 0]
        assert derive(r.task, r.provenance.facts, params) == r.answer_text
    contact = [r for r in recs if r.task == CONTACT]
    assert all(r.answer_text == "yes" and r.options in (["yes", "no"], ["no", "yes"])
               for r in contact)
    assert contact[0].question.startswith("At ") and "do the hands of" in contact[0].question
    facing = [r for r in recs if r.task == FACING]
    assert all(r.answer_text == "they face each other" for r in facing)
    approach = [r for r in recs if r.task == APPROACH]
    assert all(r.answer_text == "they keep their distance" for r in approach)
    assert approach[0].start_s is not None and approach[0].end_s > approach[0].start_s
    # stable: the same seed gives the same items; another pair of person numbers other ids
    again = interaction_items(tracks, "clip.mp4", _settings(), seed=1)
    assert [r.qa_id for r in again] == [r.qa_id for r in recs]
    swapped = {1: tracks[0], 3: tracks[3]}
    other = interaction_items(swapped, "clip.mp4", _settings(), seed=1)
    assert {r.qa_id for r in other}.isdisjoint({r.qa_id for r in recs})


def test_no_item_when_the_fact_cannot_be_told():
    tracks = {0: person(0.3, frames=20), 1: person(0.7, frames=20)}   # both face the camera
    recs = interaction_items(tracks, "clip.mp4", _settings())
    assert recs and not [r for r in recs if r.task == FACING]
    hidden = shaking(a_hand_vis=0.2)
    recs = interaction_items(hidden, "clip.mp4", _settings())
    assert not [r for r in recs if r.task == CONTACT]


def test_crossing_people_get_no_approach_item():
    n = 20
    crossing = {0: person(np.linspace(0.2, 0.8, n), frames=n), 1: person(0.5, frames=n)}
    recs = interaction_items(crossing, "clip.mp4", _settings(window_s=1.9))
    assert not [r for r in recs if r.task == APPROACH]
    # the same move without crossing: asked, and the answer is "closer"
    control = {0: person(np.linspace(0.1, 0.35, n), frames=n), 1: person(0.7, frames=n)}
    recs = interaction_items(control, "clip.mp4", _settings(window_s=1.9))
    assert [r.answer_text for r in recs if r.task == APPROACH] == ["they move closer together"]


def test_one_person_gives_no_items():
    assert interaction_items({0: person(0.5)}, "clip.mp4", _settings()) == []


# -- real footage ------------------------------------------------------------------------
def _people(name):
    from models.engine.stage import Item, Task, get_stage, result_key
    from models.engine.stages.people import people_from_result, person_tracks
    from models.jobs import JobContext
    from models.video import content_hash

    path = CLIPS / name
    item = Item(content_hash(path), os.path.abspath(path), name)
    stage = get_stage("people")
    p = stage.params(None)
    result = stage.fn(Task(result_key(item.id, stage, p), "people", item, p, {}), JobContext())
    return person_tracks(people_from_result(result))


@pytest.fixture(scope="module")
def room():
    return _people("two_people_room.mp4")


@pytest.fixture(scope="module")
def wrestling():
    return _people("arm_wrestling.mp4")


def test_room_frame_15_hands_apart_and_facing_unclear(room):
    # Frame 15 (0.53 s) shows the man in the grey T-shirt on the left standing turned
    # towards the man on the right; the man on the right (black jacket) faces the camera
    # with his arms hanging by his sides; about a metre of floor between them, no contact.
    left = min(room, key=lambda p: float(np.nanmean(room[p].image[15, :, 0])))
    right = next(p for p in room if p != left)
    assert (left, right) == (1, 0)
    d = fact(room, "hands_distance", 15, (right, left))
    assert d.known and d.value > ix.APART                    # measured 1.24 torso lengths
    assert fact(room, "hand_on_body", 15, (right, left)).state is False
    assert fact(room, "hands_touch", 15, (right, left)).state is not True
    heading_left, _ = ix._heading(room[left], 15, None)
    heading_right, _ = ix._heading(room[right], 15, None)
    assert heading_left >= ix.FACING                        # turned to the picture's right
    assert abs(heading_right) < ix.FACING                   # faces the camera
    f = fact(room, "facing", 15, (left, right))
    assert f.state is None and f"person {right} faces along the camera axis" in f.reason
    text = ix.describe_pair(room, 0, 1, 15)
    assert "Their nearest hands are" in text and "Cannot tell whether they face each other" in text


def test_room_reaching_frames_never_say_apart(room):
    # Frames 24-28 show both men reaching out; around 27-28 the hands meet near the chair
    # with the hat. Nothing there may be stated as "apart"; at 27 the nearest hands are
    # measured within the touching band but the touch flickers, so it is not stated.
    for frame in range(24, 29):
        f = fact(room, "hands_touch", frame, (0, 1))
        assert f.state is not False, (frame, f)
    assert fact(room, "hands_distance", 27, (0, 1)).value < ix.TOUCH
    # Frame 45: the two hug; the pose model sees one person only -> cannot tell, never "no"
    hug = ix.pair_facts(room[0], room[1], 45, (0, 1))
    assert all(f.state is None and "absent" in f.reason for f in hug)


def test_room_items_are_determinate_and_named(room):
    recs = interaction_items(room, "two_people_room.mp4", _settings(per_clip=20, max_frames=16))
    assert recs
    for r in recs:
        check_record(r)
        params = r.provenance.generation_params["params"]
        assert derive(r.task, r.provenance.facts, params) == r.answer_text
        assert r.person_referent == "the person on the left" and r.person == 1
        if r.task == CONTACT:       # no frame of the clip shows clearly joined hands
            assert r.answer_text == "no" or r.frame_a in range(24, 29)
    assert not [r for r in recs if r.task == FACING]        # the right man faces the camera


def test_arm_wrestling_hands_joined_but_never_two_people_posed(wrestling):
    # Frames 100-120 show the two wrestlers' right hands clasped above the table (white
    # shirt on the left, black sleeve on the right). The pose model finds at most one
    # person on a frame except frame 188 (a motion-blurred frame; one of its two skeletons
    # is judged unreliable): no fact about the two may be stated, and no item made.
    pairs = [(a, b) for a in wrestling for b in wrestling if a < b]
    stated = []
    for frame in range(len(wrestling[0].image)):
        for a, b in pairs:
            if ix.usable(wrestling[a], frame) or ix.usable(wrestling[b], frame):
                continue
            stated.append((frame, a, b))
    assert stated == []
    for a, b in pairs:
        f = fact(wrestling, "hands_touch", 106, (a, b))
        assert f.state is None and ("absent" in f.reason or "unreliable" in f.reason)
    assert interaction_items(wrestling, "arm_wrestling.mp4", _settings()) == []
    assert math.isnan(fact(wrestling, "hands_distance", 188, (0, 3)).value)


def test_interact_command(project, capsys):
    from cli import run_cli

    room = str(CLIPS / "two_people_room.mp4")
    assert run_cli(["--project", project.path, "interact", room, "--frame", "15"]) == 0
    out = capsys.readouterr().out
    assert "Their nearest hands are 1.2" in out and "torso lengths apart" in out
    # the people were stored: the JSON run reads them back from the project
    from models.engine.stages.people import BACKEND, DEFAULTS, people_settings
    from models.pose.tracking import TrackerParams
    from models.video import content_hash
    stored = project.load_person_tracks(content_hash(room), BACKEND,
                                        people_settings(DEFAULTS["max_persons"], TrackerParams()))
    assert sorted(stored) == [0, 1]
    assert run_cli(["--project", project.path, "interact", room, "--frame", "15", "--json",
                    "--a", "1", "--b", "0"]) == 0
    import json
    doc = json.loads(capsys.readouterr().out)
    assert doc["persons"] == [1, 0] and {f["kind"] for f in doc["facts"]} >= set(ix.KINDS)
    assert run_cli(["--project", project.path, "interact", room, "--frame", "15",
                    "--a", "7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: There is no person 7")


# -- joined to per-person generation, rederive and qa-check ----------------------------------
def _facing_pair():
    return {0: person(0.4 + GAP, pose=reaching_forward("right"), yaw=-90, frames=20),
            3: person(0.4, pose=reaching_forward("left"), yaw=90, frames=20)}


def test_per_person_generation_adds_pair_items_only_when_selected():
    from models.qa.generate import clip_qa_people
    from models.qa.synth import rederive
    from models.qa.taxonomy import task_ids

    tracks = _facing_pair()
    pose_only = SynthSettings(tasks=tuple(task_ids("pose")), per_clip=6, max_frames=6,
                              window_s=1.9)
    with_pairs = SynthSettings(tasks=tuple(task_ids("pose") + task_ids("pairs")), per_clip=6,
                               max_frames=6, window_s=1.9)
    assert set(task_ids("pairs")) == {CONTACT, FACING, HEIGHT, APPROACH}
    plain = clip_qa_people(tracks, "clip.mp4", pose_only).records
    assert plain and not [r for r in plain if r.task.startswith("interaction_")]
    qa = clip_qa_people(tracks, "clip.mp4", with_pairs)
    pairs = [r for r in qa.records if r.task.startswith("interaction_")]
    assert {r.task for r in pairs} == {CONTACT, FACING, HEIGHT, APPROACH}
    assert qa.key != clip_qa_people(tracks, "clip.mp4", pose_only).key
    assert [r.qa_id for r in pairs] == [r.qa_id for r in interaction_items(
        tracks, "clip.mp4", with_pairs, tasks=(CONTACT, FACING, HEIGHT, APPROACH))]
    # the settings' selection is respected: only contact asked
    only = SynthSettings(tasks=(CONTACT,), per_clip=6, max_frames=6, window_s=1.9)
    assert {r.task for r in clip_qa_people(tracks, "clip.mp4", only).records} == {CONTACT}
    # one person: no pair items even when selected
    assert not [r for r in clip_qa_people({0: tracks[0]}, "clip.mp4", with_pairs).records
                if r.task.startswith("interaction_")]
    # the stored facts give the answer back (rule reference, evaluate)
    for r in pairs:
        assert rederive(r) == r.answer_index


def test_qa_check_rederives_pair_items_from_the_people_tracks():
    from models.qa.checks import answerability_flags

    tracks = _facing_pair()
    recs = interaction_items(tracks, "clip.mp4", _settings(), seed=1)
    assert recs

    def load(video, person):
        return tracks.get(person)

    flags, unchecked = answerability_flags(recs, lambda v: None, load)
    assert flags == {} and unchecked == []
    # without the people's tracks: not checked (never silently passed)
    flags, unchecked = answerability_flags(recs, lambda v: None, None)
    assert flags == {} and sorted(unchecked) == sorted(r.qa_id for r in recs)
    # the tracks now say otherwise: hands far apart, turned away -> flagged as changed
    moved = {0: person(0.75, pose=reaching_forward("right"), yaw=90, frames=20),
             3: person(0.2, pose=reaching_forward("left"), yaw=-90, frames=20)}
    flags, unchecked = answerability_flags(recs, lambda v: None,
                                           lambda v, p: moved.get(p))
    contact = [r.qa_id for r in recs if r.task == CONTACT]
    facing = [r.qa_id for r in recs if r.task == FACING]
    assert contact and all(q in flags for q in contact + facing)
    assert all(f[0].startswith("not answerable: answer differs from the track")
               for f in flags.values())


def test_each_track_is_judged_once_per_call(monkeypatch):
    """Facts over many frames judge each track's reliability once, not once per frame
    (judging checks the whole track: per frame it made long clips quadratic)."""
    from models.pose import reliability
    from models.qa.tasks import interaction as qi
    from tests.models.qa_poses import elbow_pumping, raising_hand

    a, b = elbow_pumping(120), raising_hand(120)
    a.image[..., 0] -= 0.25
    b.image[..., 0] += 0.25
    calls = []
    real = reliability.judge
    monkeypatch.setattr(reliability, "judge", lambda t: calls.append(id(t)) or real(t))
    frames = qi._frames({0: a, 1: b}, 0, 1, 8)
    assert len(frames) == 8 and sorted(set(calls)) == sorted({id(a), id(b)}) and len(calls) == 2
    calls.clear()
    ix.approach_fact(a, b, 0, 120)
    assert len(calls) == 2
