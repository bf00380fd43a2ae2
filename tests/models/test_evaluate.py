"""Evaluation: scoring, stored runs with resume and cancel, the rule-based reference,
comparison and reports; end to end with a real tiny transformers checkpoint on real clips."""
from __future__ import annotations

import numpy as np
import pytest

from models.errors import Cancelled
from models.evaluate import (EvalSettings, RuleReference, compare_runs, evaluate_models,
                             open_backend, run_eval, run_score, score, score_texts,
                             start_or_resume)
from models import eval_report
from models.jobs import CancelToken, JobContext
from tests.conftest import CLIPS
from tests.models.export_samples import sample_records
from tests.models.qa_poses import standing_frame, track_from
from tests.vlm_fixtures import tiny_ckpt  # noqa: F401

SETTINGS = EvalSettings(frames=4, max_new_tokens=6)


def synth_records():
    """Real synthesized items (facts + answers from the QA synthesis) on a real clip."""
    from models.pose.skeleton import blazepose
    from models.qa.synth import synthesize_track

    sk = blazepose()
    world = np.repeat(standing_frame()[None], 60, axis=0)
    t = np.linspace(0, 4 * np.pi, 60)
    world[:, sk.index("left_wrist"), 1] = -0.1 - 0.3 * np.sin(t)
    world[:, sk.index("right_knee"), 2] = -0.2 * np.clip(np.sin(t), 0, 1)
    return synthesize_track(track_from(world), "arm_wrestling.mp4")


def test_score_per_task_mean_and_micro():
    recs = sample_records()
    texts = {"qa_0001": "C", "qa_0005": "B", "qa_0002": "Answer: A", "qa_0003": "??"}
    s = score_texts(recs, texts)
    assert {t: (x.n, x.correct) for t, x in s.tasks.items()} == {
        "body_part_pose": (2, 1), "full_body_posture": (1, 1), "repetition_count": (0, 0),
        "spatial_difference": (1, 0)}
    assert s.pending == 1 and s.unparseable == ["qa_0003"]
    assert s.overall == pytest.approx(2 / 4)
    assert s.mean_over_tasks == pytest.approx((0.5 + 1 + 0) / 3)
    assert score(recs, {"qa_0001": {"parsed": None, "abstained": True}}).tasks[
        "body_part_pose"].abstained == 1


def test_rule_reference_answers_from_facts(project):
    recs = synth_records() + sample_records()[:1]   # the last one has no re-derivable facts
    (run_id,) = evaluate_models(project, [RuleReference()], recs, SETTINGS, str(CLIPS))
    s = run_score(project, run_id)
    assert s.n == len(recs) - 1 and s.correct == s.n
    assert s.tasks["body_part_pose"].abstained == 1
    assert project.eval_run(run_id)["status"] == "done"


class Spy:
    """Counts the generate calls of a real backend and cancels after ``stop_after``."""

    def __init__(self, backend, token=None, stop_after=None):
        self.backend, self.calls, self.token, self.stop_after = backend, 0, token, stop_after
        self.info, self.kind = backend.info, backend.kind

    def load(self, ctx):
        self.backend.load(ctx)
        self.info = self.backend.info

    def generate(self, request, ctx):
        self.calls += 1
        if self.stop_after and self.calls >= self.stop_after:
            self.token.cancel()
        yield from self.backend.generate(request, ctx)


def test_tiny_checkpoint_end_to_end_with_cancel_resume_compare(project, tiny_ckpt):
    recs = synth_records()[:6] + sample_records()[:3]
    backend = open_backend(str(tiny_ckpt("qwen2_5_vl")), "cpu")
    token = CancelToken()
    spy = Spy(backend, token, stop_after=3)
    run_id = start_or_resume(project, spy, recs, SETTINGS)
    partials = []
    with pytest.raises(Cancelled):
        run_eval(project, run_id, spy, str(CLIPS), JobContext(on_partial=partials.append, token=token))
    assert project.eval_run(run_id)["status"] == "cancelled"
    assert len(project.eval_answers(run_id)) == len(partials) == 2
    resumed = Spy(backend)
    assert start_or_resume(project, resumed, recs, SETTINGS) == run_id
    progress = []
    s = run_eval(project, run_id, resumed, str(CLIPS), JobContext(
        on_progress=lambda d, t, m: progress.append((d, t))))
    assert resumed.calls == len(recs) - 2 and progress[-1] == (len(recs), len(recs))
    answers = project.eval_answers(run_id)
    assert len(answers) == len(recs) and s.pending == 0 and s.n == len(recs)
    assert all(a["gen_s"] > 0 and a["total_s"] >= a["gen_s"] for a in answers.values())
    assert project.eval_run(run_id)["model_revision"]
    ref_id = evaluate_models(project, [RuleReference()], recs, SETTINGS, str(CLIPS))[0]
    cmp = compare_runs(project, run_id, ref_id)
    ref = project.eval_answers(ref_id)
    both = [q for q in answers if not ref[q]["abstained"]]
    assert cmp.common == len(both) == 6
    assert sorted(cmp.to_correct) == sorted(q for q in both if not answers[q]["correct"])
    assert cmp.to_wrong == []
    rows = eval_report.report_rows(project, [run_id, ref_id])
    csv_text = eval_report.to_csv(rows)
    assert csv_text.splitlines()[0] == "model,sub_task,n,correct,accuracy,unparseable,abstained"
    md = eval_report.to_markdown(rows, eval_report.unparseable_by_run(project, [run_id, ref_id]))
    assert "| #%d Rule-based reference | mean over sub-tasks |" % ref_id in md
    assert "100.0" in md


def test_prompt_templates_shape_the_request_and_unknown_ones_fail_early(tmp_path):
    from models.errors import StudioError
    from models.evaluate import build_request
    from models.store import Repository

    rec = sample_records()[1]                      # two_people_room.mp4, no window
    texts = {}
    for template in ("mcq-letter-v1", "mcq-letter-text-v1", "mcq-plain-v1"):
        req = build_request(rec, EvalSettings(frames=2, template=template), str(CLIPS))
        texts[template] = str(req.messages)
        assert "A. standing" in texts[template] and len(req.frames) == 2
    assert "letter from the given choices" in texts["mcq-letter-v1"]
    assert "letter and the option's text" in texts["mcq-letter-text-v1"]
    assert "Answer with" not in texts["mcq-plain-v1"]
    repo = Repository(tmp_path / "t.aastudio")
    with pytest.raises(StudioError, match="Unknown prompt template"):
        evaluate_models(repo, [RuleReference()], [rec], EvalSettings(template="nope"))
    assert repo.eval_runs() == []
    repo.close()


def test_missing_videos_are_listed_before_a_model_loads(tmp_path, tiny_ckpt):
    import dataclasses

    from models.errors import StudioError
    from models.store import Repository

    recs = sample_records()[:2] + [dataclasses.replace(sample_records()[2], video="gone/clip.mp4")]
    backend = open_backend(str(tiny_ckpt("qwen2_5_vl")), "cpu")
    repo = Repository(tmp_path / "m.aastudio")
    with pytest.raises(StudioError, match=r"1 item\(s\) point at missing videos: qa_0003 "
                                          r"\(.*gone/clip.mp4\).*--video-root"):
        evaluate_models(repo, [backend], recs, EvalSettings(frames=2), str(CLIPS))
    assert repo.eval_runs() == []
    assert evaluate_models(repo, [RuleReference()], recs, EvalSettings(), None)  # no frames needed
    repo.close()
