"""Requests/s through one OpenAI-compatible server at concurrency 8 vs 1.

A loopback server (stdlib ``http.server``, one thread per connection) answers each chat
completion after ``--delay-ms`` (default 200 ms, a stand-in for a GPU server's latency).
The same requests (2 small frames each) go through ``models.vlm.many.generate_many`` on
one ``OpenAIBackend`` at concurrency 1 and at concurrency 8; the ratio of items/s is
printed (target: at least 6 on a machine with a few free cores).

    .venv/bin/python bench/bench_http_concurrency.py [--requests 32] [--delay-ms 200]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def serve(delay_s: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"data": [{"id": "bench-model"}]})

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(delay_s)                       # the "model" thinking
            self._send({"choices": [{"message": {"content": "A"}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 1}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 64
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    import numpy as np

    from models.vlm.many import Generated, generate_many
    from models.vlm.openai_http import OpenAIBackend
    from models.vlm.types import GenerationParams, VLMRequest, messages_for

    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--delay-ms", type=float, default=200.0)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    server = serve(args.delay_ms / 1000)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    rng = np.random.default_rng(0)
    requests = [VLMRequest(messages_for(f"What moves in clip {i}?"),
                           [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2)],
                           GenerationParams(max_new_tokens=4)) for i in range(args.requests)]
    backend = OpenAIBackend(url, model="bench-model", stream=False)
    backend.load()
    generate_many(backend, requests[:2], max_concurrency=2)          # warm-up
    rates = {}
    for conc in (1, args.concurrency):
        t0 = time.perf_counter()
        out = generate_many(backend, requests, max_concurrency=conc)
        took = time.perf_counter() - t0
        assert all(isinstance(o, Generated) for o in out), out
        rates[conc] = len(requests) / took
        print(f"concurrency {conc}: {len(requests)} requests in {took:.2f} s = "
              f"{rates[conc]:.2f} items/s")
    ratio = rates[args.concurrency] / rates[1]
    print(f"items/s at concurrency {args.concurrency} / concurrency 1 = {ratio:.2f} "
          f"(target >= 6)")
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
