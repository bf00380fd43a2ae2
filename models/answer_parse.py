"""Pick the chosen option out of a model's free-text answer.

Standard library only: the lmms-eval exporter copies this module's source into the task's
``utils.py``, so the harness parses answers exactly as the app does.

``parse_choice(text, options)`` returns the 0-based option index or ``None`` when the text
names no option unambiguously. Accepted forms: a leading letter ("B", "B.", "(B) ..."),
"Answer: B", "The answer is B.", "Option 2", the option text itself, an option number,
lowercase letters where punctuation makes them unambiguous, markdown bold/code.
"""
import re

PARSE_LETTERS = "ABCDEFGHIJ"
_MARKUP = re.compile(r"[*_`#]+")
_PHRASE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|would be|:|-)?\s*:?\s*\(?\s*([A-Ja-j]|\d{1,2})\s*\)?"
    r"(?=$|[\s.,;:!)\]])", re.IGNORECASE)
_LEADING = re.compile(r"^\(?\[?([A-Ja-j])\s*(?:[.:)\],]|$|\s)")
_PAREN = re.compile(r"\(([A-J])\)")
_NUMBER = re.compile(r"^(\d{1,2})(?:[.):]|\s|$)")
_TOKEN = re.compile(r"(?<![A-Za-z'])([A-J])(?![A-Za-z'])")
_ARTICLE = re.compile(r"^ (?!or\b|and\b)[a-z]")  # "A person", "I think" (not "A or B")


def _norm(text):
    text = _MARKUP.sub("", str(text)).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .,;:!\"'")


def _letter_index(token, n):
    if token.isdigit():
        i = int(token) - 1
    else:
        i = PARSE_LETTERS.find(token.upper())
    return i if 0 <= i < n else None


def _exact_option(norm, options):
    hits = [i for i, o in enumerate(options) if _norm(o) and _norm(o) == norm]
    return hits[0] if len(hits) == 1 else None


def _leading(clean, n):
    m = _LEADING.match(clean)
    if not m:
        return None
    letter, rest = m.group(1), clean[m.end():]
    if letter.islower() and not re.match(r"^[a-j]\s*(?:[.:)\]]|$)", clean):
        return None  # "a person ..." is an article, not option a
    if letter in "AI" and clean[1:2] == " " and re.match(r"^[a-z]", rest or ""):
        return None  # "A person raises ...", "I think ..."
    return _letter_index(letter, n)


def _contained_option(norm, options):
    found = [(len(_norm(o)), i) for i, o in enumerate(options)
             if _norm(o) and re.search(r"(?<![a-z0-9])" + re.escape(_norm(o)) + r"(?![a-z0-9])", norm)]
    if not found:
        return None
    found.sort(reverse=True)
    if len(found) > 1 and found[0][0] == found[1][0]:
        return None
    longest = found[0][1]
    others = [i for _, i in found[1:] if _norm(options[i]) not in _norm(options[longest])]
    return None if others else longest


def _lone_letter(clean, n):
    letters = set()
    for m in _TOKEN.finditer(clean):
        if m.group(1) in "AI" and _ARTICLE.match(clean[m.end():]):
            continue
        letters.add(m.group(1))
    valid = {i for i in (_letter_index(x, n) for x in letters) if i is not None}
    return valid.pop() if len(valid) == 1 and len(letters) == 1 else None


def parse_choice(text, options):
    """Index of the option ``text`` chooses among ``options``, or None if unparseable."""
    if text is None:
        return None
    n = len(options)
    clean = _MARKUP.sub("", str(text)).strip()
    norm = _norm(clean)
    if not norm or n == 0:
        return None
    exact = _exact_option(norm, options)
    if exact is not None:
        return exact
    m = _PHRASE.search(clean)
    if m and _letter_index(m.group(1), n) is not None:
        if not (m.group(1).islower() and clean[m.end():m.end() + 1] == " "):
            return _letter_index(m.group(1), n)
    for finder in (lambda: _leading(clean, n),
                   lambda: _paren(clean, n),
                   lambda: _contained_option(norm, options),
                   lambda: _number(norm, n),
                   lambda: _lone_letter(clean, n)):
        found = finder()
        if found is not None:
            return found
    return None


def _paren(clean, n):
    m = _PAREN.search(clean)
    return _letter_index(m.group(1), n) if m else None


def _number(norm, n):
    m = _NUMBER.match(norm)
    return _letter_index(m.group(1), n) if m else None


MCQ_POST_PROMPT = "Answer with the option's letter from the given choices directly."
# prompt template id -> instruction after the options (None: question and options only)
PROMPT_TEMPLATES = {
    "mcq-letter-v1": MCQ_POST_PROMPT,
    "mcq-letter-text-v1": "Answer with the option's letter and the option's text.",
    "mcq-plain-v1": None,
}


def build_mcq_prompt(question, options, post_prompt=MCQ_POST_PROMPT):
    """The one prompt text for a multiple-choice item (app evaluation and exports alike)."""
    lines = [str(question).strip()]
    lines += [f"{PARSE_LETTERS[i]}. {text}" for i, text in enumerate(options)]
    if post_prompt:
        lines.append(post_prompt)
    return "\n".join(lines)
