"""A small, varied set of canonical QA records over the real shared clips."""
from __future__ import annotations

from models.qa.record import Provenance, QARecord, Review


def sample_records(status: str = "accepted") -> list[QARecord]:
    prov = Provenance(model_id="rule", prompt_template="posecodes", prompt_version="1",
                      generation_params={"threshold": 0.5}, seed=7, frame_indices=[3, 9],
                      pose_backend="mediapipe", pose_backend_version="0.10.21",
                      facts=[{"part": "left_knee", "quantity": "angle", "value": 92.5,
                              "bin": "right angle", "frame": 3,
                              "text": "The left knee is bent at a right angle."}])
    review = Review(status=status, note="checked", created_at="2026-11-27T10:00:00.000Z",
                    updated_at="2026-11-27T10:05:00.000Z")
    return [
        QARecord("qa_0001", "body_part_pose", "arm_wrestling.mp4",
                 "Is the right arm of the person on the left bent?",
                 ["straight", "slightly bent", "bent at a right angle", "completely bent"], 2,
                 start_s=1.0, end_s=2.0, source="rule", provenance=prov, review=review),
        QARecord("qa_0002", "full_body_posture", "two_people_room.mp4",
                 "What is the posture of the person on the right?",
                 ["standing", "squatting", "kneeling", "lying"], 0, source="human",
                 review=Review(status=status), person=1,
                 person_referent="the person on the right"),
        QARecord("qa_0003", "spatial_difference", "basketball_gym.mp4",
                 "What changed between frame A and frame B?",
                 ["the left hand moved higher", "the right knee bent more",
                  "the torso turned left", "nothing changed"], 1,
                 frame_a=10, frame_b=40, source="rule", provenance=prov,
                 review=Review(status=status)),
        QARecord("qa_0004", "repetition_count", "arm_wrestling.mp4",
                 "How many times does the arm go down?", ["1", "2", "3", "4"], 1,
                 start_s=0.0, end_s=3.5, source="model:tiny", review=Review(status=status)),
        QARecord("qa_0005", "body_part_pose", "street_pedestrians.mp4",
                 "Which hand is higher? \"quoted\"\tand tabbed\nnew line ü",
                 ["left", "right", "same height"], 2, source="rule",
                 review=Review(status=status)),
    ]
