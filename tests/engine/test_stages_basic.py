"""The built-in rule stages on real clips, checked against the desktop paths (a real
project file, the CLI's JSON documents), plus parameter checks and damaged clips."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest

from models.engine.stage import ConfigError, Item, Task, get_stage, registered, result_key
from models.engine.stages.basic import track_from_result, track_to_result
from models.errors import StudioError, VideoError
from models.jobs import JobContext
from models.video import content_hash, probe
from tests.conftest import CLIPS, REPO

TAI_CHI = CLIPS / "tai_chi.mp4"            # 300 frames, one person, every frame reliable
CLOSEUP = CLIPS / "closeup_makeup.avi"     # 164 frames, a face: no frame reliable
STAGES = ("probe", "poses", "reliability", "facts", "describe", "diff", "motion", "qa")


def item_of(path, name=None) -> Item:
    return Item(content_hash(path), os.path.abspath(path), name or os.path.basename(path))


def run_stage(name: str, item: Item, upstream: dict, params: dict | None = None) -> dict:
    stage = get_stage(name)
    p = stage.params(params)
    task = Task(result_key(item.id, stage, p), name, item, p,
                {k: upstream[k] for k in stage.needs if k in upstream})
    return stage.fn(task, JobContext())


def run_all(path) -> dict:
    item, out = item_of(path), {}
    for name in STAGES:
        out[name] = run_stage(name, item, out)
    return out


def as_json(result: dict) -> dict:
    """The result through JSON (bytes left out), as a sink would store it."""
    text = json.dumps({k: v for k, v in result.items() if not isinstance(v, bytes)},
                      allow_nan=False)
    return json.loads(text)


@pytest.fixture(scope="module")
def tai_chi():
    return run_all(TAI_CHI)


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """tai_chi.mp4 through the desktop path: poses extracted into a real project and QA
    generated there with the default settings."""
    from models.qa.generate import generate_qa
    from models.store import Repository

    repo = Repository(tmp_path_factory.mktemp("desktop") / "p.aastudio")
    summary = generate_qa(repo, [str(TAI_CHI)], extract=True)
    yield repo, summary
    repo.close()


def test_stages_are_found_by_name_from_a_light_import():
    code = ("import sys\nimport models.engine.stage as s\n"
            "heavy = [m for m in ('cv2', 'mediapipe', 'models.engine.stages.basic', "
            "'models.describe') if m in sys.modules]\n"
            "st = s.get_stage('qa')\n"
            "print(heavy, st.needs, sorted(s.registered()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("[] ('poses',) ['describe', 'diff', 'facts', 'motion', "
                                  "'p1_describe', 'p2_differences', 'p3_qa', "
                                  "'people', 'poses', 'probe', 'qa', 'reliability']")
    stages = registered()
    assert stages["poses"].needs == ("probe",)
    for name in ("reliability", "facts", "describe", "diff", "motion", "qa"):
        assert stages[name].needs == ("poses",)


def test_every_result_is_json(tai_chi):
    for name, result in tai_chi.items():
        back = as_json(result)
        assert set(back) == {k for k, v in result.items() if not isinstance(v, bytes)}, name
    assert isinstance(tai_chi["poses"]["track"], bytes)


def test_results_repeat_and_tasks_travel_by_pickle(tai_chi):
    item = item_of(TAI_CHI)
    for name in ("reliability", "facts", "diff", "qa"):
        assert run_stage(name, item, tai_chi) == tai_chi[name], name
    stage = get_stage("qa")
    item = Item(item.id, item.video, item.name, {"row": 1})
    task = Task("k", "qa", item, stage.params({}), {"poses": tai_chi["poses"]})
    moved = pickle.loads(pickle.dumps(task))        # as a worker process receives it
    assert get_stage(moved.stage).fn(moved, JobContext()) == tai_chi["qa"]


def test_probe_reports_the_clip(tai_chi):
    info = probe(TAI_CHI)
    r = tai_chi["probe"]
    assert (r["frames"], r["width"], r["height"]) == (300, 340, 256) == \
        (info.frame_count, info.width, info.height)
    assert r["fps"] == pytest.approx(info.fps) and r["duration_s"] == pytest.approx(10.01, abs=0.01)
    assert r["codec"] == "h264" and r["decodable_frames"] == 300 and r["decode_stopped"] is None
    assert r["size_bytes"] == TAI_CHI.stat().st_size and r["vfr"] is False


def test_poses_equal_the_desktop_extraction_and_round_trip_exactly(tai_chi, desktop):
    from models.pose.extract import cached_track

    repo, _ = desktop
    track = track_from_result(tai_chi["poses"])
    saved = cached_track(repo, TAI_CHI)
    assert saved is not None and len(track) == len(saved) == 300
    for name in ("image", "world", "times", "damage"):
        assert np.array_equal(getattr(track, name), getattr(saved, name), equal_nan=True), name
    assert (track.backend, track.backend_version, track.settings) == \
        (saved.backend, saved.backend_version, saved.settings)
    r = tai_chi["poses"]
    assert r["frames"] == r["declared_frames"] == 300 and r["trimmed"] is False
    assert r["frames_with_pose"] == int(track.has_pose.sum()) > 250
    again = track_from_result(track_to_result(track))
    for name in ("image", "world", "times", "damage"):
        a, b = getattr(track, name), getattr(again, name)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name
    assert again.meta() == track.meta()
    with pytest.raises(StudioError, match="cannot be read"):
        track_from_result({"track": b"not an npz"})


def test_qa_stage_gives_the_records_generate_qa_stores(tai_chi, desktop):
    repo, summary = desktop
    stored = [r.to_dict() for r in repo.qa_records()]
    result = as_json(tai_chi["qa"])
    assert summary.generated == result["count"] == len(result["records"]) > 0
    strip = lambda recs: [{k: v for k, v in r.items() if k != "review"} for r in recs]  # noqa: E731
    assert strip(result["records"]) == strip(json.loads(json.dumps(stored)))
    assert repo.generation_done("tai_chi.mp4", result["key"])
    assert sum(result["per_task"].values()) == result["count"]


def test_rule_answers_of_the_qa_stage_equal_a_stored_evaluation(tai_chi, desktop):
    from models.evaluate import EvalSettings, RuleReference, answer_items, evaluate_models
    from models.qa.record import QARecord

    repo, _ = desktop
    records = [QARecord.from_dict(d) for d in as_json(tai_chi["qa"])["records"]]
    answers = list(answer_items(RuleReference(), records, EvalSettings()))
    assert len(answers) == len(records) and all(a["correct"] for a in answers)
    (run_id,) = evaluate_models(repo, [RuleReference()], repo.qa_records(), EvalSettings())
    stored = repo.eval_answers(run_id)
    assert {a["qa_id"]: (a["raw"], a["parsed"]) for a in answers} == \
        {k: (v["raw"], v["parsed"]) for k, v in stored.items()}


def test_describe_and_facts_equal_the_describe_command(tai_chi, desktop, capsys):
    from cli.describe import frame_doc
    from main import main

    repo, _ = desktop
    track = track_from_result(tai_chi["poses"])
    frames = as_json(tai_chi["describe"])["frames"]
    facts = as_json(tai_chi["facts"])["frames"]
    assert [d["frame"] for d in frames] == [d["frame"] for d in facts]
    assert len(frames) == 21 and frames[1]["time_s"] == pytest.approx(0.5, abs=0.02)
    for doc, fdoc in zip(frames, facts):
        text, want = frame_doc(track, "tai_chi.mp4", doc["frame"])
        want["text"] = text
        assert doc == json.loads(json.dumps(want))
        assert fdoc["facts"] == doc["facts"] and fdoc["reliable"] == doc["reliable"]
        assert fdoc["unknown_parts"] == doc["unknown_parts"]
    # the command itself, reading the project's cached track
    mid = frames[10]
    assert main(["describe", str(TAI_CHI), "--frame", str(mid["frame"]), "--project", repo.path,
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["text"] == mid["text"] and printed["facts"] == mid["facts"]


def test_diff_and_motion_equal_the_commands(tai_chi, desktop, capsys):
    from main import main

    repo, _ = desktop
    pairs = as_json(tai_chi["diff"])["pairs"]
    assert len(pairs) == 8 and all(p["described"] for p in pairs)
    assert any(p["facts"] for p in pairs)
    for p in (pairs[0], pairs[5]):
        assert p["time_b_s"] - p["time_a_s"] == pytest.approx(1.0, abs=0.04)
        assert main(["diff", str(TAI_CHI), "--a", str(p["frame_a"]), "--b", str(p["frame_b"]),
                     "--project", repo.path, "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert (printed["text"], printed["facts"]) == (p["text"], p["facts"])
    windows = as_json(tai_chi["motion"])["windows"]
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    w = windows[2]
    assert w["described"] and w["text"]
    assert main(["motion", str(TAI_CHI), "--start", "4", "--end", "6", "--project", repo.path,
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["text"], printed["facts"]) == (w["text"], w["facts"])


def test_unreliable_clip_states_no_fact_anywhere():
    out = run_all(CLOSEUP)
    rel = as_json(out["reliability"])
    assert rel["frames"] == 164 and rel["reliable_frames"] == 0 and not any(rel["ok"])
    assert rel["runs"] and rel["runs"][0]["start"] == 0 and rel["runs"][-1]["end"] == 164
    assert rel["counts"]["torso_hidden"] == 164
    assert len(rel["damage"]) == 164 and all(d is not None and d < rel["damage_max"] for d in rel["damage"])
    for doc in as_json(out["facts"])["frames"]:
        assert doc["reliable"] is False and doc["facts"] == [] and doc["reasons"]
    for doc in as_json(out["describe"])["frames"]:
        assert doc["facts"] == [] and doc["text"].startswith("Not described: ")
    pairs = as_json(out["diff"])["pairs"]
    assert pairs and all(not p["described"] and "not described" in p["reason"] for p in pairs)
    assert all(not w["described"] and "No reliable pose" in w["reason"]
               for w in as_json(out["motion"])["windows"])
    assert as_json(out["qa"])["count"] == 0


@pytest.mark.parametrize("stage, params, named", [
    ("facts", {"step": 1.0}, "'step'"),
    ("poses", {"model": "x"}, "'model'"),
    ("facts", {"step_s": 0}, "'step_s'"),
    ("describe", {"max_frames": 2.5}, "'max_frames'"),
    ("diff", {"pairs": True}, "'pairs'"),
    ("motion", {"signal": "tail wag"}, "'signal'"),
    ("qa", {"tasks": ["juggling"]}, "'tasks'.*'juggling'"),
    ("qa", {"n_options": 9}, "'n_options' must be a whole number of at least 2 and at most 5"),
    ("qa", {"min_visibility": 2}, "'min_visibility'"),
    ("poses", {"backend": "openpose"}, "'backend'"),
    ("poses", {"settings": {"model_complexty": 2}}, "'model_complexty'"),
    ("probe", {"check": "yes"}, "'check'"),
])
def test_bad_parameters_are_named(tai_chi, stage, params, named):
    with pytest.raises(ConfigError, match=named) as err:
        run_stage(stage, item_of(TAI_CHI), tai_chi, params)
    assert "\n" not in str(err.value)


def test_a_stage_without_its_upstream_says_so():
    with pytest.raises(StudioError, match="needs the poses"):
        run_stage("facts", item_of(TAI_CHI), {})


def _cut_avi(folder) -> str:
    rng = np.random.default_rng(1)
    path = str(folder / "full.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    for _ in range(20):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()
    data = open(path, "rb").read()
    cut = folder / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    return str(cut)


def test_truncated_clip_is_a_clear_error_unless_allowed(tmp_path, _isolated_home):
    cut = _cut_avi(tmp_path)
    item = item_of(cut)
    before = sorted(os.listdir(tmp_path)), sorted(p for p, _, _ in os.walk(_isolated_home))
    with pytest.raises(VideoError, match=r"cut.avi stops decoding at frame \d+ of the 20") as err:
        run_stage("probe", item, {})
    assert "\n" not in str(err.value) and "allow_truncated" in str(err.value)
    with pytest.raises(VideoError, match=r"cut.avi stops decoding at frame \d+ of the 20"):
        run_stage("poses", item, {})
    p = run_stage("probe", item, {}, {"allow_truncated": True})
    assert 0 < p["decodable_frames"] < 20 == p["frames"] and p["decode_stopped"]["reason"]
    r = run_stage("poses", item, {"probe": p}, {"allow_truncated": True})
    assert r["trimmed"] is True and r["frames"] == p["decodable_frames"] and r["declared_frames"] == 20
    assert len(track_from_result(r)) == r["frames"]
    # pure: nothing was written next to the clip or in the home folder
    assert (sorted(os.listdir(tmp_path)), sorted(p for p, _, _ in os.walk(_isolated_home))) == before


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "text.mp4").write_text("not a video\n" * 50) and d / "text.mp4",
     "not a readable video"),
    (lambda d: (d / "trunc.mp4").write_bytes(TAI_CHI.read_bytes()[:60_000]) and d / "trunc.mp4",
     "not a readable video"),
    (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "empty"),
])
def test_undecodable_clips_fail_probe_and_poses_in_one_line(tmp_path, make, message):
    path = make(tmp_path)
    item = Item("x" * 32, str(path), path.name)
    for stage in ("probe", "poses"):
        with pytest.raises(VideoError, match=message) as err:
            run_stage(stage, item, {})
        assert "\n" not in str(err.value)
