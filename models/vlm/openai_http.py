"""OpenAI-compatible HTTP backend (vLLM, SGLang, Ollama, LM Studio, ``transformers serve``).

Standard library only (``http.client``). Frames travel as base64 JPEG ``image_url`` parts of
the last user message. Streaming uses server-sent events. Connection errors and HTTP 5xx
are retried with exponential backoff before any answer text arrived; everything else
becomes a one-line ``VLMError``.

Nothing a server sends is read without a bound: a reply body (or a whole stream) is cut
at ``max_body_bytes``, one event line at ``max_line_bytes``, the whole request (connect,
retries and every read) at ``deadline_s`` (``timeout_s`` is the longest silence between
two reads), and a stream is closed once it goes past ``max_new_tokens``.

Credentials never leave the request: the API key goes only into the Authorization header,
user info of the URL (``http://user:key@host/v1``) into HTTP Basic auth when there is no
key, and none of them, nor key-like query parameters (``?api_key=...``), appear in
``info``, error messages, logs or saved provenance (``redact``).
"""
from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Iterator, Optional, Union
from urllib.parse import unquote, urlsplit

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .many import Generated, Result, concurrency
from .types import AnswerStats, BackendInfo, VLMError, VLMRequest

MAX_BODY_BYTES = 32 * 1024 ** 2      # one reply, or everything one stream sends
MAX_LINE_BYTES = 1024 ** 2           # one server-sent-event line
DEADLINE_S = 600.0                   # a whole request, however the server paces its bytes
MAX_CHARS_PER_TOKEN = 64             # an answer longer than this per allowed token is cut
_READ_CHUNK = 64 * 1024

_SECRET_NAME = r"[^=&#\s]*(?:key|token|secret|passw|pwd|auth|sig|credential)[^=&#\s]*"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@")
_SECRET_PARAM = re.compile(r"(?i)([?&;]" + _SECRET_NAME + r"=)[^&#\s]*")


def redact(text: str) -> str:
    """``text`` with the credentials of any URL in it replaced by ``***``: user info
    (``http://user:key@host`` -> ``http://***@host``) and the values of key-like query
    parameters (``?api_key=...``, ``&token=...``)."""
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", str(text)))


class ServerUnreachable(VLMError):
    """The server could not be reached or stopped answering: connection refused or reset,
    a timeout, a connection dropped mid-answer (an endpoint pool marks it down)."""


class ServerError(VLMError):
    """The server answered, but with HTTP 5xx or something that is not an OpenAI-compatible
    answer (invalid JSON, no choices, non-text content, oversized): worth another server."""


RETRY_EXCEPTIONS = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)


def encode_frame(frame, fmt: str = "jpeg", quality: int = 90) -> str:
    """``data:`` URL of one RGB frame."""
    from PIL import Image  # noqa: PLC0415

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
    """Where and how to reach the server (holds the credentials; never printed)."""

    def __init__(self, base_url: str, api_key: Optional[str], connect_timeout_s: float,
                 timeout_s: float) -> None:
        raw = (base_url or "").strip()
        try:
            parts = urlsplit(raw)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise VLMError(f"'{redact(raw)}' is not an http(s):// server URL")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, port
        self.prefix = parts.path.rstrip("/")
        self.query = parts.query
        self.url = redact(raw.split("#", 1)[0].rstrip("/"))   # what messages and info show
        self._key = api_key
        self._basic = None
        if not api_key and (parts.username or parts.password):
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            self._basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        secrets = [api_key, parts.username, parts.password,
                   unquote(parts.username or ""), unquote(parts.password or "")]
        secrets += [m.group(0).split("=", 1)[1] for m in _SECRET_PARAM.finditer("?" + parts.query)]
        self._secrets = sorted({x for x in secrets if x and len(x) >= 3}, key=len, reverse=True)
        self.connect_timeout_s, self.timeout_s = connect_timeout_s, timeout_s

    def __repr__(self) -> str:
        return f"_Server({self.url!r}, api_key={'***' if self._key else None})"

    def scrub(self, text: str) -> str:
        """``text`` without any credential of this server (in URLs or verbatim)."""
        text = redact(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def target(self, path: str) -> str:
        return self.prefix + path + (f"?{self.query}" if self.query else "")

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
        elif self._basic:
            h["Authorization"] = f"Basic {self._basic}"
        return h


class _Deadline:
    """The time limit of one whole request (connect, retries, every read). A timer shuts
    the request's sockets down when it runs out, so a server that drips a byte now and
    then (each read within ``timeout_s``) cannot keep the request alive."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._socks: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock) -> None:
        """Shut ``sock`` down when time runs out (the socket itself: a connection hands it
        over to its response and forgets it when the server says ``Connection: close``)."""
        with self._lock:
            self._socks.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            _shutdown(sock)

    def stop(self) -> None:
        self._timer.cancel()


def _shutdown(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class OpenAIBackend:
    kind = "openai"

    def __init__(self, base_url: str, model: str = "", api_key: Optional[str] = None,
                 api_key_env: str = "", timeout_s: float = 120.0, connect_timeout_s: float = 5.0,
                 retries: int = 3, backoff_s: float = 0.5, stream: bool = True,
                 label: str = "", deadline_s: float = DEADLINE_S,
                 max_body_bytes: int = MAX_BODY_BYTES,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
        self.server = _Server(base_url, key, connect_timeout_s, timeout_s)
        self.model, self.stream = model, stream
        self.retries, self.backoff_s = max(0, retries), backoff_s
        self.deadline_s = float(deadline_s)
        self.max_body_bytes, self.max_line_bytes = int(max_body_bytes), int(max_line_bytes)
        self.concurrency = 8                # default requests in flight for generate_many
        self.info = BackendInfo("openai", model, "", "", self.server.url, "",
                                self.server.scrub(label) if label
                                else f"{model or '?'} @ {self.server.url}")
        self.load_s = 0.0
        self._loaded = False
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.server.url!r}, model={self.model!r})"

    # -- protocol -------------------------------------------------------------------------------
    def load(self, ctx=NULL_CONTEXT) -> None:
        """Check the server answers ``GET /models``; pick its first model if none was named."""
        t0 = time.perf_counter()
        call = _Call()
        with self._scrubbed(call):
            _status, body = self._request("GET", "/models", None, ctx, call)
            data = _json(body, self.server.url)
            listed = data.get("data")
            ids = [m["id"] for m in (listed if isinstance(listed, list) else [])
                   if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
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

    def generate(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Iterator[Union[str, Generated]]:
        """Yield the answer's text chunks, then its ``Generated``. Everything about this
        answer lives in a per-call ``_Call``: concurrent calls share nothing but ``info``."""
        request.validate()
        if not self.model:
            with self._load_lock:
                if not self.model:
                    self.load(ctx)
        call = _Call(AnswerStats(load_s=self.load_s), self.info.revision)
        t0 = time.perf_counter()
        payload = chat_payload(request, self.model, self.stream)
        limit = request.params.max_new_tokens
        parts: list[str] = []
        with self._scrubbed(call):
            chunks = (self._stream(payload, ctx, t0, limit, call) if self.stream
                      else self._whole(payload, ctx, t0, limit, call))
            for chunk in chunks:
                parts.append(chunk)
                yield chunk
        call.stats.total_s = time.perf_counter() - t0
        if ctx.cancelled:
            raise Cancelled("Generation cancelled by the user.")
        if call.revision:
            self.info.revision = call.revision          # the server's latest fingerprint
        yield Generated("".join(parts), call.stats, replace(self.info, revision=call.revision),
                        self.server.url)

    def generate_many(self, requests, ctx=NULL_CONTEXT,
                      max_concurrency: Optional[int] = None) -> list[Result]:
        """Answer ``requests`` with up to ``max_concurrency`` (default ``self.concurrency``)
        in flight, each on its own connection (``http.client`` blocks, so one thread per
        request in flight); every bound, timeout and retry of a single request holds for
        each. Results come back in request order; a failed request gives its ``VLMError``."""
        requests = list(requests)
        if not requests:
            return []
        if not self.model:
            try:
                with self._load_lock:
                    if not self.model:
                        self.load(ctx)
            except VLMError as exc:             # no server to ask: every request says why
                return [exc for _ in requests]
        workers = concurrency(max_concurrency, self.concurrency, len(requests))
        return run_threaded(self, requests, ctx, workers)

    def _scrubbed(self, call: Optional["_Call"] = None):
        """Errors leave without any credential of the server in their message."""
        return _Scrubbed(self.server, call)

    # -- non-streaming ------------------------------------------------------------------------------
    def _whole(self, payload: dict, ctx, t0: float, limit: int, call: "_Call") -> Iterator[str]:
        _status, body = self._request("POST", "/chat/completions", payload, ctx, call)
        data = _json(body, self.server.url)
        try:
            message = data["choices"][0]["message"]
            content = message.get("content") if isinstance(message, dict) else None
        except (KeyError, IndexError, TypeError):
            raise ServerError(f"Server {self.server.url} sent a reply without choices[0].message "
                           "(not an OpenAI-compatible response)") from None
        text = _content_text(content, self.server.url)[:limit * MAX_CHARS_PER_TOKEN]
        call.stats.ttft_s = time.perf_counter() - t0
        _usage(data.get("usage"), call.stats)
        call.revision = _fingerprint(data, call.revision)
        if text:
            yield text

    # -- streaming --------------------------------------------------------------------------------
    def _stream(self, payload: dict, ctx, t0: float, limit: int, call: "_Call") -> Iterator[str]:
        """Yield the answer's text; close the connection once the server goes past ``limit``
        tokens (counted as content chunks or the usage it reports) or past
        ``MAX_CHARS_PER_TOKEN`` characters per allowed token."""
        deadline = _Deadline(self.deadline_s)
        stats = call.stats
        conn = None
        chunks = chars = 0
        over = False
        try:
            conn, resp = self._open("POST", "/chat/completions", payload, ctx, deadline)
            for data in self._events(resp, ctx, call):
                _usage(data.get("usage"), stats)
                call.revision = _fingerprint(data, call.revision)
                text = _delta_text(data, self.server.url)
                if text:
                    chunks += 1
                    room = limit * MAX_CHARS_PER_TOKEN - chars
                    if chunks > limit or len(text) > room:
                        text, over = (text[:room] if chunks <= limit else ""), True
                    if text:
                        if stats.ttft_s is None:
                            stats.ttft_s = time.perf_counter() - t0
                        chars += len(text)
                        yield text
                if over or (stats.completion_tokens or 0) > limit:
                    over = True
                    break                       # the server ignores max_tokens: hang up
            if deadline.expired:
                raise self._too_slow()
        except (VLMError, OSError, http.client.HTTPException):
            if deadline.expired:
                raise self._too_slow() from None
            raise
        finally:
            deadline.stop()
            if conn is not None:
                conn.close()
        if over:
            stats.completion_tokens = limit
        elif stats.completion_tokens is None and chunks:
            stats.completion_tokens = chunks  # servers without usage: one chunk ~ one token

    def _events(self, resp, ctx, call: "_Call") -> Iterator[dict]:
        """``_sse_events`` of a response, counting the bytes read against the body limit."""
        def count(n: int) -> None:
            call.bytes_read += n
            if call.bytes_read > self.max_body_bytes:
                raise ServerError(f"Server {self.server.url} sent more than "
                               f"{_fmt_size(self.max_body_bytes)} for one answer; stopped")

        return _sse_events(resp, self.server.url, ctx, self.max_line_bytes, count)

    def _too_slow(self) -> VLMError:
        return ServerUnreachable(f"Server {self.server.url} did not finish within {self.deadline_s:g} s "
                        "(the limit for one whole request)")

    # -- HTTP with retries ------------------------------------------------------------------------
    def _request(self, method: str, path: str, payload, ctx, call: "_Call") -> tuple[int, bytes]:
        deadline = _Deadline(self.deadline_s)
        conn = None
        try:
            conn, resp = self._open(method, path, payload, ctx, deadline)
            body = self._read_all(resp, conn, ctx, call)
            if deadline.expired:
                raise self._too_slow()
            return resp.status, body
        except (VLMError, OSError, http.client.HTTPException):
            if deadline.expired:
                raise self._too_slow() from None
            raise
        finally:
            deadline.stop()
            if conn is not None:
                conn.close()

    def _open(self, method: str, path: str, payload, ctx, deadline: _Deadline):
        """Send the request; retry connection errors and 5xx; return (conn, 2xx response)."""
        body = json.dumps(payload).encode("utf-8") if payload is not None else None
        last = ""
        for attempt in range(self.retries + 1):
            ctx.check()
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            if deadline.expired:
                raise self._too_slow()
            try:
                conn, resp = self._attempt(method, path, body, ctx, deadline)
            except socket.timeout:
                raise ServerUnreachable(f"Server {self.server.url} did not answer within "
                               f"{self.server.timeout_s:g} s") from None
            except (OSError, *RETRY_EXCEPTIONS) as exc:
                if deadline.expired:
                    raise self._too_slow() from None
                last = _conn_reason(exc)
                continue
            except http.client.HTTPException as exc:
                raise ServerError(f"Server {self.server.url} sent an invalid HTTP response "
                               f"({type(exc).__name__})") from None
            if resp.status < 300:
                return conn, resp
            text = self.server.scrub(_read_error(resp))
            conn.close()
            last = f"HTTP {resp.status} from {self.server.url}{path}: {text}"
            if resp.status < 500:
                raise VLMError(last)
        if "HTTP" in last:
            raise ServerError(f"{last} (after {self.retries + 1} attempts)")
        raise ServerUnreachable(f"Cannot reach server {self.server.url}: {last} "
                                f"(after {self.retries + 1} attempts)")

    def _attempt(self, method: str, path: str, body, ctx, deadline: _Deadline):
        """Connect, send and wait for the status line on a helper thread (cancellable)."""
        held: list = []

        def call():
            held.append(self.server.connect())
            deadline.watch(held[0].sock)
            held[0].request(method, self.server.target(path), body=body,
                            headers=self.server.headers())
            return held[0], held[0].getresponse()

        return _cancellable(call, ctx, lambda: held and held[0].close())

    def _read_all(self, resp, conn, ctx, call: "_Call") -> bytes:
        """Read a whole body (at most ``max_body_bytes``) without blocking a cancel; slow,
        dropped or endless replies -> one line."""
        url, limit = self.server.url, self.max_body_bytes
        too_big = ServerError(f"Server {url} sent a reply larger than {_fmt_size(limit)}; stopped")

        def read() -> bytes:
            length = resp.getheader("Content-Length") or ""
            if length.strip().isdigit() and int(length) > limit:
                raise too_big
            buf = bytearray()
            while True:
                piece = resp.read1(_READ_CHUNK)
                if not piece:
                    if resp.length:              # fewer bytes than Content-Length promised
                        raise http.client.IncompleteRead(bytes(buf), resp.length)
                    return bytes(buf)
                buf += piece
                call.bytes_read += len(piece)
                if len(buf) > limit:
                    raise too_big

        try:
            return _cancellable(read, ctx, conn.close)
        except socket.timeout:
            raise ServerUnreachable(f"Server {url} did not answer within "
                           f"{self.server.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException):
            raise ServerUnreachable(f"Connection to {url} dropped before the answer was "
                           "complete") from None


class _Call:
    """What one request gathers while it runs (never shared between requests)."""

    def __init__(self, stats: Optional[AnswerStats] = None, revision: str = "") -> None:
        self.stats = stats or AnswerStats()
        self.revision = revision
        self.bytes_read = 0                 # body bytes of the reply (or stream) read so far


def _usage(usage, stats: AnswerStats) -> None:
    if isinstance(usage, dict):
        for key in ("prompt_tokens", "completion_tokens"):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(stats, key, value)


class _Scrubbed:
    """Context manager: a ``VLMError`` leaving it carries no credential of ``server``
    (and, as ``bytes_read``, how many body bytes its request read)."""

    def __init__(self, server: _Server, call: Optional[_Call] = None) -> None:
        self.server, self.call = server, call

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, VLMError):
            clean = self.server.scrub(str(exc))
            if clean != str(exc):
                new = type(exc)(clean)
                new.bytes_read = self.call.bytes_read if self.call else 0
                raise new from None
            exc.bytes_read = self.call.bytes_read if self.call else 0
        return False


def run_threaded(backend, requests: list, ctx, workers: int) -> list[Result]:
    """``generate`` of each request on a pool of ``workers`` threads; results in request
    order (a ``VLMError`` in a failed request's place). A cancel stops waiting at once:
    the running requests see the cancel themselves and close their connections."""
    from .many import generate_one  # noqa: PLC0415

    out: list = [None] * len(requests)

    def one(i: int) -> None:
        if ctx.cancelled:
            return
        try:
            out[i] = generate_one(backend, requests[i], ctx)
        except Cancelled:
            pass
        except VLMError as exc:
            out[i] = exc

    pool = ThreadPoolExecutor(workers, thread_name_prefix="vlm-many")
    try:
        futures = [pool.submit(one, i) for i in range(len(requests))]
        for f in futures:
            while True:
                ctx.check()
                try:
                    f.result(timeout=0.05)
                    break
                except TimeoutError:
                    continue
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    ctx.check()
    return out


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
    except (ValueError, RecursionError):
        pass
    return " ".join(raw.split())[:200] or (resp.reason or "error")


def _fmt_size(n: int) -> str:
    return f"{n / 1024 ** 2:g} MiB" if n >= 1024 ** 2 else f"{n:,} bytes"


def _json(body: bytes, url: str) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ServerError(f"Server {url} returned invalid JSON (not an OpenAI-compatible "
                       "server?)") from None
    if not isinstance(data, dict):
        raise ServerError(f"Server {url} returned JSON that is not an object")
    return data


def _sse_events(resp, url: str, ctx=NULL_CONTEXT, max_line: int = MAX_LINE_BYTES,
                count=None) -> Iterator[dict]:
    """JSON objects of a server-sent-event stream, until ``data: [DONE]`` (or the end of
    the stream after a choice reported its ``finish_reason``, as some servers do).
    ``resp`` only needs ``readline(limit)``; no line is read past ``max_line`` bytes and
    ``count(n)`` hears of every line read (it may raise to stop the stream)."""
    finished = False
    while True:
        if ctx.cancelled:
            return
        try:
            line = resp.readline(max_line + 1)
        except socket.timeout:
            raise ServerUnreachable(f"Server {url} stopped sending the answer (timed out)") from None
        except (OSError, http.client.HTTPException):
            raise ServerUnreachable(f"Connection to {url} dropped during the answer") from None
        if count is not None:
            count(len(line))
        if not line:
            if finished:
                return
            raise ServerUnreachable(f"Connection to {url} dropped during the answer (stream ended "
                           "without [DONE])")
        if len(line) > max_line:
            raise ServerError(f"Server {url} sent an event line longer than "
                           f"{_fmt_size(max_line)}; stopped")
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


def _fingerprint(data: dict, current: str) -> str:
    value = data.get("system_fingerprint")
    return value if isinstance(value, str) and value else current


def _content_text(content, url: str) -> str:
    """Text of a message's ``content``: a string, nothing (None), or a list of content
    parts whose text parts are joined; anything else is not an answer this app can show."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
                texts.append(part.get("text", ""))
            else:
                break
        else:
            return "".join(texts)
    raise ServerError(f"Server {url} sent message content that is not text "
                   f"({type(content).__name__}); not an OpenAI-compatible response")


def _delta_text(data: dict, url: str = "the server") -> str:
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    if not isinstance(choice, dict):
        return ""
    delta = choice.get("delta") or choice.get("message") or {}
    if not isinstance(delta, dict):
        return ""
    return _content_text(delta.get("content"), url)
