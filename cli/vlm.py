"""`ask`, `compare` and `models`: video LLMs from the command line (same core as the GUI).

    python main.py ask VIDEO --model PATH_OR_URL [--frames N | --a N --b M] [--template ID] "question"
    python main.py compare VIDEO --model A --model B [...] "question" [--json]
    python main.py models [--folder DIR] [--add-endpoint NAME URL] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from cli.argtypes import POSITIVE, Parser, number


def _common(p) -> None:
    p.add_argument("video", help="video file")
    p.add_argument("question", nargs="?", default="", help="the question (or template input)")
    p.add_argument("--template", default="free", help="prompt template id (see `models`)")
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--frames", type=int, default=8, help="N frames uniform over the window")
    sel.add_argument("--rate", type=POSITIVE, help="sample at this many frames per second")
    p.add_argument("--a", type=int, help="frame A (with --b: the marked pair)")
    p.add_argument("--b", type=int, help="frame B")
    p.add_argument("--start", type=int, help="first frame of the window")
    p.add_argument("--end", type=int, help="last frame of the window")
    p.add_argument("--max-pixels", type=int, default=448 * 448, help="pixel cap per frame")
    p.add_argument("--options", help="MCQ options separated by '|'")
    p.add_argument("--answer", type=int, help="0-based index of the right option (marks answers)")
    p.add_argument("--ground", action="store_true", help="append rule-based pose facts")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=number(0.0), default=0.0)
    p.add_argument("--top-p", type=number(0.0, 1.0, low_open=True), default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (local models)")
    p.add_argument("--dtype", default="auto", help="auto, bf16, fp16 or fp32 (local models)")
    p.add_argument("--quantization", choices=("8bit", "4bit"), help="needs bitsandbytes + CUDA")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow code shipped with the checkpoint (only for authors you trust)")
    p.add_argument("--memory-limit-gb", type=POSITIVE, help="refuse models needing more than this")
    p.add_argument("--api-key-env", default="", help="env variable holding a server's API key")
    p.add_argument("--no-stream", action="store_true", help="servers: one non-streamed reply")
    p.add_argument("--save", action="store_true", help="save the answer(s) in the project")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--project", default=argparse.SUPPRESS, help="project file")


class _Intermixed(Parser):
    """Lets the question follow the options: ``ask VIDEO --model M "question"``."""

    _busy = False

    def parse_known_args(self, args=None, namespace=None):
        if self._busy:
            return super().parse_known_args(args, namespace)
        self._busy = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._busy = False


def register(sub) -> None:
    saved_class = sub._parser_class
    sub._parser_class = _Intermixed
    try:
        _register(sub)
    finally:
        sub._parser_class = saved_class


def _register(sub) -> None:
    ask = sub.add_parser("ask", help="ask a video LLM about a clip")
    _common(ask)
    ask.add_argument("--model", required=True, help="checkpoint folder, cached id, URL or rule")
    ask.set_defaults(func=run_ask)
    cmp_ = sub.add_parser("compare", help="ask several models the same question, side by side")
    _common(cmp_)
    cmp_.add_argument("--model", action="append", required=True, dest="models",
                      help="repeat 2-4 times (folder, cached id, http(s)://.../v1#model, rule)")
    cmp_.set_defaults(func=run_compare)
    mod = sub.add_parser("models", help="list checkpoints, templates and endpoints")
    mod.add_argument("--folder", action="append", default=[], help="also scan this folder")
    mod.add_argument("--add-folder", help="remember a folder of checkpoints in the project")
    mod.add_argument("--remove-folder", help="forget a remembered folder")
    mod.add_argument("--add-endpoint", nargs=2, metavar=("NAME", "URL"))
    mod.add_argument("--endpoint-model", default="", help="served model name for --add-endpoint")
    mod.add_argument("--api-key-env", default="", help="env variable holding the endpoint's key")
    mod.add_argument("--remove-endpoint", metavar="NAME")
    mod.add_argument("--json", action="store_true")
    mod.add_argument("--project", default=argparse.SUPPRESS, help="project file")
    mod.set_defaults(func=run_models)


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def _repository(args, read_only_ok: bool = False):
    from models.store import Repository  # noqa: PLC0415

    return Repository(getattr(args, "project", None), allow_read_only=read_only_ok)


def _spec(args):
    from models.vlm.frames import FrameSelection  # noqa: PLC0415
    from models.vlm.service import AskSpec  # noqa: PLC0415
    from models.vlm.types import GenerationParams  # noqa: PLC0415

    from models.vlm.types import VLMError  # noqa: PLC0415

    if (args.a is None) != (args.b is None) and args.template == "frame_difference":
        raise SystemExit("error: --a and --b go together")
    if args.frames < 1:
        raise VLMError(f"--frames must be at least 1 (got {args.frames})")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise VLMError(f"--max-pixels must be positive (got {args.max_pixels})")
    marked = tuple(i for i in (args.a, args.b) if i is not None)
    if marked:
        sel = FrameSelection("marked", marked=marked, max_pixels=args.max_pixels)
    elif args.rate:
        sel = FrameSelection("rate", count=256, rate=args.rate, start=args.start, end=args.end,
                             max_pixels=args.max_pixels)
    else:
        sel = FrameSelection("uniform", count=args.frames, start=args.start, end=args.end,
                             max_pixels=args.max_pixels)
    options = [o.strip() for o in args.options.split("|")] if args.options else []
    params = GenerationParams(args.max_new_tokens, args.temperature, args.top_p, args.seed)
    return AskSpec(args.video, args.question, args.template, sel, options, args.answer,
                   args.ground, params)


def _track(args, repo):
    """Poses of the clip (cached or extracted) when grounding or the rule baseline needs them."""
    specs = getattr(args, "models", None) or [getattr(args, "model", "")]
    if not args.ground and "rule" not in specs:
        return None
    from models.pose.extract import extract_video  # noqa: PLC0415
    from models.pose.native_logs import NativeLogsMuted  # noqa: PLC0415

    with NativeLogsMuted():           # mediapipe's C++ log lines (unless ACTIONART_DEBUG=1)
        return extract_video(args.video, repo)


def _backend(args, spec_str: str, repo, track):
    from models.vlm.specs import backend_for  # noqa: PLC0415

    limit = int(args.memory_limit_gb * 1024 ** 3) if args.memory_limit_gb else None
    return backend_for(spec_str, repo, track=track, device=args.device, dtype=args.dtype,
                       quantization=args.quantization, trust_remote_code=args.trust_remote_code,
                       memory_limit_bytes=limit, stream=not args.no_stream,
                       **({"api_key": os.environ.get(args.api_key_env)} if args.api_key_env else {}))


def _prepare(args, repo):
    from models.vlm.service import prepare  # noqa: PLC0415

    _quiet_libraries()
    track = _track(args, repo)
    return prepare(_spec(args), track=track), track


def run_ask(args) -> int:
    from models.vlm.service import run_answer, save_answer  # noqa: PLC0415

    repo = _repository(args)
    prepared, track = _prepare(args, repo)
    backend = _backend(args, args.model, repo, track)
    stream = None if args.json else (lambda _pos, chunk: print(chunk, end="", flush=True))
    answer = run_answer(backend, prepared, on_chunk=stream)
    saved = save_answer(repo, prepared, answer) if args.save else None
    if args.json:
        print(json.dumps(_answer_json(answer, prepared, saved), indent=2))
    else:
        print()
        print(_timing_line(answer, prepared), file=sys.stderr)
    return 0 if answer.status == "ok" else 1


def run_compare(args) -> int:
    from models.vlm.service import compare, save_comparison  # noqa: PLC0415

    if not 1 <= len(args.models) <= 4:
        raise SystemExit("error: compare takes 1 to 4 --model options")
    repo = _repository(args)
    prepared, track = _prepare(args, repo)
    backends = [_backend(args, m, repo, track) for m in args.models]
    answers = compare(backends, prepared)
    cid = save_comparison(repo, prepared, answers) if args.save else None
    if args.json:
        print(json.dumps({"comparison_id": cid, "frame_indices": prepared.frames.indices,
                          "prompt": prepared.prompt,
                          "answers": [_answer_json(a, prepared, None) for a in answers]}, indent=2))
    else:
        for a in answers:
            print(f"=== {a.info.label or a.info.model_id} [{a.info.kind}]")
            print(a.text if a.status == "ok" else f"({a.status}: {a.error})")
            print(_timing_line(a, prepared))
    return 0 if all(a.status == "ok" for a in answers) else 1


def _answer_json(answer, prepared, saved_id) -> dict:
    rec = answer.as_record(prepared)
    rec.update(id=saved_id, label=answer.info.label, abstained=answer.abstained)
    return rec


def _fmt(v, unit: str, digits: int = 2) -> str:
    return "?" if v is None else f"{v:.{digits}f}{unit}"


def _timing_line(answer, prepared) -> str:
    from models.vlm.checkpoint import fmt_bytes  # noqa: PLC0415

    s = answer.stats
    mark = "" if answer.correct is None else ("  RIGHT" if answer.correct else "  WRONG")
    mark = "  n/a (abstained)" if answer.abstained else mark
    return (f"[frames {prepared.frames.indices}] load {_fmt(s.load_s, ' s')}  "
            f"TTFT {_fmt(s.ttft_s, ' s', 3)}  {_fmt(s.tokens_per_s, ' tok/s', 1)}  "
            f"prompt {s.prompt_tokens if s.prompt_tokens is not None else '?'} tok  "
            f"answer {s.completion_tokens if s.completion_tokens is not None else '?'} tok  "
            f"peak {fmt_bytes(s.peak_mem_bytes)}{mark}")


def run_models(args) -> int:
    from models.vlm import discovery  # noqa: PLC0415
    from models.vlm.checkpoint import fmt_bytes, fmt_params  # noqa: PLC0415
    from models.vlm.openai_http import redact  # noqa: PLC0415
    from models.vlm.prompts import load_templates  # noqa: PLC0415

    _quiet_libraries()
    repo = _repository(args, read_only_ok=True)  # listing only reads; changes say read-only
    if args.add_folder:
        discovery.add_folder(repo, args.add_folder)
    if args.remove_folder:
        discovery.remove_folder(repo, args.remove_folder)
    if args.add_endpoint:
        repo.add_endpoint(args.add_endpoint[0], args.add_endpoint[1], args.endpoint_model,
                          args.api_key_env)
    if args.remove_endpoint and not repo.remove_endpoint(args.remove_endpoint):
        print(f"error: no endpoint named '{args.remove_endpoint}'", file=sys.stderr)
        return 2
    found = discovery.discover(discovery.user_folders(repo) + list(args.folder))
    templates = {t.id: t.version for t in load_templates().values()}
    endpoints = [dict(ep, base_url=redact(ep["base_url"])) for ep in repo.endpoints()]
    if args.json:
        print(json.dumps({"checkpoints": found, "endpoints": endpoints,
                          "templates": templates}, indent=2))
        return 0
    for e in found:
        size = fmt_params(e["params"]) if e["params"] else "?"
        state = "runnable" if e["runnable"] else f"NOT runnable: {e['reason']}"
        print(f"{e['spec']}  [{e['family_label']}, {size} params, ~{fmt_bytes(e['memory_bf16'])} "
              f"in bf16, {e['source']}]  {state}")
    for ep in endpoints:
        print(f"endpoint:{ep['name']}  {ep['base_url']}  model={ep['model'] or '(first)'}")
    print("templates: " + ", ".join(f"{k} v{v}" for k, v in templates.items()))
    return 0
