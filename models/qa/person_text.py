"""QA text about one of several people: the question names the person by their referent
(``describe.referents``), and options about the body's own sides say whose they are.

The task generators phrase every question about "the person". For an item about one
person among several (``personal(referent)``: a referent other than "the person"):

* ``question_for(question, referent)``: "how is the person's left elbow?" -> "how is the
  left elbow of the person on the left?" (the body's own side first, the picture's place
  after "of", so "the person on the left's left ..." never appears); "does the person
  bend their ..." -> "does the person on the left bend their ..."; "which joint changes
  its angle the most?" -> "which joint of the person on the left changes ...".
* ``option_for(option, referent)``: "the left hand" -> "their left hand" and "towards the
  person's left" -> "towards their own left" (body sides, never the picture's).
  ``generic_option(option)`` maps back to the generators' text, so an item's answer is
  re-derived and judged from its facts exactly like a single-person item.

With the single referent (or None) every text is returned unchanged.
"""
from __future__ import annotations

import re
from typing import Optional

from ..describe.referents import SINGLE

# "the person's <part>" up to where the part's name ends in the task templates
_POSSESSIVE = re.compile(r"\bthe person's ((?:[a-z-]+ )*?[a-z-]+)(?=\?| mainly | relative | is )")
_SUBJECT = re.compile(r"\bthe person\b(?!')")
_WHICH_JOINT = "which joint changes"
_OPTIONS = {"towards the person's left": "towards their own left",
            "towards the person's right": "towards their own right"}
_GENERIC = {v: k for k, v in _OPTIONS.items()}
_SIDE = re.compile(r"^the (left|right) ")
_THEIR_SIDE = re.compile(r"^their (left|right) ")


def personal(referent: Optional[str]) -> bool:
    """True when ``referent`` names one of several people (texts must be rewritten)."""
    return bool(referent) and referent != SINGLE


def question_for(question: str, referent: Optional[str]) -> str:
    """``question`` about the person named by ``referent`` (see the module docstring)."""
    if not personal(referent):
        return question
    q = _SUBJECT.sub(str(referent), question)      # before the possessive adds the referent
    q = _POSSESSIVE.sub(lambda m: f"the {m.group(1)} of {referent}", q)
    q = q.replace(_WHICH_JOINT, f"which joint of {referent} changes")
    if str(referent) not in q:       # a template that does not name the person: say whom
        q = f"Looking at {referent}: {q[:1].lower()}{q[1:]}"
    return q


def option_for(option: str, referent: Optional[str]) -> str:
    """An option's text in an item about the person named by ``referent``."""
    if not personal(referent):
        return option
    if option in _OPTIONS:
        return _OPTIONS[option]
    return _SIDE.sub(r"their \1 ", option)


def generic_option(option: str) -> str:
    """The generators' own text of an option ``option_for`` rewrote (others unchanged)."""
    if option in _GENERIC:
        return _GENERIC[option]
    return _THEIR_SIDE.sub(r"the \1 ", option)
