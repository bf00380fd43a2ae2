"""JobService: results/progress on the GUI thread, cancel, errors, the single model worker;
UserSettings round trip; actions table resolves."""
from __future__ import annotations

import json
import threading
import time

import pytest

from models.errors import Cancelled, VideoError

TIMEOUT = 10000


@pytest.fixture
def jobs(qtbot):
    from app.jobs import JobService

    service = JobService()
    yield service
    service.shutdown()
    qtbot.wait(20)  # let queued deliveries of finished jobs run before the service goes


def test_result_and_progress_arrive_on_the_gui_thread(qtbot, jobs):
    got, progress, threads = [], [], []

    def work(n, ctx):
        threads.append(threading.current_thread().name)
        for i in range(n):
            ctx.progress(i + 1, n)
        return n * 2

    def on_result(value):
        got.append((value, threading.current_thread() is threading.main_thread()))

    with qtbot.waitSignal(jobs.jobFinished, timeout=TIMEOUT):
        handle = jobs.submit(work, 5, on_result=on_result,
                             on_progress=lambda d, t, _m: progress.append((d, t)))
    assert got == [(10, True)]
    assert progress[-1] == (5, 5)  # the final progress is never throttled away
    assert threads[0].startswith("aa-cpu")
    assert handle.done


def test_cancel_stops_a_running_job(qtbot, jobs):
    started = threading.Event()
    errors = []

    def loop(ctx):
        started.set()
        while True:
            ctx.check()
            time.sleep(0.005)

    handle = jobs.submit(loop, on_error=errors.append, on_result=lambda _r: errors.append("result"))
    assert started.wait(5)
    with qtbot.waitSignal(jobs.jobFinished, timeout=TIMEOUT):
        handle.cancel()
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)
    assert handle.done and handle.cancelled


def test_errors_reach_on_error_or_job_failed(qtbot, jobs):
    errors = []

    def bad(ctx):
        raise VideoError("clip.mp4 has no decodable frames")

    with qtbot.waitSignal(jobs.jobFinished, timeout=TIMEOUT):
        jobs.submit(bad, on_error=errors.append)
    assert isinstance(errors[0], VideoError)
    with qtbot.waitSignal(jobs.jobFailed, timeout=TIMEOUT) as blocker:
        jobs.submit(lambda ctx: 1 / 0)
    assert blocker.args[1].startswith("ZeroDivisionError")


def test_model_jobs_run_one_at_a_time(qtbot, jobs):
    active, peak, lock = [0], [0], threading.Lock()

    def model_job(ctx):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.03)
        with lock:
            active[0] -= 1
        return threading.current_thread().name

    names = []
    handles = [jobs.submit(model_job, kind="model", on_result=names.append) for _ in range(3)]
    qtbot.waitUntil(lambda: all(h.done for h in handles), timeout=TIMEOUT)
    assert peak[0] == 1 and len(set(names)) == 1 and names[0].startswith("aa-model")


def test_decode_lanes_are_one_thread_per_key(qtbot, jobs):
    names = {}  # results of different lanes may arrive in any order: keep them by job
    hs = [jobs.submit(lambda ctx: threading.current_thread().name, kind="decode", lane=k,
                      on_result=lambda name, i=i: names.__setitem__(i, name))
          for i, k in enumerate(("clip-a", "clip-a", "clip-b"))]
    qtbot.waitUntil(lambda: all(h.done for h in hs) and len(names) == 3, timeout=TIMEOUT)
    assert names[0] == names[1] and names[0] != names[2]
    with pytest.raises(ValueError):
        jobs.submit(lambda ctx: None, kind="gpu")


def test_user_settings_round_trip_and_bad_file(tmp_path):
    from app.settings import MAX_RECENT, UserSettings

    s = UserSettings(tmp_path / "cfg" / "settings.json")
    for i in range(MAX_RECENT + 3):
        s.add_recent_file(tmp_path / f"clip{i}.mp4")
    s.add_recent_file(tmp_path / "clip5.mp4")
    s.add_recent_folder(tmp_path)
    again = UserSettings(tmp_path / "cfg" / "settings.json")
    assert again.recent_files()[0].endswith("clip5.mp4")
    assert len(again.recent_files()) == MAX_RECENT
    assert again.recent_folders() == [str(tmp_path)]
    (tmp_path / "cfg" / "settings.json").write_text("{not json")
    assert UserSettings(tmp_path / "cfg" / "settings.json").recent_files() == []


def test_settings_default_location_follows_xdg(monkeypatch, tmp_path):
    from app.settings import UserSettings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    s = UserSettings()
    s.add_recent_folder(tmp_path)
    data = json.loads((tmp_path / "ActionArtStudio" / "settings.json").read_text())
    assert data["recent_folders"] == [str(tmp_path)]


def test_every_action_resolves_to_a_callable(qtbot, ctx_targets):
    from app import actions

    ids = [a.id for a in actions.ACTIONS]
    assert len(ids) == len(set(ids))
    for spec in actions.ACTIONS:
        ref = spec.handler.partition(":")[0]
        name, _, method = ref.partition(".")
        obj = actions.target(name, ctx_targets)
        assert callable(getattr(obj, method)), spec.id
    with pytest.raises(KeyError):
        actions.target("nowhere", ctx_targets)


@pytest.fixture
def ctx_targets(project, tmp_path):
    from app.context import AppContext
    from app.settings import UserSettings

    c = AppContext(project, settings=UserSettings(tmp_path / "s.json"))

    class Window:  # the window-side handlers the table names
        ctx = c

        def __getattr__(self, name):
            return lambda *a: None
    from widgets.main_window import action_targets

    yield action_targets(Window())
    c.shutdown()


def test_project_fallback_to_memory(tmp_path):
    from app.context import open_project

    bad = tmp_path / "notes.aastudio"
    bad.write_text("plain text, not SQLite")
    repo, warning = open_project(bad)
    assert repo.path == ":memory:" and "not an ActionArt project" in warning
    assert "nothing will be saved" in warning
    repo.set_setting("k", 1)  # the in-memory project works
    assert repo.get_setting("k") == 1
    repo2, warning2 = open_project(tmp_path)  # a folder
    assert repo2.path == ":memory:" and "folder" in warning2


def test_cancel_before_start_reports_cancelled_and_finishes(qtbot, jobs):
    gate = threading.Event()
    blocker = jobs.submit(lambda ctx: gate.wait(5), kind="model")
    errors = []
    queued = jobs.submit(lambda ctx: "ran", kind="model", on_result=errors.append,
                         on_error=errors.append)
    queued.cancel()
    gate.set()
    qtbot.waitUntil(lambda: queued.done and blocker.done, timeout=TIMEOUT)
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)
    assert jobs.active() == []


def _gated(started: threading.Event, release: threading.Event):
    def job(ctx):
        started.set()
        assert release.wait(10), "never released"
        return threading.current_thread().name
    return job


def test_model_jobs_on_different_lanes_run_at_the_same_time(qtbot, jobs):
    """A long job on one server does not block a job on another server or the local model:
    each waits for the other to have started (deadlocks if they were serialised)."""
    a_started, b_started, c_started = threading.Event(), threading.Event(), threading.Event()
    names = {}

    def waits_for(other: threading.Event, mine: threading.Event, key):
        def job(ctx):
            mine.set()
            ok = other.wait(10)
            names[key] = threading.get_ident()
            return ok
        return job

    results = []
    h1 = jobs.submit(waits_for(b_started, a_started, "a"), kind="model",
                     lane="endpoint:http://127.0.0.1:1/v1", on_result=results.append)
    h2 = jobs.submit(waits_for(a_started, b_started, "b"), kind="model",
                     lane="endpoint:http://127.0.0.1:2/v1", on_result=results.append)
    h3 = jobs.submit(waits_for(a_started, c_started, "c"), kind="model", lane="model:cpu",
                     on_result=results.append)
    qtbot.waitUntil(lambda: h1.done and h2.done and h3.done, timeout=TIMEOUT)
    assert results == [True, True, True]               # each saw the others start
    assert len(set(names.values())) == 3


def test_model_jobs_on_one_lane_are_serialised(qtbot, jobs):
    first_started, release = threading.Event(), threading.Event()
    second_ran = threading.Event()
    h1 = jobs.submit(_gated(first_started, release), kind="model", lane="endpoint:http://x/v1")
    h2 = jobs.submit(lambda ctx: second_ran.set(), kind="model", lane="endpoint:http://x/v1")
    assert first_started.wait(10)
    # the second job is queued behind the first: it cannot have run while the first holds
    # the lane (checked before releasing it; no timing involved)
    assert not second_ran.is_set() and not h2.done
    release.set()
    qtbot.waitUntil(lambda: h1.done and h2.done, timeout=TIMEOUT)
    assert second_ran.is_set()


def test_lane_for_keys_by_device_and_endpoint():
    from app.jobs import lane_for
    from models.vlm.openai_http import OpenAIBackend
    from models.vlm.pool import Endpoint, EndpointPool
    from models.vlm.rule_backend import RuleBackend
    from models.vlm.specs import BackendChoice

    assert lane_for(BackendChoice("transformers", {"model": "x", "device": "cpu"})) == "model:cpu"
    assert lane_for(BackendChoice("transformers", {"model": "x", "device": "cuda"})) == "model:cuda:0"
    assert lane_for(BackendChoice("openai", {"base_url": "http://h:1/v1/", "model": "m"})) \
        == "endpoint:http://h:1/v1"
    assert lane_for(OpenAIBackend("http://u:secret@h:2/v1", model="m")) == "endpoint:http://***@h:2/v1"
    assert lane_for(RuleBackend()) == "model:cpu" and lane_for("rule") == "model:cpu"
    assert lane_for("http://h:3/v1#m") == "endpoint:http://h:3/v1"
    pool = EndpointPool([Endpoint("http://a:1/v1", "m"), Endpoint("http://b:1/v1", "m")])
    assert lane_for(pool) == "endpoint:http://a:1/v1,http://b:1/v1"
    mixed = [BackendChoice("openai", {"base_url": "http://h:1/v1"}),
             BackendChoice("transformers", {"model": "x", "device": "cuda:1"})]
    assert lane_for(mixed) == "model:cuda:1"          # the local device is the scarce one
