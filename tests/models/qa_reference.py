"""The pairwise duplicate check qa-check used before it was made near-linear (kept as the
reference the fast one must agree with), and generated QA items full of duplicates and
near-duplicates for the comparison test and the benchmark."""
from __future__ import annotations

import random
from collections import defaultdict

from models.qa.checks import NEAR_JACCARD, _jaccard, _tokens, norm
from models.qa.record import QARecord

ANSWERS = ["straight", "partly bent", "fully bent", "raised above the head"]
PARTS = ["left knee", "right knee", "left elbow", "right elbow", "left hip", "right hip",
         "left shoulder", "right shoulder", "torso", "head", "left wrist", "right ankle"]
OPENINGS = ["How is the", "What is the state of the", "Describe the", "At this moment, how is the",
            "Looking at the person, how is the", "In the highlighted frames how is the"]
ENDINGS = ["?", " at {t} s?", " in frame {f}?", " when the person turns around?",
           " while the person is walking towards the camera slowly?",
           " during the jump, just before landing on both feet?"]
FILLERS = ["really", "clearly", "visibly", "then", "now"]
CONTEXT = ("while the athlete in the red shirt keeps the bar close to the body and the crowd "
           "behind the barrier watches every move of the lift from the start to the finish "
           "line of the hall").split()
ODD = ["???", "42?", "3.5 or 7?", "?"]  # no words at all once numbers are blanked


def duplicates_pairwise(records: list[QARecord]) -> dict[str, str]:
    """The previous algorithm, verbatim: every item against every earlier one."""
    groups = defaultdict(list)
    for r in records:
        groups[(r.video, r.task)].append(r)
    out = {}
    for items in groups.values():
        seen: list[tuple] = []
        for r in items:
            text, toks, ans = norm(r.question), _tokens(r.question), norm(r.answer_text)
            for sid, stext, stoks, sans in seen:
                if text == stext and ans == sans:
                    out[r.qa_id] = f"duplicate of {sid}"
                    break
                if ans == sans and _jaccard(toks, stoks) >= NEAR_JACCARD:
                    out[r.qa_id] = f"near-duplicate of {sid}"
                    break
            seen.append((r.qa_id, text, toks, ans))
    return out


def _question(rng: random.Random) -> str:
    q = f"{rng.choice(OPENINGS)} {rng.choice(PARTS)}" + rng.choice(ENDINGS).format(
        t=round(rng.uniform(0, 30), 1), f=rng.randrange(900))
    if rng.random() < 0.3:  # long questions: one word more or less stays similar
        q = q[:-1] + " " + " ".join(rng.sample(FILLERS, rng.randrange(1, 4))) + "?"
    if rng.random() < 0.15:  # very long ones (compared by rarest-word prefixes)
        q = q[:-1] + " " + " ".join(rng.sample(CONTEXT, rng.randrange(8, len(CONTEXT)))) + "?"
    if rng.random() < 0.02:
        q = rng.choice(ODD)
    return q


def _variant(q: str, rng: random.Random) -> str:
    """The same question in another case/punctuation, or with a word added or dropped."""
    kind = rng.randrange(4)
    if kind == 0:
        return q.upper().replace("?", " ?!")
    words = q.rstrip("?").split() or ["what"]
    if kind == 1:
        words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
    elif kind == 2 and len(words) > 3:
        del words[rng.randrange(len(words))]
    else:
        words[rng.randrange(len(words))] = rng.choice(FILLERS + ["the"])
    return " ".join(words) + "?"


def generated_items(n: int, seed: int = 0, videos: int = 1, tasks: int = 1,
                    answers: int = len(ANSWERS)) -> list[QARecord]:
    """``n`` items; about a third repeat or vary an earlier question (same or other
    answer), the rest are fresh template questions."""
    rng = random.Random(seed)
    out: list[QARecord] = []
    for i in range(n):
        if out and rng.random() < 0.35:
            src = rng.choice(out)
            q = src.question if rng.random() < 0.4 else _variant(src.question, rng)
            video, task = src.video, src.task
            answer = src.answer_text if rng.random() < 0.8 else rng.choice(ANSWERS[:answers])
        else:
            q = _question(rng)
            video, task = f"clip{rng.randrange(videos)}.mp4", f"task{rng.randrange(tasks)}"
            answer = rng.choice(ANSWERS[:answers])
        options = [answer] + [a for a in ANSWERS if a != answer][:3]
        rng.shuffle(options)
        out.append(QARecord(f"q{i:06d}", task, video, q, options, options.index(answer)))
    return out
