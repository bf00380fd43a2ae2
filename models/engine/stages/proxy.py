"""The three MLLM proxy tasks as batch stages of a dataset run.

* ``p1_describe``: per window of a clip, frames sampled as Ask samples them, a prompt
  (with the rule facts of those frames when ``pose_grounding``), the model's description.
* ``p2_differences``: per frame pair (A, B ``gap_s`` apart), the model's account of what
  changed in the body from A to B.
* ``p3_qa``: from the kept P1 and P2 texts of the clip, multiple-choice items written by a
  model, parsed and checked like ``models.qa.from_text`` and returned as canonical QA
  records (``check_record`` passes), each citing the texts it rests on.

Every P1/P2 text is checked against the rule facts of its frames (``models.describe.claims``):
each refuted claim is recorded with the fact and frame. Policy ``flag`` keeps the text with
its ``contradictions``; ``drop`` marks it ``dropped`` (text and reasons kept, so counts can
be audited) and P3 never sees it. Every output carries its provenance: model id and
revision, backend kind, the endpoint that answered, template id + version, frame indices
and times, seed, generation parameters and stats.

A batch of tasks is served by one ``generate_many`` call per backend, so an endpoint pool
or a batching local backend answers the whole batch concurrently. The template's version
is part of the ``template`` parameter (``id@version``), hence of the result key.

The ``model`` parameter: ``"rule"`` (the rule-based describer over this clip's poses; P1/P2
only), ``"endpoints"`` / ``"endpoint:NAME"`` (the run's [[endpoints]], read from the job
context's ``endpoints`` attribute) or a local checkpoint folder; the backend comes from
``models.engine.backends.backend_for``. A failed request fails its task (the runner retries
it); a task's other requests and the other tasks of the batch are unaffected.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ... import resources
from ...errors import Cancelled, StudioError
from ...jobs import NULL_CONTEXT
from ..stage import ConfigError, Stage, Task, add_loader, register

__all__ = ["P1", "P2", "P3", "POLICIES", "load", "pose_result", "template_spec", "track_from_upstream"]

POLICIES = ("flag", "drop")
TEMPLATE_DIR = ("prompts", "proxy")
MAX_RAW = 4000                          # characters of an unusable P3 output kept for review
BATCH = 8

P1, P2, P3 = "p1_describe", "p2_differences", "p3_qa"


# -- templates ---------------------------------------------------------------------------------
def _templates() -> dict[str, dict]:
    out = {}
    for f in sorted(resources.path(*TEMPLATE_DIR).glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        out[str(doc["id"])] = doc
    return out


def template_spec(template_id: str) -> str:
    """``id@version`` of a proxy template as it is on disk (the default of a stage)."""
    return f"{template_id}@{_templates()[template_id]['version']}"


def _template(spec: str) -> dict:
    tid, at, version = str(spec).partition("@")
    found = _templates()
    if tid not in found:
        raise ConfigError(f"Unknown proxy prompt template '{tid}' (known: {', '.join(found) or 'none'})")
    doc = found[tid]
    if not at:
        raise ConfigError(f"Name the template with its version, e.g. '{tid}@{doc['version']}'")
    if str(doc["version"]) != version:
        raise ConfigError(f"Template '{tid}' is at version {doc['version']}, the run asks for "
                          f"version {version}")
    return doc


def _prompt_template(doc: dict):
    from ...vlm.prompts import PromptTemplate  # noqa: PLC0415

    return PromptTemplate(doc["id"], str(doc["version"]), doc.get("title", doc["id"]), doc["text"],
                          doc.get("system", ""), doc.get("frames", "clip"), dict(doc.get("defaults", {})))


# -- poses from upstream -------------------------------------------------------------------------
def pose_result(track) -> dict:
    """A PoseTrack as a ``poses`` result: ``{"track": PoseTrack.to_npz_bytes(), "frames"}``,
    the form the built-in ``poses`` stage gives."""
    return {"track": track.to_npz_bytes(), "frames": len(track)}


def track_from_upstream(result):
    """The clip's PoseTrack from the ``poses`` result (a PoseTrack itself is taken as is).
    ``models.engine.stages.basic.track_from_result`` reads it where that module exists;
    else the ``track`` bytes are read here the same way (``allow_pickle=False``)."""
    from ...pose.track import PoseTrack  # noqa: PLC0415

    if result is None:
        raise ConfigError("This stage needs the clip's poses: add the 'poses' stage to the run")
    if isinstance(result, PoseTrack):
        return result
    try:
        from .basic import track_from_result  # noqa: PLC0415
    except ImportError:
        data = result.get("track") if isinstance(result, dict) else None
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConfigError("The 'poses' result holds no pose track ('track' bytes)") from None
        try:
            return PoseTrack.from_npz_bytes(bytes(data))
        except (ValueError, KeyError, OSError, TypeError) as exc:
            raise ConfigError(f"The 'poses' result's track cannot be read: {exc}") from None
    return track_from_result(result)


# -- backends ----------------------------------------------------------------------------------
_CACHE: dict = {}


def _backend_for(spec: str, endpoints=()):
    """The engine's ``backend_for`` when it exists; else a small fallback for a URL or a
    local checkpoint folder (cached per process) and the first/named endpoint."""
    try:
        from ..backends import backend_for  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if exc.name not in ("models.engine.backends",):
            raise
    else:
        return backend_for(spec, endpoints)
    key = (spec, json.dumps(list(endpoints or ()), sort_keys=True, default=str))
    if key not in _CACHE:
        from ...vlm.specs import backend_for as from_spec  # noqa: PLC0415

        if spec == "endpoints" or spec.startswith("endpoint:"):
            name = spec.partition(":")[2]
            rows = [e for e in endpoints or () if not name or e.get("name") == name]
            if not rows:
                raise ConfigError(f"Model '{spec}' names no configured endpoint")
            spec = f"{rows[0]['url']}#{rows[0].get('model', '')}"
        _CACHE[key] = from_spec(spec)
    return _CACHE[key]


def _backend(params: dict, track, ctx, endpoints=()):
    spec = str(params["model"]).strip()
    if spec == "rule":
        from ...vlm.rule_backend import RuleBackend  # noqa: PLC0415

        return RuleBackend(track)        # answers from this clip's poses: one per task
    return _backend_for(spec, endpoints or getattr(ctx, "endpoints", ()) or ())


# -- shared plumbing ---------------------------------------------------------------------------
@dataclass
class _Unit:
    request: Any
    meta: dict


@dataclass
class _Plan:
    task: Task
    params: dict
    template: dict
    backend: Any
    units: list = field(default_factory=list)
    state: dict = field(default_factory=dict)
    answers: list = field(default_factory=list)


def _gen_params(params: dict, tpl: dict):
    from ...vlm_request import GenerationParams  # noqa: PLC0415

    n = params.get("max_new_tokens") or tpl.get("max_new_tokens") or 256
    return GenerationParams(max_new_tokens=int(n), temperature=float(params["temperature"]),
                            seed=int(params["seed"])).validate()


def _check_common(stage: str, params: dict) -> None:
    if "contradictions" in params and params["contradictions"] not in POLICIES:
        raise ConfigError(f"Stage '{stage}': contradictions must be one of {', '.join(POLICIES)}, "
                          f"got {params['contradictions']!r}")
    if not str(params.get("model", "")).strip():
        raise ConfigError(f"Stage '{stage}': no model given")


def _provenance(answer, backend, plan: _Plan, request, meta: dict) -> dict:
    info = getattr(answer, "info", None) or backend.info
    stats = answer.stats
    endpoint = answer.endpoint or (info.device if info.kind == "openai" else "")
    from ...vlm.openai_http import redact  # noqa: PLC0415

    return {"model_id": info.model_id, "model_revision": info.revision or "",
            "backend": info.kind, "endpoint": redact(endpoint),
            "template_id": plan.template["id"], "template_version": str(plan.template["version"]),
            "frame_indices": list(meta.get("frame_indices", [])),
            "frame_times": list(meta.get("frame_times", [])),
            "seed": request.params.seed, "generation_params": request.params.as_dict(),
            "pose_grounding": bool(plan.params.get("pose_grounding", False)),
            "pose_backend": plan.state.get("pose_backend", ""),
            "stats": {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
                      "ttft_s": _r(stats.ttft_s), "total_s": _r(stats.total_s),
                      "tokens_per_s": _r(stats.tokens_per_s)}}


def _r(v, nd: int = 4):
    return None if v is None else round(float(v), nd)


_EXPECTED = (StudioError, OSError, ValueError)


def _run_many(tasks: Sequence[Task], ctx, build: Callable, finish: Callable) -> list:
    """Build every task's requests, ask each backend once for all of its requests, then
    turn each task's answers into its result (or its error)."""
    from ...vlm.many import generate_many  # noqa: PLC0415

    ctx = ctx or NULL_CONTEXT
    out: list = [None] * len(tasks)
    plans: dict[int, _Plan] = {}
    for i, task in enumerate(tasks):
        try:
            plans[i] = build(task, ctx)
        except Cancelled:
            raise
        except _EXPECTED as exc:
            out[i] = exc
    groups: dict[int, tuple] = {}
    for i, plan in plans.items():
        groups.setdefault(id(plan.backend), (plan.backend, []))[1].extend(
            (i, j) for j in range(len(plan.units)))
        plan.answers = [None] * len(plan.units)
    for backend, refs in groups.values():
        if not refs:
            continue
        ctx.check()
        try:
            answers = generate_many(backend, [plans[i].units[j].request for i, j in refs], ctx)
        except Cancelled:
            raise
        except _EXPECTED as exc:         # the backend could not start at all
            for i, _ in refs:
                out[i] = exc
            continue
        for (i, j), answer in zip(refs, answers):
            plans[i].answers[j] = answer
    for i, plan in plans.items():
        if out[i] is not None:
            continue
        try:
            out[i] = finish(plan)
        except Cancelled:
            raise
        except _EXPECTED as exc:
            out[i] = exc
    return out


def _text_or_raise(answer, what: str) -> str:
    from ...vlm.types import VLMError, first_line  # noqa: PLC0415

    if isinstance(answer, BaseException):
        raise VLMError(f"{what}: {first_line(answer)}")
    return answer.text


def _clip_plan(task: Task, ctx, stage: str) -> _Plan:
    params = dict(task.params)
    _check_common(stage, params)
    tpl = _template(params["template"])
    track = track_from_upstream(task.upstream.get("poses"))
    plan = _Plan(task, params, tpl, _backend(params, track, ctx, task.endpoints))
    plan.state.update(track=track, pose_backend=" ".join(
        p for p in (track.backend, track.backend_version) if p))
    return plan


def _times(track, frames) -> list:
    return [round(float(track.time_of(int(f))), 4) for f in frames]


def _request(plan: _Plan, frames, indices: list, duration_s: float):
    from ...vlm.prompts import build_messages, grounding_text, render  # noqa: PLC0415
    from ...vlm_request import VLMRequest  # noqa: PLC0415

    pt = _prompt_template(plan.template)
    grounding = grounding_text(plan.state["track"], indices) if plan.params["pose_grounding"] else ""
    prompt = render(pt, "", (), indices, duration_s, grounding)
    req = VLMRequest(build_messages(pt, prompt), list(frames.frames), _gen_params(plan.params, plan.template),
                     as_video=pt.frames == "clip", fps=frames.fps, frame_indices=list(indices))
    return req.validate(), prompt


def _checked(entry: dict, found: list, policy: str) -> dict:
    entry["contradictions"] = found
    if found and policy == "drop":
        entry["status"] = "dropped"
        entry["dropped_reasons"] = [f"'{c['claim']}' contradicts {c['fact']} (frame {c['frame']})"
                                    for c in found]
    else:
        entry["status"] = "ok"
    return entry


def _counts(entries: list) -> dict:
    return {"texts": len(entries), "kept": sum(e["status"] == "ok" for e in entries),
            "dropped": sum(e["status"] == "dropped" for e in entries),
            "flagged": sum(e["status"] == "ok" and bool(e["contradictions"]) for e in entries),
            "contradictions": sum(len(e["contradictions"]) for e in entries)}


# -- P1 ----------------------------------------------------------------------------------------
def _windows(n_frames: int, fps: float, count: int, window_s: float) -> list[tuple[int, int]]:
    if count < 1 or window_s <= 0:
        raise ConfigError("p1_describe: windows must be >= 1 and window_s > 0")
    length = max(1, min(n_frames, int(round(window_s * (fps or 1.0)))))
    starts = np.linspace(0, n_frames - length, count).round().astype(int) if count > 1 else \
        np.array([(n_frames - length) // 2])
    return [(int(s), int(s) + length - 1) for s in dict.fromkeys(starts.tolist())]


def _build_p1(task: Task, ctx) -> _Plan:
    from ...vlm.frames import FrameSelection, sample_frames  # noqa: PLC0415

    plan = _clip_plan(task, ctx, P1)
    track, p = plan.state["track"], plan.params
    spans = _windows(len(track), track.fps, int(p["windows"]), float(p["window_s"]))
    for w, (start, end) in enumerate(spans):
        sel = FrameSelection("uniform", int(p["frames"]), start=start, end=end)
        frames = sample_frames(task.item.video, sel)
        req, prompt = _request(plan, frames, list(frames.indices), frames.span_s)
        plan.units.append(_Unit(req, {"window": w, "start_frame": start, "end_frame": end,
                                      "start_s": round(track.time_of(start), 4),
                                      "end_s": round(track.time_of(end + 1), 4),
                                      "frame_indices": list(frames.indices),
                                      "frame_times": _times(track, frames.indices), "prompt": prompt}))
    return plan


def _finish_texts(plan: _Plan, name: str, unit_key: str, claims: Callable) -> dict:
    """Each answer's text with its provenance, read for claims the rule facts contradict
    (``claims(text, track_facts, unit_meta)``) and kept, flagged or dropped by the policy."""
    from ...describe import track_facts  # noqa: PLC0415

    tf = track_facts(plan.state["track"])
    entries = []
    for unit, answer in zip(plan.units, plan.answers):
        text = _text_or_raise(answer, f"{unit_key} {unit.meta[unit_key]}").strip()
        entry = dict(unit.meta, text=text,
                     provenance=_provenance(answer, plan.backend, plan, unit.request, unit.meta))
        entries.append(_checked(entry, claims(text, tf, unit.meta), plan.params["contradictions"]))
    return _result(plan, name, entries)


def _finish_p1(plan: _Plan) -> dict:
    from ...describe.claims import state_contradictions  # noqa: PLC0415

    return _finish_texts(plan, "windows", "window",
                         lambda text, tf, m: state_contradictions(text, tf, m["frame_indices"]))


def _result(plan: _Plan, name: str, entries: list) -> dict:
    return {"template": {"id": plan.template["id"], "version": str(plan.template["version"])},
            "policy": plan.params["contradictions"], "pose_grounding": bool(plan.params["pose_grounding"]),
            name: entries, "counts": _counts(entries)}


# -- P2 ----------------------------------------------------------------------------------------
def _pairs(n_frames: int, fps: float, count: int, gap_s: float) -> list[tuple[int, int]]:
    if count < 1 or gap_s <= 0:
        raise ConfigError("p2_differences: pairs must be >= 1 and gap_s > 0")
    gap = max(1, int(round(gap_s * (fps or 1.0))))
    if gap >= n_frames:
        gap = n_frames - 1
    if gap < 1:
        raise ConfigError("p2_differences: the clip has a single frame; no pair to compare")
    starts = np.linspace(0, n_frames - 1 - gap, count).round().astype(int)
    return [(int(a), int(a) + gap) for a in dict.fromkeys(starts.tolist())]


def _build_p2(task: Task, ctx) -> _Plan:
    from ...vlm.frames import FrameSelection, sample_frames  # noqa: PLC0415

    plan = _clip_plan(task, ctx, P2)
    track, p = plan.state["track"], plan.params
    for n, (a, b) in enumerate(_pairs(len(track), track.fps, int(p["pairs"]), float(p["gap_s"]))):
        frames = sample_frames(task.item.video, FrameSelection("marked", marked=(a, b)))
        gap_s = track.time_of(b) - track.time_of(a)
        req, prompt = _request(plan, frames, [a, b], gap_s)
        plan.units.append(_Unit(req, {"pair": n, "frame_a": a, "frame_b": b,
                                      "time_a": round(track.time_of(a), 4),
                                      "time_b": round(track.time_of(b), 4),
                                      "frame_indices": [a, b], "frame_times": _times(track, [a, b]),
                                      "prompt": prompt}))
    return plan


def _finish_p2(plan: _Plan) -> dict:
    from ...describe.claims import change_contradictions  # noqa: PLC0415

    return _finish_texts(plan, "pairs", "pair",
                         lambda text, tf, m: change_contradictions(text, tf, m["frame_a"], m["frame_b"]))


# -- P3 ----------------------------------------------------------------------------------------
def _sources(task: Task) -> tuple[list[dict], int]:
    """The kept P1/P2 texts of the clip as cited sources T1, T2, ...; and how many dropped
    texts were left out."""
    out: list[dict] = []
    dropped = 0
    p1, p2 = task.upstream.get(P1), task.upstream.get(P2)
    if p1 is None or p2 is None:
        raise ConfigError("p3_qa needs the p1_describe and p2_differences results of the clip")
    for kind, result, entries in (("description", p1, p1.get("windows", [])),
                                  ("difference", p2, p2.get("pairs", []))):
        for e in entries:
            if e.get("status") != "ok":
                dropped += 1
                continue
            if not str(e.get("text", "")).strip():
                continue
            src = {"id": f"T{len(out) + 1}", "kind": kind, "text": e["text"],
                   "frame_indices": list(e.get("frame_indices", [])),
                   "pose_backend": e.get("provenance", {}).get("pose_backend", "")}
            if kind == "description":
                src.update(ref=f"{P1}:w{e['window']}", start_s=e["start_s"], end_s=e["end_s"])
            else:
                src.update(ref=f"{P2}:p{e['pair']}", frame_a=e["frame_a"], frame_b=e["frame_b"],
                           start_s=e["time_a"], end_s=e["time_b"])
            out.append(src)
    return out, dropped


def _source_line(s: dict) -> str:
    if s["kind"] == "description":
        where = f"pose description, {s['start_s']:.1f}-{s['end_s']:.1f} s"
    else:
        where = (f"difference from frame A ({s['frame_a']}, {s['start_s']:.1f} s) "
                 f"to frame B ({s['frame_b']}, {s['end_s']:.1f} s)")
    return f"[{s['id']}] ({where}): {s['text']}"


def _allowed(tpl: dict) -> list[str]:
    from ...qa.taxonomy import load_taxonomy  # noqa: PLC0415

    tax = load_taxonomy()
    return [t for t in tpl["tasks"] if t in tax]


def _p3_prompt(tpl: dict, sources: list, n: int, n_options: int) -> str:
    from ...qa.taxonomy import load_taxonomy  # noqa: PLC0415

    tax = load_taxonomy()
    lines = "\n".join(f"- {t}: {tax[t].asks_about}" for t in _allowed(tpl))
    return tpl["user"].format(texts="\n".join(_source_line(s) for s in sources), n=n,
                              task_lines=lines, n_options=n_options)


def _build_p3(task: Task, ctx) -> _Plan:
    from ...vlm_request import VLMRequest, messages_for  # noqa: PLC0415

    params = dict(task.params)
    _check_common(P3, params)
    if str(params["model"]).strip() == "rule":
        raise ConfigError("p3_qa needs a language model; the rule-based describer cannot write questions")
    if int(params["questions"]) < 1 or not 2 <= int(params["options"]) <= 10:
        raise ConfigError("p3_qa: questions must be >= 1 and options 2..10")
    tpl = _template(params["template"])
    sources, dropped = _sources(task)
    plan = _Plan(task, params, tpl, _backend(params, None, ctx, task.endpoints) if sources else None)
    plan.state.update(sources=sources, dropped=dropped)
    if sources:
        prompt = _p3_prompt(tpl, sources, int(params["questions"]), int(params["options"]))
        req = VLMRequest(messages_for(prompt, tpl.get("system") or None), frames=[],
                         params=_gen_params(params, tpl), as_video=False).validate()
        frames = sorted({f for s in sources for f in s["frame_indices"]})
        plan.units.append(_Unit(req, {"prompt": prompt, "frame_indices": frames}))
    return plan


def _finish_p3(plan: _Plan) -> dict:
    from ...qa.from_text import InvalidOutput, parse_output  # noqa: PLC0415

    p, sources = plan.params, plan.state["sources"]
    result: dict[str, Any] = {
              "template": {"id": plan.template["id"], "version": str(plan.template["version"])},
              "sources": [{k: v for k, v in s.items() if k != "pose_backend"} for s in sources],
              "items": [], "rejected": [], "invalid_output": False, "raw_output": "",
              "provenance": None,
              "counts": {"sources": len(sources), "dropped_texts_left_out": plan.state["dropped"],
                         "items": 0, "rejected": 0}}
    if not plan.units:
        result["skipped"] = "no kept P1/P2 texts"
        return result
    unit, answer = plan.units[0], plan.answers[0]
    text = _text_or_raise(answer, "question writing")
    prov = _provenance(answer, plan.backend, plan, unit.request, unit.meta)
    result["provenance"] = prov
    try:
        raw = parse_output(text)
    except InvalidOutput as exc:
        result.update(invalid_output=True, raw_output=text[:MAX_RAW])
        result["rejected"].append({"item": None, "reason": str(exc)})
        result["counts"]["rejected"] = 1
        return result
    by_id = {s["id"]: s for s in sources}
    allowed = set(_allowed(plan.template))
    balancer = _balancer()
    for n, item in enumerate(raw[:int(p["questions"])]):
        try:
            rec = _record(plan, item, allowed, by_id, prov, balancer)
        except ValueError as exc:
            result["rejected"].append({"item": n + 1, "reason": str(exc)})
            continue
        result["items"].append(rec.to_dict())
    result["counts"].update(items=len(result["items"]), rejected=len(result["rejected"]))
    return result


def _balancer():
    from ...qa.synth import Balancer  # noqa: PLC0415

    return Balancer()


def _record(plan: _Plan, item, allowed: set, by_id: dict, prov: dict, balancer):
    """One checked canonical QA record from one model item; ValueError says why not."""
    from ...qa.from_text import check_item  # noqa: PLC0415
    from ...qa.record import Provenance, QARecord, check_record, stable_qa_id  # noqa: PLC0415

    p, task = plan.params, plan.task
    good = check_item(item, allowed, int(p["options"]))
    evidence = item.get("evidence") if isinstance(item, dict) else None
    if isinstance(evidence, str):
        evidence = [evidence]
    if not isinstance(evidence, list) or not evidence or not all(isinstance(e, str) for e in evidence):
        raise ValueError("no evidence: the item names none of the texts it rests on")
    unknown = [e for e in evidence if e not in by_id]
    if unknown:
        raise ValueError(f"evidence {unknown[0]!r} is not one of the texts given")
    cited = [by_id[e] for e in dict.fromkeys(evidence)]
    rng = np.random.default_rng([int(p["seed"]) & 0xFFFFFFFF,
                                 zlib.crc32((task.item.id + good["question"]).encode("utf-8"))])
    answer = good["options"][good["answer_index"]]
    wrong = [o for i, o in enumerate(good["options"]) if i != good["answer_index"]]
    pos = balancer.position(len(good["options"]), rng)
    options = wrong[:pos] + [answer] + wrong[pos:]
    pairs = [s for s in cited if s["kind"] == "difference"]
    frame_a = frame_b = None
    if len(pairs) == 1 and len(cited) == 1:
        frame_a, frame_b = pairs[0]["frame_a"], pairs[0]["frame_b"]
    start = min(s["start_s"] for s in cited)
    end = max(s["end_s"] for s in cited)
    frames = sorted({f for s in cited for f in s["frame_indices"]})
    pose_backend = next((s["pose_backend"] for s in cited if s.get("pose_backend")), None)
    gen = dict(prov["generation_params"], questions=int(p["questions"]), options=int(p["options"]),
               backend=prov["backend"], endpoint=prov["endpoint"])
    provenance = Provenance(
        model_id=prov["model_id"], model_revision=prov["model_revision"] or None,
        prompt_template=plan.template["id"], prompt_version=str(plan.template["version"]),
        generation_params=gen, seed=int(p["seed"]), frame_indices=frames, pose_backend=pose_backend,
        facts=[{"kind": s["kind"], "quantity": "source_text", "value": s["text"], "ref": s["ref"],
                "evidence": s["id"], "person": 0, "frame_indices": s["frame_indices"]} for s in cited])
    qa_id = stable_qa_id("p3", good["task"], task.item.id, good["question"], prov["model_id"],
                         str(plan.template["version"]), [s["ref"] for s in cited])
    rec = QARecord(qa_id, good["task"], task.item.video, good["question"], options, pos,
                   start_s=start, end_s=end, frame_a=frame_a, frame_b=frame_b,
                   source=prov["model_id"] or "p3", provenance=provenance)
    return check_record(rec)


# -- registration ------------------------------------------------------------------------------
def _many(build, finish):
    def fn_many(tasks, ctx=NULL_CONTEXT):
        return _run_many(tasks, ctx, build, finish)
    return fn_many


def _common(template_id: str) -> dict:
    return {"model": "endpoints", "template": template_spec(template_id), "seed": 0,
            "max_new_tokens": 0, "temperature": 0.0}


def load() -> None:
    """Register the three proxy stages."""
    register(Stage(P1, "1", needs=("poses",), resource="endpoint", batch=BATCH,
                   fn_many=_many(_build_p1, _finish_p1), model_param="model",
                   defaults=dict(_common("p1_pose_description"), windows=4, window_s=2.0, frames=8,
                                 pose_grounding=False, contradictions="flag"),
                   describe="P1: a model describes the poses of each clip window"))
    register(Stage(P2, "1", needs=("poses",), resource="endpoint", batch=BATCH,
                   fn_many=_many(_build_p2, _finish_p2), model_param="model",
                   defaults=dict(_common("p2_spatial_difference"), pairs=3, gap_s=1.0,
                                 pose_grounding=False, contradictions="flag"),
                   describe="P2: a model states the spatial differences between two frames"))
    register(Stage(P3, "1", needs=(P1, P2), resource="endpoint", batch=BATCH,
                   fn_many=_many(_build_p3, _finish_p3), model_param="model",
                   defaults=dict(_common("p3_mcq"), questions=4, options=4),
                   describe="P3: a model writes fine-grained MCQ from the P1 and P2 texts"))


add_loader(load)
