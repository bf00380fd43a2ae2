"""Paired bootstrap of an accuracy difference between two models answering the same items
(numpy only): the items are resampled with replacement, the same resample for both
models, and the percentile interval of the difference is reported."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

RESAMPLES = 2000
LEVEL = 0.95
MAX_CELLS = 4_000_000          # resampled indices held at once (bounds memory for big sets)


@dataclass(frozen=True)
class Interval:
    n: int
    diff: Optional[float]      # accuracy of B minus accuracy of A (fraction)
    low: Optional[float]
    high: Optional[float]
    level: float = LEVEL

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired_bootstrap(a: Sequence, b: Sequence, resamples: int = RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> Interval:
    """``a`` and ``b``: per item correctness (1/0 or bools) of two models, item for item.
    The difference of the means (B - A) with its ``level`` percentile interval over
    ``resamples`` paired resamples drawn with ``seed`` (the same inputs give the same
    interval). No items: every value is None."""
    import numpy as np  # noqa: PLC0415

    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired outcomes differ in length ({x.size} vs {y.size})")
    if resamples < 1 or not 0.0 < level < 1.0:
        raise ValueError("resamples must be positive and level between 0 and 1")
    n = int(x.size)
    if n == 0:
        return Interval(0, None, None, None, level)
    d = y - x
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    step = max(1, MAX_CELLS // n)
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        idx = rng.integers(0, n, size=(rows, n))
        means[start:start + rows] = d[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(n, float(d.mean()), float(low), float(high), level)
