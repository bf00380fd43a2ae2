"""Loopback OpenAI-compatible servers (stdlib ``http.server``, one thread per request) that
answer, fail or misbehave on purpose, for the VLM concurrency and pool tests.

``LoopServer(behaviour)`` serves ``/v1/models`` and ``/v1/chat/completions``; for each chat
request ``behaviour(n, question)`` (``n`` counts requests from 0) returns one of
``("ok", text)``, ``("500", message)``, ``("garbage", body)``. The answer's usage reports
``prompt_tokens`` = the number in the question (``"q17"`` -> 17); a request with
``"stream": true`` gets the answer as server-sent events. ``gate`` (a
``threading.Barrier``) makes requests wait for each other (proves they overlap).
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopServer:
    def __init__(self, behaviour=None, gate: threading.Barrier | None = None) -> None:
        self.behaviour = behaviour or (lambda n, q: ("ok", f"answer to {q}"))
        self.gate = gate
        self.lock = threading.Lock()
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.questions: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes,
                      kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send(200, json.dumps({"data": [{"id": "loop-model"}]}).encode())

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                parts = payload["messages"][-1]["content"]
                question = [p["text"] for p in parts if p.get("type") == "text"][-1]
                with outer.lock:
                    n = outer.count
                    outer.count += 1
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    outer.questions.append(question)
                try:
                    if outer.gate is not None:
                        try:
                            outer.gate.wait(10)
                        except threading.BrokenBarrierError:
                            pass
                    kind, value = outer.behaviour(n, question)
                    if kind == "500":
                        self._send(500, json.dumps({"error": {"message": value}}).encode())
                    elif kind == "garbage":
                        self._send(200, value.encode())
                    else:
                        digits = re.findall(r"\d+", question)
                        usage = {"prompt_tokens": int(digits[-1]) if digits else 0,
                                 "completion_tokens": 1}
                        if payload.get("stream"):    # server-sent events, then [DONE]
                            events = [{"choices": [{"delta": {"content": value}}]},
                                      {"choices": [], "usage": usage}]
                            body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
                            self._send(200, (body + "data: [DONE]\n\n").encode(),
                                       "text/event-stream")
                        else:
                            body = {"choices": [{"message": {"content": value}}],
                                    "usage": usage}
                            self._send(200, json.dumps(body).encode())
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- real `transformers serve` processes -------------------------------------------------------
SERVE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "OMP_NUM_THREADS": "1",
             "TF_CPP_MIN_LOG_LEVEL": "3", "GLOG_minloglevel": "2"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """One `transformers serve` process of a local checkpoint on a free loopback port;
    its output goes to a log file so a failed start says why."""

    def __init__(self, ckpt, log_dir) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        port = free_port()
        self.root = f"http://127.0.0.1:{port}"
        self.url = self.root + "/v1"
        self.log = Path(log_dir) / f"serve-{port}.log"
        exe = Path(sys.executable).parent / "transformers"
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [str(exe), "serve", str(ckpt), "--host", "127.0.0.1", "--port", str(port),
                 "--device", "cpu"], env=dict(os.environ, **SERVE_ENV),
                stdout=fh, stderr=subprocess.STDOUT)

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def wait_ready(self, timeout_s: float = 240) -> None:
        import time
        import urllib.request

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("transformers serve exited: " + self._tail())
            try:
                with urllib.request.urlopen(self.root + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("transformers serve did not become ready: " + self._tail())

    def stop(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@contextlib.contextmanager
def serving(ckpt, log_dir, count: int = 1, timeout_s: float = 240):
    """``count`` servers of one checkpoint, started together (start-up is the slow part);
    yields the ``Served`` list and stops every one of them at the end."""
    servers: list[Served] = []
    try:
        for _ in range(count):
            servers.append(Served(ckpt, log_dir))
        for s in servers:
            s.wait_ready(timeout_s)
        yield servers
    finally:
        for s in servers:
            s.stop()
