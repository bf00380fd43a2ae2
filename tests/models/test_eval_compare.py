"""Base vs tuned: the paired bootstrap interval on synthetic outcomes, the comparison of two
stored runs (flipped items exactly, per sub-task rows) and its JSON/Markdown reports."""
from __future__ import annotations

import numpy as np
import pytest

from models import eval_report as rep
from models.eval_stats import paired_bootstrap
from models.evaluate import compare_runs
from models.qa.record import QARecord
from models.store import Repository


def test_identical_models_interval_holds_zero_and_narrows_with_n():
    widths = []
    for n in (40, 160, 640, 2560):
        rng = np.random.default_rng(n)
        a, b = rng.random(n) < 0.6, rng.random(n) < 0.6       # same skill, other items right
        ci = paired_bootstrap(a, b, 2000, seed=0)
        assert ci.n == n and ci.low <= 0.0 <= ci.high and not ci.excludes_zero, (n, ci)
        assert ci.low <= ci.diff <= ci.high
        widths.append(ci.high - ci.low)
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0] / 4
    same = paired_bootstrap([1, 0, 1, 1, 0], [1, 0, 1, 1, 0])
    assert (same.diff, same.low, same.high) == (0.0, 0.0, 0.0)


def test_model_right_on_all_is_better_with_an_interval_above_zero():
    rng = np.random.default_rng(7)
    a = rng.random(200) < 0.5
    ci = paired_bootstrap(a, np.ones(200, bool), 2000, seed=3)
    assert ci.diff == pytest.approx(1 - a.mean()) and ci.excludes_zero and ci.low > 0.3
    assert paired_bootstrap(a, np.ones(200), 2000, seed=3) == ci          # seeded
    worse = paired_bootstrap(np.ones(200), a, 2000, seed=3)
    assert worse.high < 0 and worse.diff == pytest.approx(-ci.diff)
    empty = paired_bootstrap([], [])
    assert empty.n == 0 and empty.diff is None and empty.low is None
    with pytest.raises(ValueError):
        paired_bootstrap([1, 0], [1])


def _rec(qa_id, task, answer=0, question=None):
    return QARecord(qa_id=qa_id, task=task, video="v.mp4", question=question or f"Q {qa_id}?",
                    options=["yes", "no"], answer_index=answer)


@pytest.fixture
def two_runs(tmp_path):
    """Run 1 (base) and run 2 (tuned) on 7 items of two sub-tasks, written to a real file."""
    repo = Repository(tmp_path / "p.aastudio")
    recs = [_rec(f"a{i}", "alpha") for i in range(4)] + [_rec(f"b{i}", "beta") for i in range(3)]
    base = {"a0": 1, "a1": 0, "a2": 1, "a3": 0, "b0": 1, "b1": 1, "b2": None}    # None: abstain
    tuned = {"a0": 1, "a1": 1, "a2": 0, "a3": 1, "b0": 0, "b1": 1, "b2": 1}
    ids = []
    for name, outcome in (("base", base), ("tuned", tuned)):
        run = repo.create_eval_run(name, "transformers", name, {"frames": 4}, recs)
        for qa_id, right in outcome.items():
            repo.save_eval_answer(run, qa_id, None if right is None else "A",
                                  None if right is None else (0 if right else 1), bool(right),
                                  abstained=right is None)
        ids.append(run)
    yield repo, ids
    repo.close()


def test_comparison_lists_flips_exactly_per_sub_task(two_runs):
    repo, (run_a, run_b) = two_runs
    c = compare_runs(repo, run_a, run_b, resamples=500, seed=1)
    assert c.common == 6
    assert c.to_correct == ["a1", "a3"] and c.to_wrong == ["a2", "b0"]
    alpha, beta = c.tasks["alpha"], c.tasks["beta"]
    assert (alpha.n, alpha.correct_a, alpha.correct_b) == (4, 2, 3)
    assert alpha.to_correct == ["a1", "a3"] and alpha.to_wrong == ["a2"]
    assert alpha.diff == pytest.approx(0.25) and alpha.low <= 0.25 <= alpha.high
    assert (beta.n, beta.correct_a, beta.correct_b, beta.to_wrong) == (2, 2, 1, ["b0"])
    assert c.overall.n == 6 and c.overall.diff == pytest.approx(4 / 6 - 4 / 6)
    assert c.questions["a2"] == ("alpha", "Q a2?")
    data = rep.comparison_dict(c, "#1 base", "#2 tuned")
    rows = {r["sub_task"]: r for r in data["tasks"]}
    assert rows["alpha"] == {"sub_task": "alpha", "n": 4, "accuracy_a": 50.0,
                             "accuracy_b": 75.0, "difference": 25.0,
                             "ci_low": rows["alpha"]["ci_low"], "ci_high": rows["alpha"]["ci_high"],
                             "became_correct": 2, "became_wrong": 1}
    assert data["overall"]["difference"] == 0.0 and data["bootstrap"]["resamples"] == 500
    assert [it["qa_id"] for it in data["became_wrong"]] == ["a2", "b0"]
    assert data["became_wrong"][1] == {"qa_id": "b0", "task": "beta", "question": "Q b0?"}
    md = rep.comparison_markdown(data, "held-out split")
    assert md.startswith("## held-out split\n")
    assert "| alpha | 4 | 50.0 | 75.0 | +25.0 | [" in md
    assert "right → wrong (2):\n- a2 [alpha] Q a2?\n- b0 [beta] Q b0?" in md
    assert "wrong → right (2):\n- a1 [alpha] Q a1?\n- a3 [alpha] Q a3?" in md
