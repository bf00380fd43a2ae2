"""The rule-based describer as a comparison baseline, behind the VLM backend protocol.

It answers from the pose track of the clip, not from pixels: one frame -> the rule-based
pose description; two frames -> the rule-based difference A -> B; more frames -> the
description of each sampled frame; a free question is not read, and the answer says so
first. A multiple-choice question is answered with a letter where it is one of the clip's
pose-derivable QA items (``rule_mcq``; with ``people``, every person of the clip, also
the items about one of several people or about two of them); otherwise the baseline
abstains explicitly.
Needs ``models.describe`` (and ``models.diff`` for pairs) and a pose track of the clip.
"""
from __future__ import annotations

import time
from typing import Iterator, Optional, Union

from ..jobs import NULL_CONTEXT
from .many import Generated, Result, sequential
from .prompts import describer_available, grounding_text
from .types import AnswerStats, BackendInfo, VLMError, VLMRequest


# A free question is not read by the rules: the answer says so before the pose facts.
QUESTION_NOTE = ("The rule-based describer does not read questions; it can only describe "
                 "the poses of the sampled frames (below). For an answer to the question, "
                 "use a vision-language model (Help > How to get a model).")


class RuleBackend:
    kind = "rule"

    def __init__(self, track=None, label: str = "Rule-based describer", people=None) -> None:
        self.track = track
        self.people = people      # {person number: PoseTrack}: every person of the clip
        self.info = BackendInfo("rule", "rule-based-describer", _version(), "rule", "cpu", "",
                                label)
        self.load_s = 0.0

    def load(self, ctx=NULL_CONTEXT) -> None:
        if not describer_available():
            raise VLMError("The rule-based describer (models.describe) is not part of this build")
        if self.track is None:
            raise VLMError("The rule-based describer needs the clip's poses; extract poses first")

    def unload(self) -> None:
        pass

    def generate(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Iterator[Union[str, Generated]]:
        """Yields the whole answer as one chunk, then its ``Generated`` (``abstained``
        set where an MCQ is not answerable from poses)."""
        self.load(ctx)
        t0 = time.perf_counter()
        idx = list(request.frame_indices)
        abstained = False
        if request.mcq is not None:
            text, abstained = self._mcq(request.mcq[0], request.mcq[1], idx)
        else:
            text = self._pair(idx) if len(idx) == 2 else grounding_text(self.track, idx)
            if request.question:
                text = QUESTION_NOTE + "\n\n" + text
        took = time.perf_counter() - t0     # no tokens: rules, not a language model
        yield text
        yield Generated(text, AnswerStats(ttft_s=took, total_s=took, prompt_tokens=0),
                        self.info, "", abstained)

    def generate_many(self, requests, ctx=NULL_CONTEXT,
                      max_concurrency: Optional[int] = None) -> list[Result]:
        """Rules are quick and single-threaded: one request after another."""
        return sequential(self, requests, ctx)

    def _mcq(self, question: str, options: list, idx: list[int]) -> tuple[str, bool]:
        """(the option's letter, False) where the question is a pose-derivable QA item of
        this clip; otherwise (an explicit abstention, True), never a guess."""
        from ..answer_parse import PARSE_LETTERS  # noqa: PLC0415
        from .rule_mcq import ABSTAIN, mcq_index  # noqa: PLC0415

        i = mcq_index(self.track, question, options, idx, people=self.people)
        if i is None:
            return ABSTAIN, True
        return PARSE_LETTERS[i], False

    def _pair(self, idx: list[int]) -> str:
        from ..describe import DescribeError  # noqa: PLC0415
        from ..describe.build import as_world  # noqa: PLC0415
        from ..diff import describe_diff, diff_facts  # noqa: PLC0415

        world = as_world(self.track)
        try:
            facts = diff_facts(world[idx[0]], world[idx[1]], idx[0], idx[1])
        except (DescribeError, IndexError) as exc:
            return f"(no difference: {exc})"
        return describe_diff(facts) or "No clear change between the two frames."


def _version() -> str:
    try:
        from .. import resources  # noqa: PLC0415

        return "posecodes-" + str(resources.load_json("posecodes.json").get("version", "1"))
    except (OSError, ValueError, AttributeError):
        return ""
