"""OpenAI-compatible HTTP backend against a real `transformers serve` and a loopback
server that misbehaves on purpose (HTTP 500, invalid JSON, dropped connection, slowness)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from models.errors import Cancelled
from models.jobs import CancelToken, JobContext
from models.vlm.openai_http import OpenAIBackend
from models.vlm.types import GenerationParams, VLMError, VLMRequest, messages_for
from tests.vlm_fixtures import tiny_checkpoint

SECRET = "sk-test-never-log-me"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(n_frames: int = 2, max_new_tokens: int = 6) -> VLMRequest:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(n_frames)]
    return VLMRequest(messages_for("What moves?", "Be brief."), frames,
                      GenerationParams(max_new_tokens=max_new_tokens))


# -- a real `transformers serve` ---------------------------------------------------------------
@pytest.fixture(scope="module")
def served():
    ckpt = tiny_checkpoint("qwen2_5_vl")
    port = free_port()
    exe = Path(sys.executable).parent / "transformers"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    proc = subprocess.Popen([str(exe), "serve", str(ckpt), "--host", "127.0.0.1", "--port",
                             str(port), "--device", "cpu"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url + "/health", 120)
        yield url + "/v1", str(ckpt)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_ready(proc, health: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("transformers serve exited: " + proc.stderr.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(health, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("transformers serve did not become ready")


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_transformers_serve_answers(served, stream):
    url, model = served
    b = OpenAIBackend(url, model=model, stream=stream, api_key=SECRET)
    b.load()
    chunks = list(b.generate(_request()))
    text = "".join(chunks)
    assert text and b.stats.completion_tokens == 6           # max_tokens honoured
    assert b.stats.prompt_tokens > 20                        # two images were tokenised
    assert b.stats.ttft_s is not None and b.stats.ttft_s <= b.stats.total_s
    if stream:
        assert len(chunks) >= 2                              # arrived in pieces
    assert b.info.model_id == model and b.info.kind == "openai"
    assert SECRET not in repr(b) and SECRET not in json.dumps(b.info.as_dict())


def test_transformers_serve_model_picked_from_list(served):
    url, model = served
    b = OpenAIBackend(url)
    b.load()
    assert b.model == model and b.load_s > 0


# -- a loopback server that misbehaves ---------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []
    flaky_calls = {"n": 0}
    slow_done = threading.Event()

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype="application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(200, json.dumps({"data": [{"id": "loop-model"}]}).encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length))
        type(self).seen.append((self.path, dict(self.headers), payload))
        mode = self.path.split("/")[1]
        getattr(self, "_" + mode)(payload)

    def _ok(self, payload):
        if payload.get("stream"):
            return self._sse(["Hello", " there"], done=True)
        body = {"choices": [{"message": {"content": "A"}}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 1}}
        self._send(200, json.dumps(body).encode())

    def _sse(self, parts, done: bool):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for p in parts:
            self.wfile.write(b"data: " + json.dumps({"choices": [{"delta": {"content": p}}]})
                             .encode() + b"\n\n")
            self.wfile.flush()
        if done:
            self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True

    def _err500(self, payload):
        self._send(500, json.dumps({"error": {"message": "CUDA out of memory"}}).encode())

    def _badjson(self, payload):
        self._send(200, b"<html>surprise</html>", "text/html")

    def _drop(self, payload):
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _dropmid(self, payload):
        self._sse(["partial"], done=False)

    def _slow(self, payload):
        time.sleep(1.5)
        type(self).slow_done.set()
        try:
            self._ok(payload)
        except OSError:          # the client gave up (timeout or cancel): expected
            self.close_connection = True

    def _flaky(self, payload):
        type(self).flaky_calls["n"] += 1
        if type(self).flaky_calls["n"] == 1:
            return self._send(503, b'{"error": "warming up"}')
        self._ok(payload)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients hang up on purpose here
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def loop():
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _b(url: str, **kw) -> OpenAIBackend:
    kw.setdefault("retries", 2)
    kw.setdefault("backoff_s", 0.01)
    return OpenAIBackend(url, model="loop-model", **kw)


@pytest.mark.parametrize("stream", [True, False])
def test_loopback_ok_sends_images_and_key(loop, stream):
    _Handler.seen.clear()
    b = _b(f"{loop}/ok/v1", stream=stream, api_key=SECRET)
    text = "".join(b.generate(_request(n_frames=3)))
    assert text == ("Hello there" if stream else "A")
    path, headers, payload = _Handler.seen[-1]
    assert path == "/ok/v1/chat/completions"
    assert headers["Authorization"] == f"Bearer {SECRET}"
    parts = payload["messages"][-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 3 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert payload["messages"][0] == {"role": "system", "content": "Be brief."}
    assert payload["max_tokens"] == 6 and payload["seed"] == 0


@pytest.mark.parametrize("mode,stream,pattern", [
    ("err500", False, r"HTTP 500 .*CUDA out of memory \(after 3 attempts\)"),
    ("err500", True, r"HTTP 500"),
    ("badjson", False, r"returned invalid JSON"),
    ("drop", False, r"closed the connection without answering \(after 3 attempts\)"),
    ("dropmid", True, r"dropped during the answer"),
    ("slow", False, r"did not answer within 0.3 s"),
])
def test_loopback_failures_are_clear(loop, mode, stream, pattern):
    b = _b(f"{loop}/{mode}/v1", stream=stream, timeout_s=0.3, api_key=SECRET)
    with pytest.raises(VLMError, match=pattern) as err:
        list(b.generate(_request()))
    assert SECRET not in str(err.value) and "\n" not in str(err.value)


def test_retry_with_backoff_recovers_from_503(loop):
    _Handler.flaky_calls["n"] = 0
    b = _b(f"{loop}/flaky/v1", stream=False)
    assert "".join(b.generate(_request())) == "A"
    assert _Handler.flaky_calls["n"] == 2


def test_server_down(loop):
    b = _b(f"http://127.0.0.1:{free_port()}/v1", retries=1)
    with pytest.raises(VLMError, match=r"Cannot reach server .*connection refused"):
        b.load()


@pytest.mark.parametrize("stream", [True, False])
def test_cancel_while_waiting_for_slow_server(loop, stream):
    token = CancelToken()
    b = _b(f"{loop}/slow/v1", stream=stream, timeout_s=5)
    _Handler.slow_done.clear()
    threading.Timer(0.2, token.cancel).start()
    with pytest.raises(Cancelled):
        list(b.generate(_request(), JobContext(token=token)))
    assert not _Handler.slow_done.is_set()     # gave up before the server answered


def test_bad_url_and_empty_question():
    with pytest.raises(VLMError, match="not an http"):
        OpenAIBackend("ftp://example/v1")
    with pytest.raises(VLMError, match="question is empty"):
        list(_b("http://127.0.0.1:9/v1").generate(VLMRequest(messages_for(""))))
