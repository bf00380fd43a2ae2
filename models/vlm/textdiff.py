"""Make differences between answers easy to see: the words each answer has alone."""
from __future__ import annotations

import html
import re

_WORD = re.compile(r"[A-Za-z0-9']+")


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text or "")}


def distinct_words(texts: list[str]) -> list[set[str]]:
    """For each text, the (lower-cased) words that no other text contains."""
    sets = [words(t) for t in texts]
    out = []
    for i, s in enumerate(sets):
        others = set().union(*(o for j, o in enumerate(sets) if j != i)) if len(sets) > 1 else set()
        out.append(s - others if len(sets) > 1 else set())
    return out


def highlight_html(text: str, distinct: set[str], color: str = "#d35400") -> str:
    """HTML of ``text`` with its distinct words in bold colour (everything else escaped)."""
    out, pos = [], 0
    for m in _WORD.finditer(text or ""):
        out.append(html.escape(text[pos:m.start()]))
        w = m.group(0)
        out.append(f'<b style="color:{color}">{html.escape(w)}</b>' if w.lower() in distinct
                   else html.escape(w))
        pos = m.end()
    out.append(html.escape((text or "")[pos:]))
    return "".join(out).replace("\n", "<br>")
