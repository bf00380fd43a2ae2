"""OpenAI-compatible HTTP backend against a real `transformers serve` and a loopback
server that misbehaves on purpose (HTTP 500, invalid JSON, dropped connection, slowness)."""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from models.errors import Cancelled
from models.jobs import CancelToken, JobContext
from models.vlm.many import Generated, generate_one, text_only
from models.vlm.openai_http import OpenAIBackend
from models.vlm.types import GenerationParams, VLMError, VLMRequest, messages_for
from tests.vlm_fixtures import tiny_checkpoint
from tests.vlm_servers import free_port, serving

SECRET = "sk-test-never-log-me"


def _request(n_frames: int = 2, max_new_tokens: int = 6) -> VLMRequest:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(n_frames)]
    return VLMRequest(messages_for("What moves?", "Be brief."), frames,
                      GenerationParams(max_new_tokens=max_new_tokens))


# -- a real `transformers serve` ---------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ckpt = tiny_checkpoint("qwen2_5_vl")
    with serving(ckpt, tmp_path_factory.mktemp("serve_logs"), 1, 120) as (server,):
        yield server.url, str(ckpt)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_transformers_serve_answers(served, stream):
    url, model = served
    b = OpenAIBackend(url, model=model, stream=stream, api_key=SECRET)
    b.load()
    *chunks, done = list(b.generate(_request()))
    text = "".join(chunks)
    assert isinstance(done, Generated) and done.text == text and done.endpoint == url
    st = done.stats
    assert text and st.completion_tokens == 6                # max_tokens honoured
    assert st.prompt_tokens > 20                             # two images were tokenised
    assert st.ttft_s is not None and st.ttft_s <= st.total_s
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
        mode = self.path.split("/")[1]
        if mode in ("endless", "dripbody", "driphead"):
            return getattr(self, "_" + mode)(None)
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


    # -- hostile: every loop is bounded and ends by itself when the client hangs up -------------
    hangups: dict = {}

    def _write_for(self, pieces, pause_s: float = 0.0) -> int:
        """Write ``pieces`` until the client hangs up; record how many got through."""
        sent = 0
        try:
            for piece in pieces:
                self.wfile.write(piece)
                self.wfile.flush()
                sent += 1
                if pause_s:
                    time.sleep(pause_s)
        except OSError:
            type(self).hangups[self.path.split("/")[1]] = sent
        self.close_connection = True
        return sent

    def _endless(self, payload):             # a /models body that never ends (64 MiB at most)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self._write_for([b'{"data": [' + b" " * 65536] + [b" " * 65536] * 1024)

    def _endlessline(self, payload):         # an event line that never ends (64 MiB at most)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self._write_for([b'data: {"choices": [{"delta": {"content": "'] + [b"x" * 65536] * 1024)

    def _dripsse(self, payload):             # one byte of an event every 0.1 s (20 s at most)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        event = b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'
        self._write_for([event[i:i + 1] for i in range(len(event))] * 4, pause_s=0.1)

    def _dripbody(self, payload):            # a declared body sent a byte every 0.1 s
        body = json.dumps({"data": [{"id": "m"}], "pad": " " * 200}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._write_for([body[i:i + 1] for i in range(len(body))], pause_s=0.1)

    def _driphead(self, payload):            # even the status line arrives a byte at a time
        head = (b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 200 + b"\r\n"
                b"Content-Length: 2\r\n\r\n{}")
        self._write_for([head[i:i + 1] for i in range(len(head))], pause_s=0.1)

    def _chatty(self, payload):              # ignores max_tokens: 1000 tokens, 5 ms apart
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        event = b'data: {"choices": [{"delta": {"content": "tok "}}]}\n\n'
        if self._write_for([event] * 1000 + [b"data: [DONE]\n\n"], pause_s=0.005) == 1001:
            type(self).hangups["chatty"] = None              # the client read everything

    def _hugechunk(self, payload):           # one "token" of 200 000 characters
        if payload.get("stream"):
            return self._sse(["ab" * 100_000], done=True)
        self._send(200, json.dumps({"choices": [{"message": {"content": "ab" * 100_000}}]})
                   .encode())

    def _content(self, payload):             # message content of the type the path names
        kind = self.path.split("/")[2]
        content = {"int": 42, "dict": {"text": "A"}, "parts": [{"type": "text", "text": "A"},
                                                               {"type": "text", "text": "B"}],
                   "null": None}[kind]
        if payload.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"data: " + json.dumps({"choices": [{"delta": {"content": content}}]})
                             .encode() + b"\n\ndata: [DONE]\n\n")
            self.close_connection = True
            return
        self._send(200, json.dumps({"choices": [{"message": {"content": content}}]}).encode())

    def _echo(self, payload):                # an error page that repeats what it was sent
        said = f"bad key {self.headers.get('Authorization')} for {self.path}"
        self._send(401, json.dumps({"error": {"message": said}}).encode())


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
    text = generate_one(b, _request(n_frames=3)).text
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
    assert generate_one(b, _request()).text == "A"
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


# -- bounds: nothing a server sends is read without a limit -------------------------------------
def test_endless_models_body_is_cut_at_the_body_limit(loop):
    b = _b(f"{loop}/endless/v1", max_body_bytes=1024 ** 2)
    b.model = ""
    with pytest.raises(VLMError, match=r"sent a reply larger than 1 MiB; stopped") as err:
        b.load()
    assert 1024 ** 2 < err.value.bytes_read <= 1024 ** 2 + 65536  # read no further than the limit


def test_endless_event_line_is_cut_at_the_line_limit(loop):
    b = _b(f"{loop}/endlessline/v1", max_line_bytes=64 * 1024)
    with pytest.raises(VLMError, match=r"event line longer than 65,536 bytes") as err:
        list(b.generate(_request()))
    assert err.value.bytes_read <= 64 * 1024 + 1


@pytest.mark.parametrize("mode,stream", [("dripsse", True), ("dripbody", False),
                                         ("driphead", False)])
def test_drip_feed_hits_the_whole_request_deadline(loop, mode, stream):
    """Each byte comes well within the per-read timeout; the whole request still ends."""
    b = _b(f"{loop}/{mode}/v1", stream=stream, timeout_s=1.0, deadline_s=1.5, api_key=SECRET)
    with pytest.raises(VLMError, match=r"did not finish within 1.5 s") as err:
        if mode == "dripsse":
            list(b.generate(_request()))
        else:
            b.model = ""
            b.load()
    assert SECRET not in str(err.value) and "\n" not in str(err.value)


def test_stream_past_max_new_tokens_is_closed(loop):
    _Handler.hangups.pop("chatty", "absent")
    b = _b(f"{loop}/chatty/v1")
    *chunks, done = list(b.generate(_request(max_new_tokens=5)))
    assert chunks == ["tok "] * 5 and done.stats.completion_tokens == 5
    deadline = time.monotonic() + 30
    while "chatty" not in _Handler.hangups and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _Handler.hangups.get("chatty") is not None     # we hung up; it did not finish


@pytest.mark.parametrize("stream", [True, False])
def test_huge_chunk_is_cut_to_the_token_budget(loop, stream):
    b = _b(f"{loop}/hugechunk/v1", stream=stream)
    text = "".join(text_only(b.generate(_request(max_new_tokens=2))))
    assert 0 < len(text) <= 2 * 64


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind,expect", [("int", None), ("dict", None), ("parts", "AB"),
                                         ("null", "")])
def test_non_string_content(loop, stream, kind, expect):
    b = _b(f"{loop}/content/{kind}/v1", stream=stream)
    if expect is None:
        with pytest.raises(VLMError, match=r"message content that is not text"):
            list(b.generate(_request()))
    else:
        assert generate_one(b, _request()).text == expect


# -- credentials in the URL ---------------------------------------------------------------------
CRED_URL = "http://alice:s3cr3t-pw@127.0.0.1:{port}/{mode}/v1?api_key=qk-999&x=1"


def _cred_url(loop: str, mode: str) -> str:
    return CRED_URL.format(port=loop.rsplit(":", 1)[1], mode=mode)


def _no_secret(text: str) -> None:
    for secret in ("s3cr3t-pw", "qk-999", "alice", SECRET):
        assert secret not in text


def test_url_credentials_are_used_but_never_shown(loop):
    import base64

    _Handler.seen.clear()
    b = _b(_cred_url(loop, "ok"), stream=False)
    assert generate_one(b, _request()).text == "A"
    path, headers, _payload = _Handler.seen[-1]
    assert path == "/ok/v1/chat/completions?api_key=qk-999&x=1"        # query kept
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cr3t-pw").decode()
    _no_secret(repr(b) + json.dumps(b.info.as_dict()) + b.server.url)
    assert b.info.device == "http://***@127.0.0.1:%s/ok/v1?api_key=***&x=1" % loop.rsplit(":", 1)[1]


@pytest.mark.parametrize("mode", ["echo", "err500", "endless"])
def test_url_credentials_redacted_in_errors(loop, mode):
    b = _b(_cred_url(loop, mode), max_body_bytes=1024 ** 2)
    with pytest.raises(VLMError) as err:
        list(b.generate(_request()))
    _no_secret(str(err.value))
    assert "\n" not in str(err.value) and "***" in str(err.value)
    b = _b(_cred_url(loop, mode).replace("alice:s3cr3t-pw@", ""), api_key=SECRET)
    with pytest.raises(VLMError) as err:                   # a key the server echoes back
        list(b.generate(_request()))
    _no_secret(str(err.value))


def test_bad_url_with_credentials_is_redacted():
    with pytest.raises(VLMError) as err:
        OpenAIBackend("http://alice:s3cr3t-pw@127.0.0.1:notaport/v1")
    _no_secret(str(err.value))
    with pytest.raises(VLMError) as err:
        OpenAIBackend("ftp://alice:s3cr3t-pw@example/v1?api_key=qk-999")
    _no_secret(str(err.value))


# -- the CLI against hostile servers ---------------------------------------------------------
def test_cli_no_stream_non_string_content_is_one_error_line(loop, clip, tmp_path, capsys):
    from cli import run_cli

    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", f"{loop}/content/int/v1#m",
                  "--no-stream", "--frames", "2", "--project", str(tmp_path / "p.aastudio"),
                  "What happens?"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and len(err.splitlines()) == 1
    assert "not text" in err


def test_cli_saved_answer_and_errors_carry_no_credentials(loop, clip, tmp_path, capsys):
    from cli import run_cli
    from models.store import Repository

    proj = str(tmp_path / "p.aastudio")
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", _cred_url(loop, "ok") + "#m",
                  "--frames", "2", "--save", "--json", "--project", proj, "What happens?"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert rc == 0 and data["answer"] == "Hello there"
    _no_secret(out)
    _no_secret(json.dumps(Repository(proj).answer(data["id"]), default=str))
    rc = run_cli(["ask", str(clip("arm_wrestling.mp4")), "--model", _cred_url(loop, "echo") + "#m",
                  "--frames", "2", "--project", proj, "What happens?"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: HTTP 401") and len(err.strip().splitlines()) == 1
    _no_secret(err)
