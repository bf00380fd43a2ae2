"""The model behind a stage's model parameter, one per spec per worker process.

``backend_for(spec, endpoints)``:
- ``"rule"``: the rule-based describer;
- ``"endpoints"``: every configured [[endpoints]] row behind one ``EndpointPool``
  (least-loaded dispatch, per-endpoint concurrency, failover when one dies);
- ``"endpoint:NAME"``: a pool of that one configured endpoint (same retries and bounds);
- anything else: what the desktop accepts as a model (``models.vlm.specs``): a server URL
  ``http(s)://host:port/v1#model``, ``vllm:<folder>``, a local checkpoint folder or a
  Hugging Face cache id (loaded lazily, never with remote code).
"""
from __future__ import annotations

import json
import threading
from typing import Sequence

from .stage import ConfigError

__all__ = ["backend_for"]

_CACHE: dict = {}
_LOCK = threading.Lock()
_POOL_KEYS = ("url", "model", "api_key_env", "concurrency", "name")


def _pool(rows: list, label: str):
    from ..vlm.pool import EndpointPool  # noqa: PLC0415

    timeout = max((float(e.get("timeout_s", 120.0)) for e in rows), default=120.0)
    return EndpointPool([{k: e[k] for k in _POOL_KEYS if k in e} for e in rows],
                        timeout_s=timeout, label=label)


def _make(spec: str, endpoints: list):
    if spec == "endpoints":
        if not endpoints:
            raise ConfigError("model 'endpoints' needs at least one [[endpoints]] entry")
        return _pool(endpoints, "endpoints")
    if spec.startswith("endpoint:"):
        name = spec.split(":", 1)[1]
        rows = [e for e in endpoints if e.get("name") == name]
        if not rows:
            known = ", ".join(sorted(str(e.get("name")) for e in endpoints)) or "none"
            raise ConfigError(f"No endpoint named '{name}' is configured (endpoints: {known})")
        return _pool(rows, name)
    from ..vlm.specs import backend_for as from_spec  # noqa: PLC0415

    return from_spec(spec)


def backend_for(model_spec: str, endpoints: Sequence[dict] = ()):
    """The backend for ``model_spec``, made once per process and reused."""
    eps = [dict(e) for e in endpoints]
    key = (str(model_spec), json.dumps(eps, sort_keys=True, default=str))
    with _LOCK:
        b = _CACHE.get(key)
        if b is None:
            b = _CACHE[key] = _make(str(model_spec), eps)
        return b
