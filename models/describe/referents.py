"""How text names one of several people so that a viewer can find them in the frame.

A referent is the phrase a description or question uses for a person: "the person" when the
clip shows one person, otherwise the person's place in the picture seen from the viewer
("the person on the left", "the person in the middle", "the person on the right", and for
more people "the second person from the left"). Left and right here are the picture's
(the viewer's), never the person's own body sides.

A place is only used when it cannot be misread over the frames the text is about: every
person named must be seen there, neighbours must stay at least ``margin`` (a fraction of
the picture's width) apart on every frame where both are seen, and their order must never
change (people who cross, or stand on the same side, are ambiguous). An ambiguous person
gets ``None``: callers skip the text rather than guess who is meant.

``centres(tracks, start, end)`` gives each person's per-frame horizontal position (the mean
x of the visible shoulders and hips, else of every visible joint, normalised 0..1; NaN when
not seen). ``referents(tracks, start, end)`` returns {person: phrase or None}.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

SINGLE = "the person"
VISIBLE = 0.5          # a joint counts as seen from this visibility
MARGIN = 0.08          # neighbours closer than this (fraction of the width) are ambiguous
MIN_SEEN = 0.5         # a person must be seen on at least half the frames to be named
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _torso_index(track) -> list[int]:
    from ..pose.people import skeleton_of  # noqa: PLC0415

    try:
        sk = skeleton_of(getattr(track, "skeleton", "blazepose33"))
    except ValueError:
        return []
    return [sk.index(n) for n in TORSO if n in sk.joints]


def _centre(track, start: int, end: int) -> np.ndarray:
    img = np.asarray(track.image[start:end], dtype=np.float64)
    if img.size == 0:
        return np.full(0, np.nan)
    x = img[..., 0]
    vis = np.nan_to_num(img[..., 3], nan=0.0) if img.shape[-1] > 3 else np.ones(x.shape)
    seen = np.isfinite(x) & (vis >= VISIBLE)
    torso = _torso_index(track)
    out = np.full(len(img), np.nan)
    for f in range(len(img)):
        idx = [j for j in torso if seen[f, j]]
        if len(idx) < 2:
            idx = list(np.flatnonzero(seen[f]))
        if idx:
            out[f] = float(np.mean(x[f, idx]))
    return out


def centres(tracks: Mapping[int, object], start: int = 0,
            end: Optional[int] = None) -> dict[int, np.ndarray]:
    """{person: (frames,) normalised x of the body's centre over [start, end), NaN unseen}."""
    return {p: _centre(t, start, end if end is not None else len(t))   # type: ignore[arg-type]
            for p, t in tracks.items()}


def _ordinal_phrase(rank: int, count: int) -> str:
    if count == 2:
        return ("the person on the left", "the person on the right")[rank]
    if count == 3:
        return ("the person on the left", "the person in the middle",
                "the person on the right")[rank]
    if rank == 0:
        return "the person furthest to the left"
    if rank == count - 1:
        return "the person furthest to the right"
    if rank < len(ORDINALS):
        return f"the {ORDINALS[rank]} person from the left"
    return f"person number {rank + 1} from the left"


def referents(tracks: Mapping[int, object], start: int = 0, end: Optional[int] = None,
              margin: float = MARGIN) -> dict[int, Optional[str]]:
    """{person: the phrase naming them over frames [start, end), or None when ambiguous}.

    People not seen on at least ``MIN_SEEN`` of those frames are not named (None) and do
    not count as present; with one person present the phrase is "the person".
    """
    xs = centres(tracks, start, end)
    out: dict[int, Optional[str]] = {p: None for p in tracks}
    present = [p for p, x in xs.items()
               if x.size and np.isfinite(x).mean() >= MIN_SEEN]
    if len(present) == 1:
        out[present[0]] = SINGLE
        return out
    if not present:
        return out
    order = sorted(present, key=lambda p: float(np.nanmean(xs[p])))
    clear = [True] * len(order)
    for i in range(len(order) - 1):
        a, b = xs[order[i]], xs[order[i + 1]]
        both = np.isfinite(a) & np.isfinite(b)
        if not both.any() or float(np.min(b[both] - a[both])) < margin:
            clear[i] = clear[i + 1] = False
    # Order must hold for every pair, not only neighbours (a far person can cross two).
    for i in range(len(order)):
        for j in range(i + 2, len(order)):
            a, b = xs[order[i]], xs[order[j]]
            both = np.isfinite(a) & np.isfinite(b)
            if both.any() and float(np.min(b[both] - a[both])) < margin:
                clear[i] = clear[j] = False
    for rank, p in enumerate(order):
        if clear[rank]:
            out[p] = _ordinal_phrase(rank, len(order))
    return out


def capitalised(phrase: str) -> str:
    """The phrase at the start of a sentence."""
    return phrase[:1].upper() + phrase[1:]
