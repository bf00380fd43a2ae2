"""Argument parsing shared by every command: the parser class (a usage error is one
``error:`` line) and checked number types for options."""
from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, Optional


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str):
        hint = f" (python {self.prog} --help lists the options)" if self.prog else ""
        print(f"error: {message}{hint}", file=sys.stderr)
        raise SystemExit(2)


def number(low: Optional[float] = None, high: Optional[float] = None,
           low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite float inside [low, high] (ends excluded where
    ``low_open`` / ``high_open``); nan, inf and out-of-range values are refused."""
    if low is not None and high is not None:
        span = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        span = f"{'above' if low_open else 'at least'} {low:g}"
    elif high is not None:
        span = f"{'below' if high_open else 'at most'} {high:g}"
    else:
        span = "finite"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
        if low is not None and (value < low or (low_open and value == low)) or \
                high is not None and (value > high or (high_open and value == high)):
            raise argparse.ArgumentTypeError(f"{text} must be {span}")
        return value

    parse.__name__ = f"number {span}"
    return parse


def _whole(text: str, low: int, bound: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text} must be {bound}")
    return value


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1 (counts such as concurrency)."""
    return _whole(text, 1, "at least 1")


def non_negative_int(text: str) -> int:
    """An argparse ``type``: a whole number of at least 0 (indices such as a person number)."""
    return _whole(text, 0, "0 or more")


FRACTION = number(0.0, 1.0)                          # visibility thresholds
SECONDS = number(0.0)                                # times in a clip
POSITIVE = number(0.0, low_open=True)                # rates, sizes
