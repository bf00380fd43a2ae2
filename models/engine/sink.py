"""Sinks: where the outcomes of a run are kept, and what they say is already done.

The run loop asks a sink which result keys are done (status ok) and which failed (with
how many attempts so far), writes every outcome through it, and loads upstream results
from it. ``ShardSink`` (shards.py) is the run folder's Parquet shards; ``MemorySink``
keeps everything in memory (benches, tests, small in-process runs).
"""
from __future__ import annotations

from typing import Iterable, Protocol

from .stage import Outcome

__all__ = ["MemorySink", "Sink"]


class Sink(Protocol):
    def done(self) -> set:
        """Keys with an ok result."""

    def failed(self) -> dict:
        """Keys whose latest result failed -> attempts so far."""

    def write(self, outcome: Outcome) -> None:
        """Keep one outcome (buffered; ``flush`` makes it durable)."""

    def results(self, keys: Iterable[str]) -> dict:
        """key -> result dict, for the ok keys among ``keys``."""

    def flush(self) -> None:
        ...

    def close(self) -> None:
        ...


class MemorySink:
    """Outcomes in a dict (latest per key; an ok result is never replaced by a failure)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def done(self) -> set:
        return {k for k, o in self.outcomes.items() if o.status == "ok"}

    def failed(self) -> dict:
        return {k: o.attempts for k, o in self.outcomes.items() if o.status != "ok"}

    def write(self, outcome: Outcome) -> None:
        old = self.outcomes.get(outcome.key)
        if old is None or old.status != "ok":
            self.outcomes[outcome.key] = outcome

    def results(self, keys: Iterable[str]) -> dict:
        out = {}
        for k in keys:
            o = self.outcomes.get(k)
            if o is not None and o.status == "ok":
                out[k] = o.result
        return out

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
