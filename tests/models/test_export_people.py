"""Items about one of several people keep their person through every benchmark format (and
back through ``main.py import``); descriptions of two people on one frame stay apart."""
from __future__ import annotations

import json

import pytest

from main import main
from models.export import ExportOptions, export
from models.importers import load_file
from models.qa.record import Provenance, QARecord, Review
from models.store import Repository
from tests.conftest import CLIPS

FORMATS = ["jsonl", "lmms-eval", "vlmevalkit-video", "vlmevalkit-frames", "hf-dataset",
           "proxy-training"]
REFS = {0: "the person on the left", 1: "the person on the right"}


def people_records() -> list[QARecord]:
    out = []
    for person, ref in REFS.items():
        prov = Provenance(generation_params={"template": "angle_bin", "params": {}}, seed=0,
                          frame_indices=[12], pose_backend="mediapipe-multi",
                          facts=[{"part": "left_elbow", "quantity": "angle", "value": 90.0,
                                  "frame": 12, "text": f"Elbow text of person {person}."}])
        out.append(QARecord(f"qa_p{person}", "body_part_pose", "two_people_room.mp4",
                            f"In the frame at 0.50 s, how is the left elbow of {ref}?",
                            ["straight", "bent at a right angle", "completely bent"], 1,
                            frame_a=12, source="rule", provenance=prov,
                            review=Review(status="accepted"), person=person,
                            person_referent=ref))
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("people-exports")
    opts = ExportOptions(video_root=str(CLIPS), frames_per_item=2)
    return {fid: (export(fid, people_records(), base / fid, opts), base / fid) for fid in FORMATS}


def _same(records, review: bool = True) -> None:
    want = {r.qa_id: r for r in people_records()}
    got = {r.qa_id: r for r in records}
    if not review:     # a project stamps the review times of what it imports
        for r in [*want.values(), *got.values()]:
            r.review = Review()
    assert got == want
    assert {(r.person, r.person_referent) for r in records} == set(REFS.items())


def test_canonical_and_lmms_eval_rows_carry_the_person(exported):
    folder = exported["jsonl"][1]
    rows = [json.loads(x) for x in (folder / "actionart.jsonl").read_text().splitlines()]
    assert {(r["person"], r["person_referent"]) for r in rows} == set(REFS.items())
    _same(load_file(folder / "actionart.jsonl").records)
    folder = exported["lmms-eval"][1]
    data = folder / "data/body_part_pose.jsonl"
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    assert {(r["person"], r["person_referent"]) for r in rows} == set(REFS.items())
    _same(load_file(data).records)


def test_vlmevalkit_tables_have_person_columns(exported):
    import pandas as pd

    for fid, name in (("vlmevalkit-video", "actionart.tsv"),
                      ("vlmevalkit-frames", "actionart_frames.tsv")):
        path = exported[fid][1] / name
        df = pd.read_csv(path, sep="\t")
        assert {(int(p), r) for p, r in zip(df["person"], df["person_referent"])} == \
            set(REFS.items())
        _same(load_file(path).records)


def test_hf_dataset_has_person_columns(exported):
    from datasets import load_dataset

    folder = exported["hf-dataset"][1]
    ds = load_dataset(str(folder), "all", split="test")
    assert {(p, r) for p, r in zip(ds["person"], ds["person_referent"])} == set(REFS.items())
    _same([r for f in sorted((folder / "data").glob("*.parquet")) for r in load_file(f).records])


def test_proxy_training_keeps_people_apart(exported):
    folder = exported["proxy-training"][1]
    qa = json.loads((folder / "llava/synth_qa.json").read_text())
    assert {(i["record"]["person"], i["record"]["person_referent"]) for i in qa} == \
        set(REFS.items())
    pose = json.loads((folder / "llava/pose_description.json").read_text())
    # one description per person of the frame, each asking about its own person
    asked = {c["conversations"][0]["value"]: c["conversations"][1]["value"] for c in pose}
    assert asked == {
        "<image>\nDescribe the body pose of the person on the left in this frame.":
            "Elbow text of person 0.",
        "<image>\nDescribe the body pose of the person on the right in this frame.":
            "Elbow text of person 1."}


def test_main_import_of_canonical_keeps_the_person(exported, tmp_path, capsys):
    proj = str(tmp_path / "p.aastudio")
    assert main(["import", str(exported["jsonl"][1] / "actionart.jsonl"),
                 "--project", proj]) == 0
    capsys.readouterr()
    repo = Repository(proj)
    try:
        _same(repo.qa_records(), review=False)
    finally:
        repo.close()
