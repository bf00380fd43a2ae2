"""Multi-person accuracy (models/pose/accuracy.py): PCK per joint, people found, identity
switches; on synthetic cases with known answers and on the real COCO / PoseTrack18 files."""
from __future__ import annotations

import numpy as np
import pytest

from models.pose.accuracy import (ALPHA, Identity, PckTally, normalised, person_size,
                                  score_images, score_picture)
from models.pose.coco import load_coco, load_posetrack18
from models.pose.skeleton import blazepose
from tests.conftest import COCO, SHARED

W, H = 640, 480
J = blazepose().n
PT18 = SHARED / "keypoints" / "posetrack18" / "annotations" / "test_posetrack18_val.json"


def annotated(cx: float, cy: float, seed: int, size: float = 100.0) -> np.ndarray:
    """(joints, 3) pixel keypoints in a size x size box around (cx, cy), all visible."""
    rng = np.random.default_rng(seed)
    kp = np.empty((J, 3))
    kp[:, :2] = rng.uniform(-size / 2, size / 2, (J, 2)) + (cx, cy)
    kp[:, 2] = 2
    return kp


def detection(kp: np.ndarray) -> tuple:
    """The estimator's view of annotated keypoints: normalised image pose + world stand-in."""
    img = normalised(kp, W, H).astype(np.float32)
    img[:, 3] = 0.9
    return img, img.copy()


def tally(truth, dets) -> PckTally:
    t = PckTally()
    t.add(score_picture(truth, [person_size(None, k) for k in truth], dets, W, H))
    return t


def test_a_perfect_prediction_scores_one_on_every_joint():
    truth = [annotated(150, 200, 0), annotated(450, 250, 1)]
    t = tally(truth, [detection(k) for k in reversed(truth)])   # order does not matter
    assert (t.people, t.found) == (2, 2)
    assert t.per_joint() == {name: 1.0 for name in blazepose().joints}
    assert t.overall() == 1.0 == t.found_only()


def test_a_joint_moved_beyond_the_threshold_fails_and_within_it_passes():
    kp = annotated(300, 240, 2)
    size = person_size(None, kp)
    wrist = blazepose().index("left_wrist")
    knee = blazepose().index("right_knee")
    moved = kp.copy()
    moved[wrist, 0] += 1.05 * ALPHA * size    # just beyond
    moved[knee, 1] += 0.95 * ALPHA * size     # just within
    t = tally([kp], [detection(moved)])
    got = t.per_joint()
    assert got["left_wrist"] == 0.0 and got["right_knee"] == 1.0
    assert t.found == 1 and t.correct.sum() == J - 1


def test_the_box_of_the_annotation_sets_the_threshold():
    kp = annotated(300, 240, 3, size=50)
    moved = kp.copy()
    moved[0, 0] += 30                          # 30 px: beyond 0.2 x 50, within 0.2 x 200
    det = [detection(moved)]
    small, large = PckTally(), PckTally()
    small.add(score_picture([kp], [person_size((0, 0, 50, 40), kp)], det, W, H))
    large.add(score_picture([kp], [person_size((0, 0, 120, 200), kp)], det, W, H))
    assert small.per_joint()["nose"] == 0.0 and large.per_joint()["nose"] == 1.0


def test_a_missing_person_is_not_found_and_all_their_joints_are_wrong():
    a, b = annotated(150, 200, 4), annotated(480, 260, 5)
    t = tally([a, b], [detection(a)])
    assert (t.people, t.found) == (2, 1)
    assert t.overall() == 0.5 and t.found_only() == 1.0
    # a detection far from everybody finds nobody
    far = tally([a], [detection(annotated(600, 60, 6, size=20))])
    assert far.found == 0 and far.overall() == 0.0


def test_only_labelled_joints_are_scored_and_people_without_any_do_not_count():
    kp = annotated(300, 240, 7)
    kp[blazepose().index("left_heel"), 2] = 0            # not labelled
    empty = annotated(100, 100, 8)
    empty[:, 2] = 0
    t = tally([kp, empty], [detection(kp)])
    assert t.people == 1 and "left_heel" not in t.per_joint()
    assert t.labelled.sum() == J - 1


def test_swapped_ids_are_one_switch_each():
    def frame(xa, xb):
        return annotated(xa, 200, 9), annotated(xb, 260, 10)

    ident, kept = Identity(), Identity()
    for f in range(6):
        a, b = frame(100 + 10 * f, 500 - 10 * f)
        dets = [detection(a), detection(b)]
        ids = [0, 1] if f < 3 else [1, 0]             # the tracker swaps them on frame 3
        truth = [normalised(a, W, H), normalised(b, W, H)]
        ident.add_frame(["a", "b"], truth, dets, ids, W, H)
        kept.add_frame(["a", "b"], truth, dets, [0, 1], W, H)
    assert ident.switches == 2 and kept.switches == 0   # one switch for each of the two
    assert ident.annotated == ident.on_a_track == 12
    one = Identity()
    for f, ids in enumerate(([0], [0], [1])):
        a = annotated(100 + 10 * f, 200, 9)
        one.add_frame(["a"], [normalised(a, W, H)], [detection(a)], ids, W, H)
    assert one.switches == 1
    # noise (id < 0) and a missed person are not on a track, and no switch
    miss = Identity()
    a = annotated(100, 200, 9)
    miss.add_frame(["a"], [normalised(a, W, H)], [detection(a)], [-1], W, H)
    miss.add_frame(["a"], [normalised(a, W, H)], [], [], W, H)
    assert miss.on_a_track == 0 and miss.switches == 0


def test_checks():
    with pytest.raises(ValueError):
        score_picture([annotated(1, 1, 0)], [], [], W, H)
    with pytest.raises(ValueError):
        Identity().add_frame(["a"], [], [], [], W, H)


# --- the real files, through the multi-person estimator --------------------------------------
# Measured (mediapipe 0.10 CPU, mediapipe-multi, num_poses 20, whole pictures):
#   PoseTrack18 3 labelled frames: 2/14 annotated people found, PCK@0.2 0.117 (18/154)
#     overall, 0.857 (18/21) over the people found;
#   COCO 4 photos: 4/12 people with labelled joints found, PCK@0.2 0.331 (60/181) overall,
#     0.968 (60/62) over the people found.
# The floors leave a margin for other CPUs and library builds.
@pytest.fixture(scope="module")
def estimator():
    from models.pose.registry import get

    est = get("mediapipe-multi").create({"num_poses": 20})
    yield est
    est.close()


def test_posetrack18_accuracy_floor(estimator):
    images = [f.image for v in load_posetrack18(PT18) for f in v.frames]
    t = score_images(estimator.process_all, images)
    assert t.people == 14
    assert t.found >= 1
    assert t.overall() >= 0.07
    assert t.found_only() >= 0.6


def test_coco_accuracy_floor(estimator):
    t = score_images(estimator.process_all, load_coco(COCO / "test_coco.json").images)
    assert t.people == 12
    assert t.found >= 3
    assert t.overall() >= 0.22
    assert t.found_only() >= 0.8
