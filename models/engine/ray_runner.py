"""The Ray runner: a stage's tasks as Ray remote calls, on a local instance or a cluster.

``RayRunner(address="")`` starts a local Ray instance on loopback (``num_cpus`` CPUs, no
dashboard); any other address joins it ("auto", "ray://host:10001"). A remote call runs a
batch of tasks in a Ray worker, which imports the stage's module (it registers the stage)
and finds the stage by name. Stage errors are caught in the worker and retried there (our
attempts, recorded in the outcome); Ray's own retries (``max_retries``) are left for a
worker process that dies. At most ``max_in_flight`` calls are submitted at a time.

Ray is imported only here, lazily. Workers of a local instance get this checkout on their
``PYTHONPATH``; a cluster must have the project installed on its nodes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from ..errors import Cancelled, StudioError
from ..jobs import JobContext
from .runner import _batches, one_line, resolve_stage, run_batch, stage_modules
from .stage import Outcome, Stage, Task

__all__ = ["RayRunner", "RayUnavailable"]

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class RayUnavailable(StudioError):
    """Ray is not installed or the cluster cannot be reached."""


def _ray_batch(modules, stage_name: str, tasks: list, retries: int, stage=None) -> list:
    """Runs in a Ray worker: the outcomes of a batch (never raises for a stage error).
    ``stage`` comes by value only when it was defined in the driver's main script."""
    try:
        stage = stage or resolve_stage(stage_name, modules)
    except Exception as exc:  # noqa: BLE001 (the stage cannot be found there)
        return [Outcome(t, "failed", None, one_line(exc), 1, 0.0) for t in tasks]
    return run_batch(stage, tasks, JobContext(), retries)


def _token_mode_when_joining() -> None:
    """Ray 2.59+ starts clusters with token authentication, but a driver joining one by
    address only sends the token in token mode. With a token at hand (RAY_AUTH_TOKEN,
    RAY_AUTH_TOKEN_PATH or the default file that ``ray start`` writes) and no mode chosen,
    choose token mode; a cluster without authentication accepts such a driver too."""
    if os.environ.get("RAY_AUTH_MODE"):
        return
    default = os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    if (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or os.path.isfile(default)):
        os.environ["RAY_AUTH_MODE"] = "token"


class RayRunner:
    def __init__(self, address: str = "", num_cpus: Optional[int] = None,
                 max_in_flight: Optional[int] = None, max_retries: int = 3,
                 poll_s: float = 0.2, chunk: int = 1) -> None:
        if address:
            _token_mode_when_joining()       # read by Ray when it is imported
        try:
            import ray  # noqa: PLC0415
        except ImportError:
            raise RayUnavailable("The Ray runner needs the 'ray' package "
                                 "(pip install 'ray[data]')") from None
        self.ray = ray
        self.address, self.num_cpus = address, num_cpus
        self.max_retries, self.poll_s = max(0, int(max_retries)), poll_s
        self.chunk = max(1, int(chunk))    # tasks of a one-task stage per remote call
        self._owned = False
        if not ray.is_initialized():
            env = {"env_vars": {"PYTHONPATH": os.pathsep.join(
                p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH", "")) if p)}}
            try:
                if address:
                    ray.init(address=address, runtime_env=env, log_to_driver=False)
                else:
                    ray.init(num_cpus=num_cpus or 2, include_dashboard=False,
                             _node_ip_address="127.0.0.1", runtime_env=env,
                             log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 (connection errors of many kinds)
                raise RayUnavailable(f"Cannot start or join Ray"
                                     f"{' at ' + address if address else ''}: "
                                     f"{one_line(exc)}") from None
            self._owned = True
        cpus = int(ray.cluster_resources().get("CPU", 1) or 1)
        self.max_in_flight = int(max_in_flight or max(4, 2 * cpus))
        self._remote = ray.remote(_ray_batch)

    def _options(self, stage: Stage) -> dict:
        opts: dict[str, Any] = {"max_retries": self.max_retries, "retry_exceptions": False}
        if stage.resource == "gpu" and self.ray.cluster_resources().get("GPU", 0) >= 1:
            opts["num_gpus"] = 1
        elif stage.resource == "endpoint":
            opts["num_cpus"] = 0.25        # waiting on a server, not computing
        else:
            opts["num_cpus"] = 1
        return opts

    def map(self, stage: Stage, tasks: Iterable[Task], ctx: JobContext,
            retries: int = 0) -> Iterator[Outcome]:
        ray = self.ray
        remote = self._remote.options(**self._options(stage))
        modules = stage_modules(stage)
        by_value = None if modules else stage    # a stage of the main script: pickled whole
        size = stage.batch if stage.fn_many is not None else self.chunk
        work = _batches(tasks, size)
        inflight: dict = {}
        exhausted = False
        try:
            while True:
                while not exhausted and len(inflight) < self.max_in_flight and not ctx.cancelled:
                    batch = next(work, None)
                    if batch is None:
                        exhausted = True
                        break
                    inflight[remote.remote(modules, stage.name, batch, retries, by_value)] = batch
                if ctx.cancelled:
                    raise Cancelled("Cancelled by the user.")
                if not inflight:
                    return
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    batch = inflight.pop(ref)
                    try:
                        outs = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 (Ray gave up: worker died each time)
                        outs = [Outcome(t, "failed", None, f"Ray task failed: {one_line(exc)}",
                                        self.max_retries + 1, 0.0) for t in batch]
                    yield from outs
        finally:
            for ref in inflight:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 (already finished or gone)
                    pass

    def close(self) -> None:
        if self._owned and self.ray.is_initialized():
            self.ray.shutdown()
        self._owned = False
