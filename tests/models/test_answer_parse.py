"""Answer parsing on a table of real-looking model outputs."""
from __future__ import annotations

import pytest

from models.answer_parse import build_mcq_prompt, parse_choice

OPTS = ["straight", "slightly bent", "bent at a right angle", "completely bent"]
COUNTS = ["1", "2", "3", "4"]
SIDES = ["left", "right", "same height"]

CASES = [
    ("B", OPTS, 1),
    ("B.", OPTS, 1),
    ("(C)", OPTS, 2),
    ("(C) bent at a right angle", OPTS, 2),
    ("C. bent at a right angle", OPTS, 2),
    ("Answer: D", OPTS, 3),
    ("answer: (a)", OPTS, 0),
    ("The answer is B.", OPTS, 1),
    ("The correct answer is (D).", OPTS, 3),
    ("**B**", OPTS, 1),
    ("**Answer:** C", OPTS, 2),
    ("`A`", OPTS, 0),
    ("b", OPTS, 1),
    ("d)", OPTS, 3),
    ("slightly bent", OPTS, 1),
    ("The knee is completely bent.", OPTS, 3),
    ("Bent at a right angle", OPTS, 2),
    ("2", OPTS, 1),
    ("Option 4", OPTS, 3),
    ("I think it's B because the elbow flexes.", OPTS, 1),
    ("A person raises the arm; the arm is straight.", OPTS, 0),
    ("Based on the video, the arm is slightly bent", OPTS, 1),
    ("3", COUNTS, 2),          # option text wins over option number
    ("The arm goes down 4 times.", COUNTS, 3),
    ("left", SIDES, 0),
    ("The right hand is higher.", SIDES, 1),
    ("", OPTS, None),
    ("I am not sure.", OPTS, None),
    ("A or B", OPTS, None),
    ("It is bent.", OPTS, None),      # 'bent' alone names no single option
    ("E", OPTS, None),                # beyond the options
    ("7", OPTS, None),
    (None, OPTS, None),
    ("a person is standing", OPTS, None),
]


@pytest.mark.parametrize("text,options,expected", CASES)
def test_parse_choice(text, options, expected):
    assert parse_choice(text, options) == expected


def test_prompt_lists_lettered_options():
    p = build_mcq_prompt("Which knee?", ["left", "right"])
    assert p.splitlines() == ["Which knee?", "A. left", "B. right",
                              "Answer with the option's letter from the given choices directly."]
