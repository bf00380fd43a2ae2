"""Every person in a clip: ``People`` arrays and tracking per-frame detections into ids."""
from __future__ import annotations

import json

import numpy as np
import pytest

from models.pose import people as people_mod
from models.pose.coco import load_coco
from models.pose.people import People, skeleton_of
from models.pose.skeleton import Skeleton, blazepose, coco17
from models.pose.track import PoseTrack
from models.pose.tracking import (NOISE, TrackerParams, identity_switches, match_to_truth,
                                  pose_distance, track, track_people)
from tests.conftest import SHARED

W, H = 640, 480
J = blazepose().n
POSETRACK = SHARED / "keypoints" / "posetrack18" / "annotations" / "test_posetrack18_val.json"


def template(seed: int = 0, w: float = 0.1, h: float = 0.3) -> np.ndarray:
    """A fixed cloud of joints in a w x h box (normalised units), centred on (0, 0)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (J, 2)) * (w, h)


def pose_at(shape: np.ndarray, cx: float, cy: float, rng=None, noise_px: float = 1.0,
            vis: float = 0.9) -> np.ndarray:
    out = np.empty((len(shape), 4), np.float32)
    xy = shape + (cx, cy)
    if rng is not None:
        xy = xy + rng.normal(0, noise_px, xy.shape) / (W, H)
    out[:, :2] = xy
    out[:, 2] = 0.0
    out[:, 3] = vis
    return out


def with_world(img: np.ndarray) -> tuple:
    world = img.copy()
    world[:, :3] = img[:, :3] - 0.5  # any deterministic stand-in for metres
    return img, world


def labels(ids_per_frame, truth_per_frame) -> dict:
    """Ground-truth person -> set of predicted ids it was given."""
    out: dict = {}
    for ids, truth in zip(ids_per_frame, truth_per_frame):
        for pid, g in zip(ids, truth):
            out.setdefault(g, set()).add(int(pid))
    return out


# --- tracking ------------------------------------------------------------------------------
def test_two_people_crossing_keep_their_ids():
    rng = np.random.default_rng(1)
    shape = template(0)  # both have the very same pose: only motion tells them apart
    frames, truth, overlap = [], [], 0
    for f in range(24):
        xa, xb = 0.15 + 0.035 * f, 0.84 - 0.035 * f
        dets = [("a", pose_at(shape, xa, 0.5, rng)), ("b", pose_at(shape, xb, 0.5, rng))]
        overlap += abs(xa - xb) < 0.1  # their boxes (0.1 wide) intersect
        order = rng.permutation(2)
        frames.append([with_world(dets[i][1]) for i in order])
        truth.append([dets[i][0] for i in order])
    assert 2 <= overlap <= 3
    ids = track(frames, W, H)
    assert labels(ids, truth) == {"a": {0}, "b": {1}}  # a starts on the left: id 0
    assert identity_switches(truth, ids) == 0
    people = track_people(frames, 25.0, W, H, backend="synthetic")
    assert people.persons() == [0, 1] and people.count().tolist() == [2] * 24
    # the world pose travels with its image pose
    a = people.person(0)
    assert np.allclose(a.world[:, :, :3], a.image[:, :, :3] - 0.5)


def test_without_motion_prediction_the_crossing_would_swap():
    """The crossing is hard: nearest-previous-pose matching alone gets it wrong."""
    shape = template(0)
    a = [pose_at(shape, 0.15 + 0.035 * f, 0.5) for f in range(24)]
    b = [pose_at(shape, 0.84 - 0.035 * f, 0.5) for f in range(24)]
    f = 10  # a moved 0.465 -> 0.50 while b arrived at 0.49, nearer a's last place
    assert pose_distance(a[f - 1], b[f], W, H) < pose_distance(a[f - 1], a[f], W, H)


def walker(shape, frames, x0, v, y=0.5, rng=None, hidden=()):
    return [None if f in hidden else pose_at(shape, x0 + v * f, y, rng) for f in range(frames)]


def test_gap_bridged_near_prediction_new_id_far_away():
    rng = np.random.default_rng(2)
    gap = set(range(10, 20))  # 10 frames unseen
    near = walker(template(3), 40, 0.1, 0.01, 0.3, rng, hidden=gap)
    far = walker(template(4), 40, 0.1, 0.01, 0.75, rng, hidden=gap)
    # the far walker reappears half the frame away from where its motion would put it
    far = [p if p is None or f < 20 else p + np.array([0.5, 0, 0, 0], np.float32)
           for f, p in enumerate(far)]
    frames = [[p for p in (n, x) if p is not None] for n, x in zip(near, far)]
    truth = [[g for g, p in (("near", n), ("far", x)) if p is not None]
             for n, x in zip(near, far)]
    ids = track(frames, W, H)
    got = labels(ids, truth)
    assert len(got["near"]) == 1
    assert len(got["far"]) == 2  # a new id after the jump
    assert not got["near"] & got["far"]
    assert identity_switches(truth, ids) == 1
    # a gap longer than max_gap is not bridged either
    ids = track(frames, W, H, TrackerParams(max_gap=5))
    assert len(labels(ids, truth)["near"]) == 2


def test_a_person_back_from_a_gap_is_not_taken_by_a_neighbour_just_missed():
    """B is unseen on frame 10 and A on frame 11: B's detection on frame 11 is B's, even
    though A, seen one frame more recently, is also near it."""
    shape = template(11)
    frames, truth = [], []
    for f in range(20):
        dets = [(g, pose_at(shape, x, 0.5)) for g, x in (("a", 0.40), ("b", 0.45))
                if not (g == "b" and f == 10) and not (g == "a" and f == 11)]
        frames.append([d for _, d in dets])
        truth.append([g for g, _ in dets])
    assert pose_distance(frames[0][0], frames[0][1], W, H) < TrackerParams().gate
    ids = track(frames, W, H)
    assert labels(ids, truth) == {"a": {0}, "b": {1}}


def test_twenty_people_in_a_frame():
    rng = np.random.default_rng(3)
    starts = [(0.08 + 0.19 * (k % 5) + 0.002 * k, 0.15 + 0.23 * (k // 5)) for k in range(20)]
    vel = rng.uniform(-0.004, 0.004, (20, 2))
    shapes = [template(10 + k, 0.06, 0.18) for k in range(20)]
    frames, truth = [], []
    for f in range(25):
        order = rng.permutation(20)
        frames.append([pose_at(shapes[k], *(np.add(starts[k], vel[k] * f)), rng) for k in order])
        truth.append([int(k) for k in order])
    ids = track(frames, W, H)
    got = labels(ids, truth)
    assert all(len(v) == 1 for v in got.values())
    assert len(set.union(*got.values())) == 20
    assert identity_switches(truth, ids) == 0
    # ids follow first appearance, then x position on that first frame
    by_x = sorted(range(20), key=lambda k: starts[k][0])
    assert [next(iter(got[k])) for k in by_x] == list(range(20))


def test_frames_with_nobody():
    shape = template(5)
    frames = [[pose_at(shape, 0.3 + 0.01 * f, 0.5)] if f not in (4, 5) else [] for f in range(12)]
    ids = track(frames, W, H)
    assert [r.tolist() for r in ids] == [[0]] * 4 + [[], []] + [[0]] * 6
    people = track_people(frames, 25.0, W, H)
    assert people.count().tolist() == [1] * 4 + [0, 0] + [1] * 6
    assert people.on_frame(4) == [] and people.on_frame(6) == [0]
    nobody = track_people([[] for _ in range(7)], 25.0, W, H)
    assert len(nobody) == 7 and nobody.persons() == [] and nobody.main_person() is None


def test_person_half_out_of_frame_is_still_tracked():
    rng = np.random.default_rng(4)
    shape = template(6)
    frames, truth = [], []
    for f in range(40):
        a = pose_at(shape, 0.70 + 0.01 * f, 0.4, rng)  # walks out on the right
        a[a[:, 0] > 1.0] = np.nan  # joints beyond the edge are not found
        b = pose_at(template(7), 0.3, 0.6, rng)   # somebody standing still
        dets, who = [b], ["b"]
        if not np.isnan(a[:, 0]).all():
            dets.insert(0, a)
            who.insert(0, "a")
        frames.append(dets)
        truth.append(who)
    partial = [np.isnan(d[0][:, 0]).sum() for d in frames if len(d) == 2]
    assert max(partial) > J // 2  # on some frames most of the person is out of the picture
    ids = track(frames, W, H)
    got = labels(ids, truth)
    assert len(got["a"]) == 1 and len(got["b"]) == 1 and got["a"] != got["b"]


def test_short_tracks_are_noise():
    shape = template(8)
    frames = [[pose_at(shape, 0.3, 0.5)] for _ in range(10)]
    frames[4].append(pose_at(template(9), 0.8, 0.2))  # a one-frame ghost
    ids = track(frames, W, H)
    assert ids[4].tolist() == [0, NOISE]
    people = track_people(frames, 25.0, W, H)
    assert people.persons() == [0] and people.coverage(0).all()
    assert track(frames, W, H, TrackerParams(min_length=1))[4].tolist() == [0, 1]


def test_identity_switches_counts_clear_mot_switches():
    gt = [[1, 2], [1, 2], [1, 2], [1, 2], [1]]
    assert identity_switches(gt, [[5, 6], [5, 6], [5, 6], [5, 6], [5]]) == 0
    assert identity_switches(gt, [[5, 6], [6, 5], [6, 5], [6, 5], [6]]) == 2
    # a miss does not reset what the person was matched to; coming back as 5 is no switch
    assert identity_switches(gt, [[5, 6], [None, 6], [-1, 6], [5, 6], [5]]) == 0
    assert identity_switches(gt, [[5, 6], [None, 6], [7, 6], [7, 6], [5]]) == 2
    with pytest.raises(ValueError):
        identity_switches(gt, gt[:-1])


def test_params_are_checked():
    with pytest.raises(ValueError):
        TrackerParams(gate=0)
    with pytest.raises(ValueError):
        TrackerParams(min_length=0)


# --- People --------------------------------------------------------------------------------
def sample_people(skeleton: str = "blazepose33") -> People:
    n = skeleton_of(skeleton).n
    rng = np.random.default_rng(9)
    image = rng.random((6, 3, n, 4)).astype(np.float32)
    world = rng.normal(size=(6, 3, n, 4)).astype(np.float32)
    image[2, 1] = np.nan
    world[2, 1] = np.nan
    image[0, 2, 5] = np.nan  # one joint not found
    image[4:, 2] = world[4:, 2] = np.nan
    return People(image, world, [4, 0, 7], 29.97, 640, 360, "mediapipe-multi", "x 1",
                  {"num_poses": 4}, skeleton, times=np.arange(6) / 29.97 + 0.01,
                  damage=np.linspace(0, 1, 6))


def test_people_npz_round_trip_is_exact():
    p = sample_people()
    data = p.to_npz_bytes()
    q = People.from_npz_bytes(data)
    for name in ("image", "world", "times", "damage"):
        a, b = getattr(p, name), getattr(q, name)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name
    assert q.ids.tolist() == [4, 0, 7] and q.meta() == p.meta()
    plain = People.empty(3, fps=25.0, width=10, height=10)
    again = People.from_npz_bytes(plain.to_npz_bytes())
    assert again.image.shape == (3, 0, J, 4) and again.times is None and again.damage is None
    # nothing in the file is a pickle: loading refuses object arrays
    with np.load(__import__("io").BytesIO(data), allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_person_is_a_pose_track_with_nan_where_absent():
    p = sample_people()
    t = p.person(0)
    assert isinstance(t, PoseTrack)
    assert t.image.shape == (6, J, 4) and len(t) == 6
    assert t.has_pose.tolist() == [True, True, False, True, True, True]
    assert np.isnan(t.image[2]).all() and np.isnan(t.world[2]).all()
    assert np.array_equal(t.image[[0, 1, 3]], p.image[[0, 1, 3], 1])
    assert (t.fps, t.width, t.height, t.backend, t.settings, t.skeleton) == \
        (29.97, 640, 360, "mediapipe-multi", {"num_poses": 4}, "blazepose33")
    assert np.array_equal(t.times, p.times) and np.array_equal(t.damage, p.damage)
    assert p.coverage(7).tolist() == [True] * 4 + [False] * 2  # one missing joint still counts
    assert p.coverage(0).sum() == 5 and p.main_person() in (4, 0)
    t.image[0] = 0  # a copy: the clip's arrays are not changed through it
    assert not (p.image[0, 1] == 0).all()
    with pytest.raises(KeyError):
        p.person(1)
    # the PoseTrack round-trips as a one-person clip
    one = People.from_track(t, 3)
    assert one.persons() == [3]
    assert np.array_equal(one.person(3).image, t.image, equal_nan=True)


def test_each_person_is_described_like_a_single_person_track():
    """describe runs unchanged on person(id); an absent frame reads as nobody there."""
    from models.describe import describe, pose_facts
    from models.describe.synth import SynthPose

    def image_of(world, cx):
        img = np.array(world, dtype=np.float32, copy=True)
        img[:, 0] = cx + 0.12 * world[:, 0]
        img[:, 1] = 0.5 + 0.3 * world[:, 1]
        return img

    wa, wb = SynthPose().bend("left_elbow", 90).world(), SynthPose().world(yaw=40)
    frames = [[(image_of(wa, 0.3), wa)] + ([] if f in (3, 4) else [(image_of(wb, 0.7), wb)])
              for f in range(8)]
    people = track_people(frames, 25.0, W, H)
    assert people.persons() == [0, 1]
    for pid, world, cx in ((0, wa, 0.3), (1, wb, 0.7)):
        alone = PoseTrack(np.stack([image_of(world, cx)] * 8), np.stack([world] * 8), 25.0, W, H)
        t = people.person(pid)
        for f in np.flatnonzero(t.has_pose):
            assert describe(pose_facts(t, f)) == describe(pose_facts(alone, f))
    assert describe(pose_facts(people.person(0), 0)) != describe(pose_facts(people.person(1), 0))
    assert "no person" in describe(pose_facts(people.person(1), 3)).lower()


def test_joint_count_comes_from_the_skeleton(monkeypatch):
    p = sample_people("coco17")
    assert p.joints == coco17().n and p.person(4).image.shape == (6, coco17().n, 4)
    assert People.empty(2, "coco17", fps=25.0, width=9, height=9).image.shape == (2, 0, coco17().n, 4)
    with pytest.raises(ValueError, match="coco17"):  # 33-joint arrays named coco17
        People(np.zeros((2, 1, J, 4)), np.zeros((2, 1, J, 4)), [0], 25.0, 10, 10,
               skeleton="coco17")
    with pytest.raises(ValueError, match="unknown skeleton"):
        People.empty(2, "nope", fps=25.0, width=9, height=9)
    five = Skeleton("five", ("a", "b", "c", "d", "e"), ((0, 1),), {})
    monkeypatch.setitem(people_mod._SKELETONS, "five", lambda: five)
    frames = [[pose_at(template(1)[:5], 0.5, 0.5)] for _ in range(4)]
    got = track_people(frames, 25.0, W, H, skeleton="five")
    assert got.image.shape == (4, 1, 5, 4) and got.person(0).skeleton == "five"
    with pytest.raises(ValueError, match="five"):  # 33-joint detections do not fit
        track_people([[pose_at(template(1), 0.5, 0.5)]] * 4, 25.0, W, H, skeleton="five")


def test_people_shape_checks():
    img = np.zeros((2, 2, J, 4))
    with pytest.raises(ValueError):
        People(img, img, [1, 1], 25.0, 10, 10)  # ids must be distinct
    with pytest.raises(ValueError):
        People(img, img, [0], 25.0, 10, 10)  # one id per slot
    with pytest.raises(ValueError):
        People(img, img, [0, 1], 25.0, 10, 10, times=[0.0])


# --- real annotations: PoseTrack18 ----------------------------------------------------------
def posetrack_people():
    """(image size, [(track id, (33, 4) pose)]) of every labelled PoseTrack18 frame."""
    raw = json.loads(POSETRACK.read_text())
    track_of = {a["id"]: a["track_id"] for a in raw["annotations"]}
    out = []
    for im in load_coco(POSETRACK).images:
        out.append(((im.width, im.height),
                    [(track_of[p.id], p.image_pose(im.width, im.height)) for p in im.persons]))
    return out


def test_posetrack18_ground_truth_through_the_tracker_has_no_identity_switch():
    """The annotated people of each labelled frame (11 in a crowd, two overlapping, one),
    moved smoothly over 40 frames with 5 px keypoint noise, 10 % missed detections and
    shuffled order: the tracker must not swap anyone."""
    frames_done = 0
    for seed, ((w, h), persons) in ((s, v) for s in range(3) for v in posetrack_people()):
        rng = np.random.default_rng(100 * seed + len(persons))
        vel = rng.uniform(-0.005, 0.005, (len(persons), 2))
        frames, truth = [], []
        for f in range(40):
            dets, who = [], []
            for k, (tid, pose) in enumerate(persons):
                if f > 0 and rng.random() < 0.1:
                    continue  # the estimator missed this person on this frame
                moved = pose.copy()
                moved[:, :2] += vel[k] * f + np.sin(f / 5 + k) * 0.002
                moved[:, :2] += rng.normal(0, 5.0, moved[:, :2].shape) / (w, h)
                dets.append(moved)
                who.append(tid)
            order = rng.permutation(len(dets))
            frames.append([dets[i] for i in order])
            truth.append([who[i] for i in order])
        ids = track(frames, w, h)
        assert identity_switches(truth, ids) == 0
        got = labels(ids, truth)
        assert len(got) == len(persons) and all(len(v) == 1 for v in got.values())
        assert NOISE not in set.union(*got.values())
        # the ground truth also matches itself through match_to_truth
        first = [p for _, p in persons]
        assert match_to_truth(first, first, w, h) == list(range(len(first)))
        frames_done += 1
    assert frames_done == 9
