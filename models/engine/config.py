"""A dataset run's configuration (TOML or JSON), checked completely before anything runs.

```toml
[run]
manifest = "clips/"        # folder | list.csv | list.jsonl | Hugging Face datasets folder
video_column = "video"
output = "runs/demo"
retries = 2
[runner]
kind = "local"             # local | ray
address = ""
workers = 2
[[endpoints]]
name = "a"
url = "http://127.0.0.1:8001/v1"
model = "qwen2.5-vl-7b"
[stages.poses]
[stages.p1_describe]
model = "endpoints"
```
Relative paths are relative to the config file's folder. An unknown key, an unknown stage,
a parameter a stage does not have or a value of the wrong type is a ``ConfigError`` naming
it. Stages run in dependency order; a stage whose ``needs`` are not listed gets them added
with their default parameters.
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ..bounded_read import parse_json, read_text
from .stage import ConfigError, Stage, canonical_json, get_stage, registered

__all__ = ["RunConfig", "load_config", "parse_config", "model_identity"]

MAX_CONFIG_BYTES = 4 * 1024 * 1024

# section -> key -> (kind, default); kind: str | int | float | bool | opt_int
_SECTIONS: dict[str, dict[str, tuple[str, Any]]] = {
    "run": {"manifest": ("str", None), "video_column": ("str", "video"), "output": ("str", None),
            "retries": ("int", 2), "limit": ("opt_int", None), "flush_rows": ("int", 256),
            "flush_seconds": ("float", 5.0)},
    "runner": {"kind": ("str", "local"), "address": ("str", ""), "workers": ("int", 1),
               "num_cpus": ("opt_int", None), "max_in_flight": ("opt_int", None),
               "chunk": ("int", 1)},
    "plan": {"pose_frames_per_s": ("float", 0.0), "prefill_tokens_per_s": ("float", 0.0),
             "decode_tokens_per_s": ("float", 0.0), "tokens_per_frame": ("float", 0.0),
             "clips": ("opt_int", None), "frames_per_clip": ("float", 0.0)},
}
_ENDPOINT_KEYS: dict[str, tuple[str, Any]] = {
    "name": ("str", None), "url": ("str", None), "model": ("str", ""),
    "concurrency": ("int", 4), "api_key_env": ("str", ""), "timeout_s": ("float", 120.0)}
_TOP = ("run", "runner", "endpoints", "stages", "plan")
_RUNNER_KINDS = ("local", "ray")


@dataclass
class RunConfig:
    manifest: str
    output: str
    video_column: str = "video"
    retries: int = 2
    limit: Optional[int] = None
    flush_rows: int = 256
    flush_seconds: float = 5.0
    runner: dict = field(default_factory=dict)
    endpoints: list = field(default_factory=list)
    stages: dict = field(default_factory=dict)      # name -> resolved params, dependency order
    added: list = field(default_factory=list)       # stages added because another needs them
    plan: dict = field(default_factory=dict)
    source: str = ""                                # the config file

    def stage_order(self) -> list[str]:
        return list(self.stages)

    def as_dict(self) -> dict:
        return {"run": {"manifest": self.manifest, "output": self.output,
                        "video_column": self.video_column, "retries": self.retries,
                        "limit": self.limit, "flush_rows": self.flush_rows,
                        "flush_seconds": self.flush_seconds},
                "runner": dict(self.runner),
                "endpoints": [dict(e) for e in self.endpoints],
                "stages": {k: dict(v) for k, v in self.stages.items()},
                "plan": dict(self.plan)}

    def identity(self) -> str:
        """Hash of what decides a run's results: the manifest and the stages with their
        parameters (not the runner, retries or output)."""
        text = canonical_json({"manifest": self.manifest, "video_column": self.video_column,
                               "limit": self.limit, "stages": self.stages,
                               "models": {e["name"]: e.get("model", "") for e in self.endpoints}})
        return hashlib.blake2b(text.encode("ascii"), digest_size=12).hexdigest()

    def model_id(self, stage: Stage, params: Mapping[str, Any]) -> str:
        if not stage.model_param:
            return ""
        return model_identity(params.get(stage.model_param, ""), self.endpoints)


def model_identity(spec: Any, endpoints: list) -> str:
    """The model part of a result key for a model spec: endpoints by their model names."""
    spec = str(spec or "")
    if spec == "endpoints":
        return "endpoints:" + ",".join(sorted(e.get("model", "") or e["name"] for e in endpoints))
    if spec.startswith("endpoint:"):
        name = spec.split(":", 1)[1]
        for e in endpoints:
            if e["name"] == name:
                return "endpoint:" + (e.get("model", "") or name)
    return spec


def _type_name(v: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "text",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def _check_kind(where: str, key: str, kind: str, value: Any) -> Any:
    ok = {"str": isinstance(value, str),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "opt_int": value is None or (isinstance(value, int) and not isinstance(value, bool)),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool),
          "bool": isinstance(value, bool)}[kind]
    if not ok:
        want = {"str": "text", "int": "an integer", "opt_int": "an integer", "float": "a number",
                "bool": "true or false"}[kind]
        raise ConfigError(f"config: {where} {key} must be {want}, not {value!r}")
    if kind == "float":
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"config: {where} {key} must be a finite number")
    return value


def _section(where: str, table: Any, schema: dict) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"config: {where} must be a table, not {_type_name(table)}")
    unknown = sorted(set(table) - set(schema))
    if unknown:
        raise ConfigError(f"config: {where} has no key '{unknown[0]}' "
                          f"(its keys: {', '.join(schema)})")
    out = {}
    for key, (kind, default) in schema.items():
        if key in table:
            out[key] = _check_kind(where, key, kind, table[key])
        elif default is None and kind in ("str",):
            raise ConfigError(f"config: {where} needs a value for '{key}'")
        else:
            out[key] = default
    return out


def _check_param(stage: Stage, key: str, value: Any) -> None:
    default = stage.defaults.get(key)
    if default is None:
        return
    where = f"[stages.{stage.name}]"
    if isinstance(default, bool):
        good = isinstance(value, bool)
    elif isinstance(default, int):
        good = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        good = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, (list, tuple)):
        good = isinstance(value, (list, tuple))
    else:
        good = isinstance(value, type(default))
    if not good:
        raise ConfigError(f"config: {where} {key} must be {_type_name(default)} "
                          f"(like its default {default!r}), not {value!r}")


def _check_model(stage: Stage, spec: Any, endpoints: list, base: Path) -> Any:
    where = f"[stages.{stage.name}] {stage.model_param}"
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"config: {where} must name a model: \"rule\", \"endpoints\", "
                          "\"endpoint:NAME\" or a local checkpoint folder")
    if spec == "rule":
        return spec
    if spec == "endpoints":
        if not endpoints:
            raise ConfigError(f"config: {where} = \"endpoints\" but the config has no [[endpoints]]")
        return spec
    if spec.startswith("endpoint:"):
        name = spec.split(":", 1)[1]
        names = [e["name"] for e in endpoints]
        if name not in names:
            raise ConfigError(f"config: {where} names endpoint '{name}', which is not among "
                              f"[[endpoints]] ({', '.join(names) or 'none'})")
        return spec
    from ..vlm.adapter import SEPARATOR, strip_local  # noqa: PLC0415

    spec = strip_local(spec)
    if SEPARATOR in spec:   # BASE + ADAPTER: the adapter folder relative to the config
        base_model, adapter = (p.strip() for p in spec.split(SEPARATOR, 1))
        local_base = (base / base_model).resolve() if not os.path.isabs(base_model) else None
        if local_base is not None and local_base.is_dir():
            base_model = str(local_base)
        folder = (base / adapter).resolve() if not os.path.isabs(adapter) else Path(adapter)
        if not folder.is_dir():
            raise ConfigError(f"config: {where} = {spec!r}: the adapter folder {adapter!r} "
                              "does not exist")
        return f"{base_model}{SEPARATOR}{folder}"
    folder = (base / spec).resolve() if not os.path.isabs(spec) else Path(spec)
    if not folder.is_dir():
        raise ConfigError(f"config: {where} = {spec!r} is neither \"rule\", \"endpoints\", "
                          "\"endpoint:NAME\" nor a checkpoint folder")
    return str(folder)


def _order(wanted: dict, base: Path, endpoints: list) -> tuple[dict, list]:
    """Stages in dependency order with resolved params; missing needs added."""
    known = registered()
    given = dict(wanted)
    added: list[str] = []
    for name in list(given):
        if name not in known:
            raise ConfigError(f"config: [stages.{name}] is not a known stage "
                              f"(known stages: {', '.join(sorted(known)) or 'none'})")
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ConfigError(f"config: stages depend on each other in a circle: "
                              f"{' -> '.join(chain + (name,))}")
        if name not in known:
            raise ConfigError(f"config: stage '{chain[-1]}' needs stage '{name}', which is not "
                              "known")
        state[name] = 1
        for need in known[name].needs:
            if need not in given:
                given[need] = {}
                added.append(need)
            visit(need, chain + (name,))
        state[name] = 2
        order.append(name)

    for name in list(wanted):
        visit(name, ())
    out = {}
    for name in order:
        stage = get_stage(name)
        table = given[name]
        if not isinstance(table, dict):
            raise ConfigError(f"config: [stages.{name}] must be a table of parameters")
        unknown = sorted(set(table) - set(stage.defaults))
        if unknown:
            raise ConfigError(f"config: [stages.{name}] has no parameter '{unknown[0]}' "
                              f"(its parameters: {', '.join(sorted(stage.defaults)) or 'none'})")
        for k, v in table.items():
            _check_param(stage, k, v)
        params = stage.params(table)
        if stage.model_param and stage.model_param in params:
            params[stage.model_param] = _check_model(stage, params[stage.model_param],
                                                     endpoints, base)
        canonical_json(params)   # every value plain and finite
        out[name] = params
    return out, added


def parse_config(doc: Any, base_dir=".", source: str = "") -> RunConfig:
    base = Path(base_dir).resolve()
    if not isinstance(doc, dict):
        raise ConfigError("config: the file must hold a table (TOML) or an object (JSON)")
    unknown = sorted(set(doc) - set(_TOP))
    if unknown:
        raise ConfigError(f"config: unknown section [{unknown[0]}] "
                          f"(sections: {', '.join('[' + s + ']' for s in _TOP)})")
    if "run" not in doc:
        raise ConfigError("config: a [run] section with manifest and output is needed")
    run = _section("[run]", doc["run"], _SECTIONS["run"])
    runner = _section("[runner]", doc.get("runner", {}), _SECTIONS["runner"])
    plan = _section("[plan]", doc.get("plan", {}), _SECTIONS["plan"])
    if run["retries"] < 0 or run["retries"] > 100:
        raise ConfigError("config: [run] retries must be between 0 and 100")
    if run["flush_rows"] < 1 or run["flush_seconds"] <= 0:
        raise ConfigError("config: [run] flush_rows and flush_seconds must be positive")
    if run["limit"] is not None and run["limit"] < 0:
        raise ConfigError("config: [run] limit must be at least 0")
    if runner["kind"] not in _RUNNER_KINDS:
        raise ConfigError(f"config: [runner] kind must be one of {', '.join(_RUNNER_KINDS)}, "
                          f"not {runner['kind']!r}")
    if runner["workers"] < 1:
        raise ConfigError("config: [runner] workers must be at least 1")
    endpoints = doc.get("endpoints", [])
    if not isinstance(endpoints, list):
        raise ConfigError("config: endpoints must be a list of [[endpoints]] tables")
    eps: list[dict] = []
    for i, e in enumerate(endpoints):
        ep = _section(f"[[endpoints]] #{i + 1}", e, _ENDPOINT_KEYS)
        if ep["name"] in {x["name"] for x in eps}:
            raise ConfigError(f"config: two [[endpoints]] are named {ep['name']!r}")
        if not ep["url"].startswith(("http://", "https://")):
            raise ConfigError(f"config: [[endpoints]] {ep['name']} url must start with http:// "
                              f"or https://, not {ep['url']!r}")
        if ep["concurrency"] < 1:
            raise ConfigError(f"config: [[endpoints]] {ep['name']} concurrency must be at least 1")
        eps.append(ep)
    stages = doc.get("stages", {})
    if not isinstance(stages, dict) or not stages:
        raise ConfigError("config: no [stages.NAME] tables: name at least one stage to run")
    ordered, added = _order(stages, base, eps)

    def path(value: str) -> str:
        return str(Path(value) if os.path.isabs(value) else (base / value).resolve())

    return RunConfig(manifest=path(run["manifest"]), output=path(run["output"]),
                     video_column=run["video_column"], retries=run["retries"],
                     limit=run["limit"], flush_rows=run["flush_rows"],
                     flush_seconds=run["flush_seconds"], runner=runner, endpoints=eps,
                     stages=ordered, added=added, plan=plan, source=source)


def load_config(path) -> RunConfig:
    """Read and check a config file (.toml or .json)."""
    p = Path(path)
    text = read_text(p, ConfigError, MAX_CONFIG_BYTES)
    if p.suffix.lower() == ".json":
        doc = parse_json(text, p.name, ConfigError)
    elif p.suffix.lower() == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {p.name} is not valid TOML: {exc}") from None
    else:
        raise ConfigError(f"config: {p.name} must be a .toml or .json file")
    return parse_config(doc, p.resolve().parent, str(p.resolve()))


def config_json(cfg: RunConfig) -> str:
    return json.dumps(cfg.as_dict(), sort_keys=True)
