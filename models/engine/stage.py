"""The stage contract: what a unit of dataset work is, how its result is keyed, and how
stages are found by name.

A *stage* is a pure function of one item (a video, identified by its content hash), its
parameters and the results of the stages it needs for the same item. It returns a plain
result (a dict of JSON values; ``bytes`` values are allowed for compact arrays, e.g. an
``np.savez`` of a pose track, always read back with ``allow_pickle=False``). It never writes
to a project or a file: sinks persist results, runners decide where the function runs.

Stages that talk to a model in batches (the MLLM proxy tasks) set ``batch > 1`` and give
``fn_many``: the runner hands them up to ``batch`` tasks at once and they return one result
(or one exception) per task, in order, so a backend can serve the batch concurrently.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from ..errors import StudioError
from ..jobs import JobContext

__all__ = ["ConfigError", "Item", "Outcome", "Stage", "Task", "add_loader", "canonical_json", "get_stage",
           "register", "registered", "result_key"]


class ConfigError(StudioError):
    """A run configuration or stage parameter that cannot be used (names the key)."""


@dataclass(frozen=True)
class Item:
    """One video of a dataset run."""
    id: str                              # content hash of the file (models.video.content_hash)
    video: str                           # absolute path where this process can read it
    name: str = ""                       # as the manifest lists it (relative path, row value)
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __reduce__(self):
        # a read-only mapping does not pickle: workers (processes, Ray) get a plain dict
        return (Item, (self.id, self.video, self.name, dict(self.meta)))


@dataclass(frozen=True)
class Task:
    """One stage applied to one item: everything a worker needs, picklable by Ray."""
    key: str                             # result_key(...) of this task
    stage: str                           # stage name (looked up with get_stage in the worker)
    item: Item
    params: Mapping[str, Any]
    upstream: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # needed stage -> its result
    model_id: str = ""
    endpoints: tuple = ()                # the run's [[endpoints]] rows (model stages; not in the key)


StageFn = Callable[[Task, JobContext], dict]
StageManyFn = Callable[[Sequence[Task], JobContext], list]   # list[dict | Exception]


@dataclass(frozen=True)
class Stage:
    name: str                            # "poses", "facts", "p1_describe", ...
    version: str                         # bump when the same inputs would give another result
    fn: Optional[StageFn] = None         # one task -> result
    needs: tuple[str, ...] = ()          # stages whose result (same item) this one reads
    resource: str = "cpu"                # "cpu" | "gpu" | "endpoint": how runners size the work
    defaults: Mapping[str, Any] = field(default_factory=dict)  # every accepted parameter
    batch: int = 1                       # > 1: call fn_many with up to this many tasks
    fn_many: Optional[StageManyFn] = None
    model_param: str = ""                # the parameter naming the model/endpoint ("" = no model)
    describe: str = ""                   # one line for `dataset plan` and the GUI

    def params(self, given: Optional[Mapping[str, Any]] = None) -> dict:
        """The stage's parameters: defaults overlaid with ``given``; an unknown key is a
        ConfigError naming it (and the stage)."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ConfigError(f"Stage '{self.name}' has no parameter '{unknown[0]}' "
                              f"(its parameters: {known})")
        out = dict(self.defaults)
        out.update(given)
        return out

    def model_id(self, params: Mapping[str, Any]) -> str:
        return str(params.get(self.model_param, "")) if self.model_param else ""


@dataclass
class Outcome:
    """What became of one task: its result or why it failed."""
    task: Task
    status: str                          # "ok" | "failed"
    result: Optional[dict] = None
    error: str = ""                      # one line, for people
    attempts: int = 1
    seconds: float = 0.0
    worker: str = ""                     # host:pid that ran it

    @property
    def key(self) -> str:
        return self.task.key


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"Parameter value {value!r} is not a finite number")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ConfigError(f"Parameter value {value!r} is not a plain value (text, number, list, table)")


def canonical_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def result_key(content_hash: str, stage: Stage, params: Mapping[str, Any], model_id: str = "",
               extra: Union[str, Sequence[str]] = ()) -> str:
    """The identity of a result: video content + stage (and its version) + parameters +
    model (+ the keys of the upstream results it was computed from). A rerun with the same
    key skips the work."""
    extra = [extra] if isinstance(extra, str) else list(extra)
    text = canonical_json({"video": content_hash, "stage": stage.name, "version": stage.version,
                           "params": dict(params), "model": model_id, "upstream": extra})
    return hashlib.blake2b(text.encode("ascii"), digest_size=16).hexdigest()


_REGISTRY: dict[str, Stage] = {}
_LOADERS: list[Callable[[], None]] = []


def register(stage: Stage) -> Stage:
    if (stage.fn is None) == (stage.fn_many is None):
        raise ValueError(f"stage {stage.name}: give exactly one of fn / fn_many")
    if stage.fn_many is not None and stage.batch < 1:
        raise ValueError(f"stage {stage.name}: batch must be >= 1")
    _REGISTRY[stage.name] = stage
    return stage


def add_loader(load: Callable[[], None]) -> None:
    """A function that imports and registers a group of stages when first needed."""
    _LOADERS.append(load)


def _load_all() -> None:
    while _LOADERS:
        _LOADERS.pop(0)()


def registered() -> dict[str, Stage]:
    _load_all()
    return dict(_REGISTRY)


def get_stage(name: str) -> Stage:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"Unknown stage '{name}' (known stages: {known})") from None


def _builtin_stages() -> None:
    from . import stages  # noqa: F401,PLC0415 (importing it adds the built-in stages' loaders)


add_loader(_builtin_stages)
