"""The model behind a stage's model parameter, one per spec per worker process.

``backend_for(spec, endpoints)``:
- ``"rule"``: the rule-based describer;
- ``"endpoint:NAME"``: an OpenAI-compatible backend for that [[endpoints]] entry;
- ``"endpoints"``: every configured endpoint: ``models.vlm.pool.EndpointPool`` when the VLM
  layer has it, else a simple round-robin here (``RoundRobinEndpoints``);
- anything else: a local checkpoint folder (``TransformersBackend``, loaded lazily).
"""
from __future__ import annotations

import copy
import json
import queue
import threading
from typing import Optional, Sequence

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .stage import ConfigError

__all__ = ["backend_for", "RoundRobinEndpoints"]

_CACHE: dict = {}
_LOCK = threading.Lock()


def _openai(ep: dict):
    from ..vlm.openai_http import OpenAIBackend  # noqa: PLC0415

    return OpenAIBackend(ep["url"], ep.get("model", ""), api_key_env=ep.get("api_key_env", ""),
                         timeout_s=float(ep.get("timeout_s", 120.0)), label=ep.get("name", ""))


class RoundRobinEndpoints:
    """Requests spread over several endpoints, ``concurrency`` at a time on each; a request
    that fails on one endpoint is tried once on the next."""

    kind = "endpoints"

    def __init__(self, endpoints: Sequence[dict]) -> None:
        if not endpoints:
            raise ConfigError("No [[endpoints]] configured")
        self.endpoints = [dict(e) for e in endpoints]
        self._local = threading.local()
        self.info = _openai(self.endpoints[0]).info

    def _backend(self, i: int):
        per = getattr(self._local, "backends", None)
        if per is None:
            per = self._local.backends = {}
        if i not in per:
            per[i] = _openai(self.endpoints[i])
        return per[i]

    def load(self, ctx=NULL_CONTEXT) -> None:
        pass

    def generate_many(self, requests, ctx=NULL_CONTEXT, max_concurrency: Optional[int] = None):
        from ..vlm.many import Generated  # noqa: PLC0415
        from ..vlm.types import VLMError  # noqa: PLC0415

        n_eps = len(self.endpoints)
        slots = [i for i, e in enumerate(self.endpoints) for _ in range(max(1, int(e.get("concurrency", 1))))]
        if max_concurrency:
            slots = slots[:max(1, int(max_concurrency))]
        work: queue.Queue = queue.Queue()
        for j, r in enumerate(requests):
            work.put((j, r))
        out: list = [None] * len(requests)

        def run(slot: int) -> None:
            while not ctx.cancelled:
                try:
                    j, request = work.get_nowait()
                except queue.Empty:
                    return
                err = None
                for k in range(min(2, n_eps)):
                    i = (slot + j + k) % n_eps if k else slot
                    b = self._backend(i)
                    try:
                        text = "".join(b.generate(request, ctx))
                        out[j] = Generated(text, copy.copy(b.stats), b.info,
                                           self.endpoints[i].get("name", ""))
                        break
                    except Cancelled:
                        return
                    except VLMError as exc:
                        err = exc
                else:
                    out[j] = err

        threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in slots]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ctx.check()
        return [o if o is not None else VLMError("not answered") for o in out]


def _make(spec: str, endpoints: list):
    if spec == "rule":
        from ..vlm.rule_backend import RuleBackend  # noqa: PLC0415

        return RuleBackend()
    if spec.startswith("endpoint:"):
        name = spec.split(":", 1)[1]
        for e in endpoints:
            if e.get("name") == name:
                return _openai(e)
        raise ConfigError(f"No endpoint named '{name}' is configured")
    if spec == "endpoints":
        try:
            from ..vlm.pool import EndpointPool  # type: ignore  # noqa: PLC0415
        except ImportError:
            return RoundRobinEndpoints(endpoints)
        return EndpointPool(endpoints)
    from ..vlm.local import TransformersBackend  # noqa: PLC0415

    return TransformersBackend(spec)


def backend_for(model_spec: str, endpoints: Sequence[dict] = ()):
    """The backend for ``model_spec``, made once per process and reused."""
    eps = [dict(e) for e in endpoints]
    key = (str(model_spec), json.dumps(eps, sort_keys=True, default=str))
    with _LOCK:
        b = _CACHE.get(key)
        if b is None:
            b = _CACHE[key] = _make(str(model_spec), eps)
        return b
