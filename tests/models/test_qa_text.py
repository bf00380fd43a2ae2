"""QA from text through a VLM backend (strict JSON parsing), caption import, quality
checks and the blind test."""
from __future__ import annotations

import json

import pytest

from models.qa import checks
from models.qa.captions import import_captions
from models.qa.errors import CaptionImportError
from models.qa.from_text import (InvalidOutput, TextSettings, TextSource, caption_sources,
                                 generate_from_text, parse_output)
from models.qa.record import QARecord
from models.vlm.types import AnswerStats, BackendInfo

VALID = {"items": [
    {"task": "human_object_interaction", "question": "Which hand holds the cup?",
     "options": ["the right hand", "the left hand", "both hands", "neither hand"], "answer_index": 0},
    {"task": "action_sequence", "question": "What does the man do after lifting the cup?",
     "options": ["he waves", "he sits down", "he jumps", "he kneels"], "answer_index": 0}]}
MALFORMED = [
    "Sure! Here are the questions:\n" + json.dumps(VALID),           # prose before the JSON
    json.dumps(VALID)[:-3],                                            # truncated mid-object
    json.dumps(VALID).replace('"', "'"),                               # single quotes
    '{"items": [{"task": "action_sequence", "question": "Q?", "options": ["a", "b", "c", "d"], '
    '"answer_index": 1,}]}',                                           # trailing comma
    "```json\n" + json.dumps(VALID) + "\n``` and that is all.",        # text after the fence
    json.dumps(VALID["items"]),                                        # a list, not the object
    "",
]


class ScriptedBackend:
    """A backend (the VLMBackend protocol) that answers from a fixed list of outputs."""

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.info = BackendInfo("scripted", "scripted-model", revision="r1")
        self.stats = AnswerStats()
        self.requests = []

    def load(self, ctx) -> None:
        pass

    def generate(self, request, ctx):
        self.requests.append(request)
        text = self.outputs.pop(0)
        yield from (text[i:i + 7] for i in range(0, len(text), 7))  # streamed in chunks

    def unload(self) -> None:
        pass


def test_parser_rejects_real_looking_malformed_outputs():
    for bad in MALFORMED:
        with pytest.raises(InvalidOutput):
            parse_output(bad)
    assert len(parse_output("```json\n" + json.dumps(VALID) + "\n```")) == 2


def test_generate_from_text_counts_invalid_and_stores_valid(project):
    project.add_captions([{"video": "cup.mp4", "text": "A man lifts a cup with his right hand, then waves."},
                          {"video": "cup.mp4", "text": "He sits."}, {"video": "b.mp4", "text": "x"}])
    bad_item = {"items": [dict(VALID["items"][0], options=["A. x", "B. y", "C. z", "D. w"]),
                          dict(VALID["items"][1], task="repetition_count")]}
    backend = ScriptedBackend([json.dumps(VALID), json.dumps(bad_item), MALFORMED[0]])
    stats = generate_from_text(project, backend, caption_sources(project))
    assert (stats.outputs, stats.invalid_outputs, stats.items, stats.rejected_items) == (3, 1, 2, 2)
    recs = project.qa_records()
    assert {r.task for r in recs} == {"human_object_interaction", "action_sequence"}
    for r in recs:
        assert r.source == "scripted-model" and r.provenance.prompt_template == "qa_from_text"
        assert r.provenance.prompt_version == "1" and r.provenance.model_revision == "r1"
        assert r.provenance.facts[0]["value"].startswith("A man lifts")
        assert r.answer_text in ("the right hand", "he waves")
    req = backend.requests[0]
    assert req.frames == [] and "A man lifts a cup" in req.messages[-1]["content"]
    again = generate_from_text(project, ScriptedBackend([]), caption_sources(project))
    assert again.outputs == 0  # resumed: every source already done with these settings
    other = generate_from_text(project, ScriptedBackend([json.dumps(VALID)] * 3),
                               caption_sources(project), TextSettings(per_text=1))
    assert other.outputs == 3 and other.items == 3  # new settings: asked again, 1 item each


def test_caption_import_is_all_or_nothing_and_names_the_line(project, tmp_path):
    bad_csv = tmp_path / "caps.csv"
    bad_csv.write_text('video,text,start_s\na.mp4,"waves, then sits",0.5\nb.mp4,"unclosed\n',
                       encoding="utf-8")
    with pytest.raises(CaptionImportError, match="caps.csv line 3"):
        import_captions(project, bad_csv)
    bad_json = tmp_path / "caps.json"
    bad_json.write_text('[\n  {"video": "a.mp4", "text": "ok"},\n  {"video": "b.mp4", "start_s": 1}\n]',
                        encoding="utf-8")
    with pytest.raises(CaptionImportError, match="caps.json line 3: missing caption 'text'"):
        import_captions(project, bad_json)
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"video": "a.mp4",\n  "text": "ok"\n  "x": 1}]', encoding="utf-8")
    with pytest.raises(CaptionImportError, match="broken.json line 4: invalid JSON"):
        import_captions(project, broken)
    assert project.captions() == []
    good = tmp_path / "good.csv"
    good.write_text('video,caption,start_s,end_s\na.mp4,"He says ""hi""\nand waves 👋",1,2.5\n',
                    encoding="utf-8")
    assert import_captions(project, good) == 1
    cap = project.captions()[0]
    assert (cap["text"], cap["start_s"], cap["end_s"]) == ('He says "hi"\nand waves 👋', 1.0, 2.5)


def test_quality_checks_flag_each_problem():
    rec = lambda qid, q, opts, ai, video="v.mp4": QARecord(qid, "body_part_pose", video, q, opts, ai)  # noqa: E731
    items = [rec("a", "How is the left knee at 1.0 s?", ["bent", "straight", "slightly bent"], 0),
             rec("b", "How is the left knee at 2.5 s?", ["straight", "bent", "fully bent"], 1),
             rec("c", "How is the left knee at 1.0 s?", ["bent", "straight", "fully bent"], 0),
             rec("d", "Which hand is higher?", ["left", "Left", "same"], 2),
             rec("e", "How is the left knee at 1.0 s?", ["right angle", "straight", "folded"], 0,
                 "w.mp4")]
    flags = checks.item_flags(items)
    assert "an option contains the answer text" in flags["a"]
    assert flags["b"][-1] == "near-duplicate of a" and flags["c"][-1] == "duplicate of a"
    assert flags["d"] == ["identical options"] and "e" not in flags
    bal = checks.position_balance(items)
    assert bal[3]["counts"] == [3, 1, 1] and not bal[3]["balanced"]
    report = checks.quality_report(items, blind={"d": "x"})
    assert report["flag_counts"]["answered right without the video (blind test)"] == 1


def test_blind_test_flags_items_answered_without_frames(project):
    items = [QARecord("q1", "body_part_pose", "v.mp4", "How is the knee?", ["bent", "straight"], 1),
             QARecord("q2", "body_part_pose", "v.mp4", "How is the elbow?", ["bent", "straight"], 0)]
    backend = ScriptedBackend(["B", "The answer is (B)."])
    right = checks.blind_test(items, backend)
    assert list(right) == ["q1"] and all(r.frames == [] for r in backend.requests)
    assert "A. bent" in backend.requests[0].messages[-1]["content"]
    project.add_qa_items(items)
    project.set_qa_flags("blind", right)
    assert project.qa_flags("q1") == {"blind": right["q1"]} and project.qa_flags("q2") == {}


@pytest.mark.slow
def test_tiny_real_checkpoint_output_is_parsed_strictly(project, tmp_path):
    pytest.importorskip("torch")
    from models.vlm.local import TransformersBackend
    from models.vlm.tiny import build_tiny_checkpoint

    path = build_tiny_checkpoint("qwen2_5_vl", tmp_path / "tiny")
    backend = TransformersBackend(str(path), device="cpu")
    backend.load()
    stats = generate_from_text(project, backend, [TextSource("v.mp4", "A woman waves.")],
                               TextSettings(max_new_tokens=12))
    # a random tiny model writes no valid JSON: the output is rejected, counted, not stored
    assert stats.outputs == 1 and stats.invalid_outputs + stats.rejected_items >= 1
    assert project.qa_count() == 0
    right = checks.blind_test([QARecord("q", "action_sequence", "v.mp4", "First?", ["a", "b"], 0)],
                              backend)
    assert set(right) <= {"q"}
    backend.unload()


def test_model_answers_are_text_sources(project):
    project.save_answer({"video": "cup.mp4", "frame_indices": [0], "backend": "transformers",
                         "model_id": "tiny", "template_id": "free", "template_version": "1",
                         "question": "What happens?", "prompt": "What happens?",
                         "answer": "He lifts the cup with his right hand and then waves.",
                         "generation_params": {}})
    from models.qa.from_text import answer_sources

    sources = answer_sources(project)
    assert [(s.kind, s.video) for s in sources] == [("model_answer", "cup.mp4")]
    stats = generate_from_text(project, ScriptedBackend([json.dumps(VALID)]), sources)
    assert stats.items == 2
    assert project.qa_records()[0].provenance.facts[0]["kind"] == "model_answer"


def test_descriptions_and_differences_are_text_sources(project):
    from models.qa.from_text import description_sources, difference_sources
    from tests.models.qa_poses import elbow_pumping

    track = elbow_pumping()
    desc = description_sources(track, "pump.mp4", [0, 12])
    diff = difference_sources(track, "pump.mp4", [(0, 12)])
    assert [s.kind for s in desc] == ["description", "description"] and desc[0].text.strip()
    assert diff and diff[0].kind == "difference" and "frame A" in diff[0].text
    stats = generate_from_text(project, ScriptedBackend([json.dumps(VALID)] * 3), desc + diff)
    assert stats.outputs == 3 and stats.items == 6
    kinds = {r.provenance.facts[0]["kind"] for r in project.qa_records()}
    assert kinds == {"description", "difference"}
    from models.qa.from_text import pose_text_sources

    both = pose_text_sources(elbow_pumping(), "pump.mp4", n_frames=4)
    assert [s.kind for s in both] == ["description"] * 4 + ["difference"] * 3
    assert [s.ref for s in both[:4]] == ["frame:0", "frame:33", "frame:66", "frame:99"]
