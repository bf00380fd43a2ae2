"""``EndpointPool``: one backend over one or several OpenAI-compatible endpoints.

Each endpoint (``Endpoint``: url, model, api key environment variable, concurrency) is an
``OpenAIBackend`` of its own. A request goes to the least-loaded endpoint that is up and
below its concurrency cap (it waits while every endpoint is at its cap). Failover:

* the endpoint cannot be reached or stops answering (connection refused or reset, a
  timeout, a connection dropped mid-answer; ``ServerUnreachable``): it is marked down for
  ``cooldown_s`` and the request is retried on another endpoint. After the cooldown the
  endpoint gets requests again (if it still fails it goes down again);
* the endpoint answers with HTTP 5xx or something that is not an answer (invalid JSON, no
  choices; ``ServerError``): the request is retried on another endpoint (the same one only
  when there is no other), at most ``max_attempts`` times in all, then that request ends
  with a ``VLMError`` naming the last failure;
* any other ``VLMError`` (HTTP 4xx, an invalid request) is the request's own: no retry;
* every endpoint down: the request (and every one after it, until a cooldown ends) fails
  at once with a ``PoolDown`` error that names each endpoint and why it is down.

The pool keeps no per-request state: ``generate`` yields the answer's text and then its
``Generated`` (``info`` of the endpoint's model, ``endpoint`` = the URL that answered,
credentials redacted); ``generate_many`` runs requests on threads, as many in flight as
the endpoints' concurrencies add up to. ``info`` names the pool.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence, Union

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .many import Generated, Result, concurrency, generate_one
from .openai_http import OpenAIBackend, ServerError, ServerUnreachable, run_threaded
from .types import BackendInfo, VLMError, VLMRequest, first_line


@dataclass
class Endpoint:
    url: str
    model: str = ""
    api_key_env: str = ""              # the key's environment variable (never the key)
    concurrency: int = 4
    name: str = ""


class PoolDown(VLMError):
    """Every endpoint of the pool is down."""


class _Member:
    def __init__(self, endpoint: Endpoint, backend: OpenAIBackend) -> None:
        self.endpoint, self.backend = endpoint, backend
        self.name = endpoint.name or backend.server.url
        self.cap = max(1, int(endpoint.concurrency))
        self.in_flight = 0
        self.down_until = 0.0
        self.reason = ""
        self.served = 0                # answers it gave (for status and tests)

    def up(self, now: float) -> bool:
        return self.down_until <= now


class EndpointPool:
    kind = "pool"

    def __init__(self, endpoints: Sequence[Union[Endpoint, dict]], cooldown_s: float = 30.0,
                 max_attempts: int = 3, label: str = "", stream: bool = False,
                 timeout_s: float = 120.0, connect_timeout_s: float = 5.0,
                 deadline_s: Optional[float] = None, retries_per_endpoint: int = 0,
                 backoff_s: float = 0.5) -> None:
        eps = [e if isinstance(e, Endpoint) else Endpoint(**e) for e in endpoints]
        if not eps:
            raise VLMError("An endpoint pool needs at least one endpoint")
        extra: dict[str, Any] = {} if deadline_s is None else {"deadline_s": deadline_s}
        self.members = [_Member(e, OpenAIBackend(
            e.url, model=e.model, api_key_env=e.api_key_env, stream=stream,
            timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
            retries=retries_per_endpoint, backoff_s=backoff_s, label=e.name, **extra))
            for e in eps]
        self.cooldown_s = float(cooldown_s)
        self.max_attempts = max(1, int(max_attempts))
        self._cond = threading.Condition()
        models = sorted({m.endpoint.model for m in self.members if m.endpoint.model})
        urls = ", ".join(m.backend.server.url for m in self.members)
        self.info = BackendInfo("pool", "|".join(models), "", "", urls, "",
                                label or f"pool of {len(self.members)} endpoint"
                                         f"{'s' if len(self.members) != 1 else ''}")
        self.load_s = 0.0

    def __repr__(self) -> str:
        return f"EndpointPool({[m.backend.server.url for m in self.members]!r})"

    @property
    def capacity(self) -> int:
        return sum(m.cap for m in self.members)

    # -- protocol -------------------------------------------------------------------------------
    def load(self, ctx=NULL_CONTEXT) -> None:
        """Ask every endpoint for its models (``GET /models``); those that do not answer
        are marked down. Fails only when none answers."""
        t0 = time.perf_counter()
        for m in self.members:
            ctx.check()
            if m.backend.model:
                continue                         # named: checked by its first request
            try:
                m.backend.load(ctx)
            except Cancelled:
                raise
            except VLMError as exc:
                self._mark_down(m, exc)
        if not any(m.backend.model for m in self.members):
            raise self._all_down()
        if not self.info.model_id:
            self.info.model_id = "|".join(sorted({m.backend.model for m in self.members
                                                  if m.backend.model}))
        self.load_s = time.perf_counter() - t0

    def unload(self) -> None:
        for m in self.members:
            m.backend.unload()

    def generate(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Iterator[Union[str, Generated]]:
        """The whole answer (one chunk: a retried request never streams half an answer),
        then its ``Generated``."""
        done = self.answer(request, ctx)
        if done.text:
            yield done.text
        yield done

    def generate_many(self, requests, ctx=NULL_CONTEXT,
                      max_concurrency: Optional[int] = None) -> list[Result]:
        requests = list(requests)
        if not requests:
            return []
        workers = concurrency(max_concurrency, self.capacity, len(requests))
        return run_threaded(self, requests, ctx, workers)

    # -- one request with failover ----------------------------------------------------------------
    def answer(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Generated:
        request.validate()
        server_errors = 0
        avoid: set[int] = set()              # endpoints that sent a bad answer to this request
        tries = 0
        while True:
            tries += 1
            if tries > self.max_attempts + 2 * len(self.members) + 8:
                raise VLMError(f"No endpoint of the {self.info.label} could answer "
                               f"(tried {tries - 1} times)")
            member = self._acquire(ctx, avoid)
            try:
                done = generate_one(member.backend, request, ctx)
            except ServerUnreachable as exc:
                self._mark_down(member, exc)
                continue
            except ServerError as exc:
                server_errors += 1
                avoid.add(id(member))
                if server_errors >= self.max_attempts:
                    raise VLMError(f"{first_line(exc)} (gave up after {server_errors} "
                                   f"attempts on the {self.info.label})") from None
                continue
            finally:
                self._release(member)
            with self._cond:
                member.served += 1
            return done

    def _acquire(self, ctx, avoid: set) -> _Member:
        """The least-loaded endpoint that is up and below its cap (not one in ``avoid``
        unless nothing else is up); waits while all are busy; ``PoolDown`` when none is up."""
        with self._cond:
            while True:
                ctx.check()
                now = time.monotonic()
                up = [m for m in self.members if m.up(now)]
                if not up:
                    raise self._all_down()
                fresh = [m for m in up if id(m) not in avoid] or up
                free = [m for m in fresh if m.in_flight < m.cap]
                if free:
                    best = min(free, key=lambda m: (m.in_flight / m.cap, m.in_flight))
                    best.in_flight += 1
                    return best
                self._cond.wait(0.05)

    def _release(self, member: _Member) -> None:
        with self._cond:
            member.in_flight -= 1
            self._cond.notify_all()

    def _mark_down(self, member: _Member, exc: BaseException) -> None:
        with self._cond:
            member.down_until = time.monotonic() + self.cooldown_s
            member.reason = first_line(exc)
            self._cond.notify_all()

    def _all_down(self) -> PoolDown:
        names = "; ".join(f"{m.name} ({m.reason or 'down'})" for m in self.members)
        return PoolDown(f"Every endpoint of the {self.info.label} is down: {names}")

    def status(self) -> list[dict]:
        """Per endpoint: url, in flight, cap, up, why down, answers served."""
        now = time.monotonic()
        with self._cond:
            return [{"name": m.name, "url": m.backend.server.url, "in_flight": m.in_flight,
                     "cap": m.cap, "up": m.up(now), "reason": m.reason, "served": m.served}
                    for m in self.members]
