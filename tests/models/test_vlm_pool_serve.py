"""The endpoint pool against real processes: two `transformers serve` servers on loopback
with a tiny checkpoint (started once for the module), one of them killed mid-run, and a
misbehaving loopback server (HTTP 500 / invalid JSON) beside a real one."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from models.vlm.many import Generated, generate_many
from models.vlm.pool import Endpoint, EndpointPool
from models.vlm.types import GenerationParams, VLMRequest, messages_for
from tests.vlm_fixtures import tiny_checkpoint
from tests.vlm_servers import LoopServer, serving


@pytest.fixture(scope="module")
def two_served(tmp_path_factory):
    """Two servers, started together (start-up is the slow part)."""
    ckpt = tiny_checkpoint("qwen2_5_vl")
    with serving(ckpt, tmp_path_factory.mktemp("serve_logs"), 2, 180) as servers:
        yield [(s.proc, s.url) for s in servers], str(ckpt)


def _requests(n: int) -> list[VLMRequest]:
    rng = np.random.default_rng(0)
    return [VLMRequest(messages_for(f"What moves in clip {i}?"),
                       [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(2)],
                       GenerationParams(max_new_tokens=3)) for i in range(n)]


def _pool(servers, model, **kw) -> EndpointPool:
    return EndpointPool([Endpoint(url, model, concurrency=1, name=f"serve{k}")
                         for k, (_proc, url) in enumerate(servers)], **kw)


def test_pool_over_two_real_servers_uses_both(two_served):
    servers, model = two_served
    pool = _pool(servers, model)
    out = generate_many(pool, _requests(12))
    assert all(isinstance(o, Generated) for o in out), out
    used = {o.endpoint for o in out}
    assert used == {url for _p, url in servers}                     # both answered
    assert all(o.info.model_id == model and o.stats.completion_tokens for o in out)


def test_bad_loopback_server_beside_a_real_one(two_served):
    servers, model = two_served
    bad_answer = lambda n, q: ("500", "overloaded") if n % 2 else ("garbage", "{oops")  # noqa: E731
    with LoopServer(bad_answer) as bad:
        pool = EndpointPool([Endpoint(bad.url, model, concurrency=1, name="bad"),
                             Endpoint(servers[0][1], model, concurrency=1, name="real")])
        out = generate_many(pool, _requests(6))
        assert bad.count >= 1                                        # it got requests
    assert all(isinstance(o, Generated) and o.endpoint == servers[0][1] for o in out), out


def test_killing_one_server_mid_run_finishes_everything_on_the_other(two_served):
    """Keep this test last in the module: it kills one of the servers."""
    servers, model = two_served
    (victim, victim_url), (_survivor, survivor_url) = servers
    pool = _pool(servers, model, cooldown_s=600)
    result: dict = {}
    run = threading.Thread(target=lambda: result.setdefault(
        "out", generate_many(pool, _requests(24))))
    run.start()
    deadline = time.monotonic() + 120
    served_at_kill = None
    while time.monotonic() < deadline and run.is_alive():
        st = {s["url"]: s["served"] for s in pool.status()}
        if st[victim_url] >= 2 and st[survivor_url] >= 1:            # both busy: mid-run
            served_at_kill = sum(st.values())
            victim.kill()
            break
        time.sleep(0.01)
    run.join(180)
    assert not run.is_alive()
    assert served_at_kill is not None and served_at_kill < 24, "the run ended before the kill"
    out = result["out"]
    assert all(isinstance(o, Generated) for o in out), out           # nothing lost
    status = {s["url"]: s for s in pool.status()}
    assert not status[victim_url]["up"] and status[survivor_url]["up"]
    assert status[survivor_url]["served"] + status[victim_url]["served"] == 24
    assert sum(o.endpoint == survivor_url for o in out) > 24 - served_at_kill - 1
