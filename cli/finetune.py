"""`finetune`: train a LoRA adapter on a project's accepted QA items or an exported
proxy-training folder; prints one progress line per step and a summary (no Qt imported)."""
from __future__ import annotations

import argparse
import os
import sys

from cli.argtypes import FRACTION, POSITIVE, non_negative_int, number, positive_int


def register(sub) -> None:
    ft = sub.add_parser("finetune", help="train a LoRA adapter on QA items (PEFT)")
    src = ft.add_mutually_exclusive_group()
    src.add_argument("--project", default=argparse.SUPPRESS,
                     help="train on this project's items (default status: accepted)")
    src.add_argument("--proxy-folder", default=None,
                     help="train on an exported proxy-training folder (messages/synth_qa.jsonl "
                          "or llava/synth_qa.json)")
    ft.add_argument("--base", required=True, help="base checkpoint folder or cached org/name")
    ft.add_argument("--out", required=True, help="folder for the adapter, its card and checkpoints")
    ft.add_argument("--config", default=None, help="settings file (.toml or .json)")
    ft.add_argument("--resume", action="store_true",
                    help="go on from the newest checkpoint in --out")
    ft.add_argument("--status", nargs="+", default=None,
                    help="with --project: review statuses to train on (default accepted)")
    ft.add_argument("--tasks", nargs="+", default=None, help="only these sub-tasks")
    ft.add_argument("--rank", type=positive_int, default=None)
    ft.add_argument("--alpha", type=POSITIVE, default=None)
    ft.add_argument("--dropout", type=number(0.0, 1.0, high_open=True), default=None)
    ft.add_argument("--target-modules", default=None,
                    help="comma-separated layer names in the language model "
                         "(default q_proj,k_proj,v_proj,o_proj)")
    ft.add_argument("--lr", dest="learning_rate", type=number(0.0, 1.0, low_open=True), default=None)
    ft.add_argument("--weight-decay", type=number(0.0), default=None)
    ft.add_argument("--warmup-steps", type=non_negative_int, default=None)
    ft.add_argument("--epochs", type=positive_int, default=None)
    ft.add_argument("--max-steps", type=positive_int, default=None)
    ft.add_argument("--frames", type=positive_int, default=None, help="frames per item (default 8)")
    ft.add_argument("--max-pixels", type=positive_int, default=None, help="pixels per frame")
    ft.add_argument("--template", default=None, help="prompt template (default mcq-letter-v1)")
    ft.add_argument("--max-length", type=positive_int, default=None, help="tokens per example")
    ft.add_argument("--seed", type=non_negative_int, default=None)
    ft.add_argument("--held-out", type=FRACTION, default=None,
                    help="fraction of clips kept out of training (default 0)")
    ft.add_argument("--batch-size", type=positive_int, default=None)
    ft.add_argument("--grad-accum", type=positive_int, default=None)
    ft.add_argument("--checkpoint-every", type=non_negative_int, default=None,
                    help="optimizer steps between checkpoints (0: none)")
    ft.add_argument("--device", default=None, help="auto, cpu, cuda, mps")
    ft.add_argument("--dtype", default=None, help="auto, bf16, fp16, fp32")
    ft.add_argument("--video-root", default=None, help="folder of the items' videos")
    ft.add_argument("--merge-to", default=None,
                    help="also save base + adapter merged as a full checkpoint here")
    ft.add_argument("--quiet", action="store_true", help="no progress lines")
    ft.set_defaults(func=run)


SETTINGS = ("rank", "alpha", "dropout", "target_modules", "learning_rate", "weight_decay",
            "warmup_steps", "epochs", "max_steps", "frames", "max_pixels", "template",
            "max_length", "seed", "held_out", "batch_size", "grad_accum", "checkpoint_every",
            "device", "dtype")


def _dataset(args, cfg):
    from models.finetune.config import FinetuneError  # noqa: PLC0415
    from models.finetune.data import build_dataset, project_records, proxy_records  # noqa: PLC0415

    project = getattr(args, "project", None)
    if args.proxy_folder:
        records, root = proxy_records(args.proxy_folder)
        source = f"proxy:{args.proxy_folder}"
    elif project:
        from models.store import Repository  # noqa: PLC0415

        if not os.path.isfile(project):     # never create a project from a mistyped path
            raise FinetuneError(f"No project file at {project}")
        repo = Repository(project, allow_read_only=True)
        try:
            records, root = project_records(repo, args.status or ["accepted"], args.tasks)
        finally:
            repo.close()
        source = f"project:{project}"
    else:
        raise FinetuneError("Pass --project FILE or --proxy-folder DIR (the items to train on)")
    return build_dataset(records, source, args.video_root or root, cfg.template, cfg.held_out,
                         cfg.seed, args.tasks)


def _printer(quiet: bool):
    def on_partial(info) -> None:
        if quiet or not isinstance(info, dict):
            return
        if "loss" in info:
            mem = info["peak_memory"] / 1024 ** 2
            print(f"step {info['step']}/{info['total']} epoch {info['epoch'] + 1} "
                  f"loss {info['loss']:.4f} lr {info['lr']:.2e} "
                  f"{info['tokens_per_s']:.0f} tok/s peak {mem:.0f} MiB "
                  f"eta {info['eta_s']:.0f}s", flush=True)
        elif "checkpoint" in info:
            print(f"checkpoint at step {info['checkpoint']}", flush=True)
        elif "resumed_from" in info:
            print(f"resuming from step {info['resumed_from']}", flush=True)
    return on_partial


def run(args) -> int:
    from models.finetune.config import make_config  # noqa: PLC0415
    from models.finetune.train import finetune  # noqa: PLC0415
    from models.jobs import JobContext  # noqa: PLC0415

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cfg = make_config(args.config, **{k: getattr(args, k) for k in SETTINGS})
    if args.merge_to:               # refused now, not after the training
        from models.finetune.merge import check_merge_target  # noqa: PLC0415

        check_merge_target(args.merge_to)
    dataset = _dataset(args, cfg)
    for task in dataset.empty_tasks:
        print(f"note: sub-task {task} has no training items", file=sys.stderr)
    if dataset.skipped:
        print(f"note: {len(dataset.skipped)} item(s) skipped: "
              + "; ".join(f"{q} ({why})" for q, why in dataset.skipped[:5])
              + (" ..." if len(dataset.skipped) > 5 else ""), file=sys.stderr)
    print(f"training on {len(dataset.train)} item(s), {len(dataset.held_out)} held out "
          f"({dataset.source})", flush=True)
    result = finetune(args.base, dataset, cfg, args.out,
                      JobContext(on_partial=_printer(args.quiet)), resume=args.resume)
    res = result.card["result"]
    held = "-" if result.held_out_loss is None else f"{result.held_out_loss:.4f}"
    print(f"Adapter written to {result.out_dir}: {result.steps} steps in {result.seconds:.1f}s, "
          f"loss {res['first_loss']:.4f} -> {res['final_loss']:.4f}, held-out loss {held}")
    if args.merge_to:
        from models.finetune.merge import merge_adapter  # noqa: PLC0415

        merged = merge_adapter(result.out_dir, args.merge_to, cfg.device)
        print(f"Merged checkpoint written to {merged}")
    return 0
