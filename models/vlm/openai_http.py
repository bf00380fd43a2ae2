"""OpenAI-compatible HTTP backend (vLLM, SGLang, Ollama, LM Studio, ``transformers serve``).

Standard library only (``http.client``). Frames travel as base64 JPEG ``image_url`` parts of
the last user message. Streaming uses server-sent events. Connection errors and HTTP 5xx
are retried with exponential backoff before any answer text arrived; everything else
becomes a one-line ``VLMError``. The API key goes only into the Authorization header: it is
never part of ``info``, error messages, logs or saved provenance.
"""
from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import threading
import time
from typing import Iterator, Optional
from urllib.parse import urlsplit

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .types import AnswerStats, BackendInfo, VLMError, VLMRequest

RETRY_EXCEPTIONS = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)


def encode_frame(frame, fmt: str = "jpeg", quality: int = 90) -> str:
    """``data:`` URL of one RGB frame."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format=fmt.upper(), quality=quality)
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def chat_payload(request: VLMRequest, model: str, stream: bool, fmt: str = "jpeg") -> dict:
    images = [{"type": "image_url", "image_url": {"url": encode_frame(f, fmt)}}
              for f in request.frames]
    last_user = max(i for i, m in enumerate(request.messages) if m.get("role") == "user")
    messages = []
    for i, m in enumerate(request.messages):
        text = {"type": "text", "text": str(m.get("content", ""))}
        content = images + [text] if i == last_user else str(m.get("content", ""))
        messages.append({"role": m["role"], "content": content})
    p = request.params
    payload = {"model": model, "messages": messages, "max_tokens": p.max_new_tokens,
               "temperature": p.temperature, "top_p": p.top_p, "seed": p.seed, "stream": stream}
    if stream:
        payload["stream_options"] = {"include_usage": True}
    return payload


class _Server:
    """Where and how to reach the server (holds the key; never printed)."""

    def __init__(self, base_url: str, api_key: Optional[str], connect_timeout_s: float,
                 timeout_s: float) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise VLMError(f"'{base_url}' is not an http(s):// server URL")
        self.url = base_url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.prefix = parts.path
        self._key = api_key
        self.connect_timeout_s, self.timeout_s = connect_timeout_s, timeout_s

    def __repr__(self) -> str:
        return f"_Server({self.url!r}, api_key={'***' if self._key else None})"

    def connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.connect_timeout_s)
        conn.connect()
        conn.sock.settimeout(self.timeout_s)
        return conn

    def headers(self) -> dict:
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h


class OpenAIBackend:
    kind = "openai"

    def __init__(self, base_url: str, model: str = "", api_key: Optional[str] = None,
                 api_key_env: str = "", timeout_s: float = 120.0, connect_timeout_s: float = 5.0,
                 retries: int = 3, backoff_s: float = 0.5, stream: bool = True,
                 label: str = "") -> None:
        key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        self.server = _Server(base_url, key, connect_timeout_s, timeout_s)
        self.model, self.stream = model, stream
        self.retries, self.backoff_s = max(0, retries), backoff_s
        self.info = BackendInfo("openai", model, "", "", self.server.url, "",
                                label or f"{model or '?'} @ {self.server.url}")
        self.stats = AnswerStats()
        self.load_s = 0.0
        self._loaded = False

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.server.url!r}, model={self.model!r})"

    # -- protocol -------------------------------------------------------------------------------
    def load(self, ctx=NULL_CONTEXT) -> None:
        """Check the server answers ``GET /models``; pick its first model if none was named."""
        t0 = time.perf_counter()
        status, body = self._request("GET", "/models", None, ctx)
        data = _json(body, self.server.url)
        ids = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
        if not self.model:
            if not ids:
                raise VLMError(f"Server {self.server.url} lists no models; name one")
            self.model = ids[0]
        self.info.model_id = self.model
        self.info.label = self.info.label.replace("?", self.model, 1)
        self.load_s = time.perf_counter() - t0
        self._loaded = True

    def unload(self) -> None:
        self._loaded = False

    def generate(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Iterator[str]:
        request.validate()
        if not self.model:
            self.load(ctx)
        self.stats = AnswerStats(load_s=self.load_s)
        t0 = time.perf_counter()
        payload = chat_payload(request, self.model, self.stream)
        if self.stream:
            yield from self._stream(payload, ctx, t0)
        else:
            yield from self._whole(payload, ctx, t0)
        self.stats.total_s = time.perf_counter() - t0
        if ctx.cancelled:
            raise Cancelled("Generation cancelled by the user.")

    # -- non-streaming ------------------------------------------------------------------------------
    def _whole(self, payload: dict, ctx, t0: float) -> Iterator[str]:
        _status, body = self._request("POST", "/chat/completions", payload, ctx)
        data = _json(body, self.server.url)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise VLMError(f"Server {self.server.url} sent a reply without choices[0].message "
                           "(not an OpenAI-compatible response)") from None
        self.stats.ttft_s = time.perf_counter() - t0
        self._usage(data.get("usage"))
        self.info.revision = str(data.get("system_fingerprint") or "")
        if text:
            yield text

    # -- streaming --------------------------------------------------------------------------------
    def _stream(self, payload: dict, ctx, t0: float) -> Iterator[str]:
        conn, resp = self._open("POST", "/chat/completions", payload, ctx)
        chunks = 0
        try:
            for data in _sse_events(resp, self.server.url, ctx):
                self._usage(data.get("usage"))
                if data.get("system_fingerprint"):
                    self.info.revision = str(data["system_fingerprint"])
                text = _delta_text(data)
                if text:
                    if self.stats.ttft_s is None:
                        self.stats.ttft_s = time.perf_counter() - t0
                    chunks += 1
                    yield text
        finally:
            conn.close()
        if self.stats.completion_tokens is None and chunks:
            self.stats.completion_tokens = chunks  # servers without usage: one chunk ~ one token

    def _usage(self, usage) -> None:
        if isinstance(usage, dict):
            self.stats.prompt_tokens = usage.get("prompt_tokens", self.stats.prompt_tokens)
            self.stats.completion_tokens = usage.get("completion_tokens",
                                                     self.stats.completion_tokens)

    # -- HTTP with retries ------------------------------------------------------------------------
    def _request(self, method: str, path: str, payload, ctx) -> tuple[int, bytes]:
        conn, resp = self._open(method, path, payload, ctx)
        try:
            return resp.status, _read_all(resp, conn, self.server, ctx)
        finally:
            conn.close()

    def _open(self, method: str, path: str, payload, ctx):
        """Send the request; retry connection errors and 5xx; return (conn, 2xx response)."""
        body = json.dumps(payload).encode("utf-8") if payload is not None else None
        last = ""
        for attempt in range(self.retries + 1):
            ctx.check()
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                conn, resp = self._attempt(method, path, body, ctx)
            except socket.timeout:
                raise VLMError(f"Server {self.server.url} did not answer within "
                               f"{self.server.timeout_s:g} s") from None
            except (OSError, *RETRY_EXCEPTIONS) as exc:
                last = _conn_reason(exc)
                continue
            if resp.status < 300:
                return conn, resp
            text = _read_error(resp)
            conn.close()
            last = f"HTTP {resp.status} from {self.server.url}{path}: {text}"
            if resp.status < 500:
                raise VLMError(last)
        raise VLMError(f"{last} (after {self.retries + 1} attempts)"
                       if "HTTP" in last else
                       f"Cannot reach server {self.server.url}: {last} "
                       f"(after {self.retries + 1} attempts)")


    def _attempt(self, method: str, path: str, body, ctx):
        """Connect, send and wait for the status line on a helper thread (cancellable)."""
        held: list = []

        def call():
            held.append(self.server.connect())
            held[0].request(method, self.server.prefix + path, body=body,
                            headers=self.server.headers())
            return held[0], held[0].getresponse()

        return _cancellable(call, ctx, lambda: held and held[0].close())


def _cancellable(fn, ctx, on_cancel):
    """Run blocking ``fn`` on a daemon thread; if the job is cancelled meanwhile, call
    ``on_cancel`` (close the socket) and raise ``Cancelled`` at once."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 (re-raised on the caller's thread)
            box["error"] = exc

    worker = threading.Thread(target=run, name="vlm-http", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if ctx.cancelled:
            on_cancel()
            raise Cancelled("Generation cancelled by the user.")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _conn_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "the server closed the connection without answering"
    if isinstance(exc, socket.gaierror):
        return "unknown host name"
    return (str(exc) or type(exc).__name__).splitlines()[0]


def _read_error(resp) -> str:
    try:
        raw = resp.read(2000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return resp.reason or "error"
    try:
        err = json.loads(raw)
        msg = err.get("error", err) if isinstance(err, dict) else err
        if isinstance(msg, dict):
            msg = msg.get("message", msg)
        raw = str(msg)
    except ValueError:
        pass
    return " ".join(raw.split())[:200] or (resp.reason or "error")


def _read_all(resp, conn, server: _Server, ctx) -> bytes:
    """Read a whole body without blocking a cancel; slow or dropped servers -> one line."""
    try:
        return _cancellable(resp.read, ctx, conn.close)
    except socket.timeout:
        raise VLMError(f"Server {server.url} did not answer within {server.timeout_s:g} s") from None
    except (OSError, http.client.HTTPException):
        raise VLMError(f"Connection to {server.url} dropped before the answer was complete") from None


def _json(body: bytes, url: str) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise VLMError(f"Server {url} returned invalid JSON (not an OpenAI-compatible "
                       "server?)") from None
    if not isinstance(data, dict):
        raise VLMError(f"Server {url} returned JSON that is not an object")
    return data


def _sse_events(resp, url: str, ctx) -> Iterator[dict]:
    """JSON objects of a server-sent-event stream, until ``data: [DONE]`` (or the end of
    the stream after a choice reported its ``finish_reason``, as some servers do)."""
    finished = False
    while True:
        if ctx.cancelled:
            return
        try:
            line = resp.readline()
        except socket.timeout:
            raise VLMError(f"Server {url} stopped sending the answer (timed out)") from None
        except (OSError, http.client.HTTPException):
            raise VLMError(f"Connection to {url} dropped during the answer") from None
        if not line:
            if finished:
                return
            raise VLMError(f"Connection to {url} dropped during the answer (stream ended "
                           "without [DONE])")
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        event = _json(data, url)
        finished = finished or _finish_reason(event) is not None
        yield event


def _finish_reason(data: dict):
    try:
        return data["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _delta_text(data: dict) -> str:
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    delta = choice.get("delta") or choice.get("message") or {}
    return delta.get("content") or ""
