"""Fine-tuning settings (flags + TOML/JSON file, validation) and the examples built from
QA records: targets the app's parser reads as correct, missing videos skipped and listed,
empty sub-tasks reported, the held-out split by clip and seed, proxy-training folders."""
from __future__ import annotations

import json

import pytest

from models.answer_parse import parse_choice
from models.finetune.config import FinetuneError, make_config
from models.finetune.data import build_dataset, proxy_records, target_text
from tests.finetune.items import VIDEO_ROOT, learn_items


def test_config_file_flags_and_refusals(tmp_path):
    toml = tmp_path / "ft.toml"
    toml.write_text('rank = 4\nlearning_rate = 1e-3\ntarget_modules = ["q_proj", "v_proj"]\n')
    cfg = make_config(str(toml), rank=16, epochs=None)
    assert (cfg.rank, cfg.learning_rate, cfg.epochs) == (16, 1e-3, 3)
    assert cfg.target_modules == ["q_proj", "v_proj"]
    js = tmp_path / "ft.json"
    js.write_text(json.dumps({"finetune": {"held_out": 0.25, "frames": 2}}))
    assert make_config(str(js), target_modules="q_proj, o_proj").target_modules == ["q_proj", "o_proj"]
    bad = {"rnak = 4\n": r"Unknown setting\(s\) in .*: rnak;", "rank = 0\n": "rank must be",
           "dropout = 1.5\n": "dropout must be", "held_out = 1.0\n": "held_out must be",
           "rank = [\n": "cannot be parsed", "template = 'x'\n": "template must be",
           "learning_rate = nan\n": "learning_rate must be", "rank = true\n": "rank must be"}
    for text, message in bad.items():
        toml.write_text(text)
        with pytest.raises(FinetuneError, match=message):
            make_config(str(toml))
    with pytest.raises(FinetuneError, match="Cannot read the config file"):
        make_config(str(tmp_path / "missing.toml"))


def test_targets_parse_back_as_the_correct_option():
    for rec in learn_items(40):
        for template in ("mcq-letter-v1", "mcq-plain-v1", "mcq-letter-text-v1"):
            text = target_text(rec, template)
            assert parse_choice(text, rec.options) == rec.answer_index
        assert target_text(rec) == "ABCD"[rec.answer_index]


def test_missing_videos_skipped_empty_tasks_reported_split_by_clip(tmp_path):
    recs = learn_items(40)
    recs[0].video = "no_such_clip.mp4"
    ds = build_dataset(recs, "test", VIDEO_ROOT, tasks=["body_part_pose", "relative_position",
                                                        "action_sequence"])
    assert ds.skipped[0][0] == recs[0].qa_id and "video missing" in ds.skipped[0][1]
    assert ds.empty_tasks == ["action_sequence"]
    assert ds.counts["action_sequence"] == {"train": 0, "held_out": 0, "skipped": 0}
    assert {e.record.task for e in ds.train} <= {"body_part_pose", "relative_position"}
    split = build_dataset(recs, "test", VIDEO_ROOT, held_out=0.25, seed=3)
    again = build_dataset(recs, "test", VIDEO_ROOT, held_out=0.25, seed=3)
    held = {e.record.video for e in split.held_out}
    assert len(held) == 1 and held.isdisjoint({e.record.video for e in split.train})
    assert [e.qa_id for e in again.held_out] == [e.qa_id for e in split.held_out]
    assert split.summary()["held_out_ids"] == sorted(e.qa_id for e in split.held_out)
    with pytest.raises(FinetuneError, match="No items of the sub-task"):
        build_dataset(recs, "test", VIDEO_ROOT, tasks=["action_sequence"])
    for r in recs:
        r.video = "gone.mp4"
    with pytest.raises(FinetuneError, match="No items to train on in test; 40 skipped"):
        build_dataset(recs, "test", VIDEO_ROOT)


def test_seeds_choose_different_held_out_clips():
    recs = learn_items(40)
    chosen = {tuple(sorted({e.record.video for e in
                            build_dataset(recs, "t", VIDEO_ROOT, held_out=0.25, seed=s).held_out}))
              for s in range(8)}
    assert len(chosen) > 1


def test_proxy_folder_export_is_read_back(tmp_path):
    from models.export.proxy import export
    from models.export.base import ExportOptions

    recs = learn_items(6)
    out = tmp_path / "proxy"
    export(recs, out, ExportOptions(video_root=VIDEO_ROOT))
    got, root = proxy_records(out)
    assert sorted(r.qa_id for r in got) == sorted(r.qa_id for r in recs) and root == str(out)
    ds = build_dataset(got, "proxy", root)
    assert len(ds.train) == 6 and not ds.skipped
    (out / "messages" / "synth_qa.jsonl").unlink()
    assert sorted(r.qa_id for r in proxy_records(out)[0]) == sorted(r.qa_id for r in recs)  # llava
    (out / "llava" / "synth_qa.json").write_text("[{broken")
    with pytest.raises(FinetuneError, match="invalid JSON"):
        proxy_records(out)
    with pytest.raises(FinetuneError, match="neither messages"):
        proxy_records(tmp_path)
