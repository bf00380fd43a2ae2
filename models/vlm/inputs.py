"""Turn a ``VLMRequest`` into processor inputs for a loaded transformers backend.

Frames always reach the processor as decoded arrays (a stacked ``(T, H, W, 3)`` video) or
PIL images, never as file paths. A family that takes video gets the frames as one video
(with their real timestamps where the processor uses them); otherwise, one image each.
"""
from __future__ import annotations

import numpy as np

from .types import VLMError, VLMRequest


def use_video(family, request: VLMRequest) -> bool:
    return bool(family.video and request.as_video and len(request.frames) >= 2)


def chat_with_media(request: VLMRequest, as_video: bool) -> list[dict]:
    """Chat messages in the structured-content form chat templates expect."""
    media = ([{"type": "video"}] if as_video
             else [{"type": "image"} for _ in request.frames])
    last_user = max(i for i, m in enumerate(request.messages) if m.get("role") == "user")
    out = []
    for i, m in enumerate(request.messages):
        content = [{"type": "text", "text": str(m.get("content", ""))}]
        out.append({"role": m["role"], "content": (media + content) if i == last_user else content})
    return out


def _same_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    if all(f.shape[:2] == (h, w) for f in frames):
        return frames
    raise VLMError("Frames of one video input must all have the same size")


def _video_kwargs(family, request: VLMRequest, proc) -> dict:
    kwargs = dict(family.video_kwargs)
    if hasattr(getattr(proc, "video_processor", None), "cap_pixels_per_frame"):
        kwargs["cap_pixels_per_frame"] = True  # the reference per-frame pixel budget
    if family.video_metadata:
        from transformers.video_utils import VideoMetadata  # noqa: PLC0415

        idx = list(request.frame_indices) or list(range(len(request.frames)))
        fps = float(request.fps or 1.0)
        kwargs["video_metadata"] = [VideoMetadata(total_num_frames=max(idx) + 1, fps=fps,
                                                  frames_indices=idx)]
    return kwargs


def processor_inputs(backend, request: VLMRequest) -> dict:
    """Tokenised prompt + pixel tensors, on the backend's device and dtype."""
    from PIL import Image  # noqa: PLC0415

    proc, family = backend.processor, backend.family
    as_video = use_video(family, request)
    messages = chat_with_media(request, as_video)
    try:
        text = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    except Exception as exc:  # noqa: BLE001 (jinja errors of a broken template)
        raise VLMError(f"The checkpoint's chat template failed: {exc}") from None
    kwargs: dict = {"text": [text], "return_tensors": "pt"}
    if as_video:
        kwargs["videos"] = [np.stack(_same_size(request.frames))]
        kwargs.update(_video_kwargs(family, request, proc))
    elif request.frames:
        kwargs["images"] = [Image.fromarray(f) for f in request.frames]
    batch = proc(**kwargs)
    return _to_device(batch, backend.model)


def _to_device(batch, model) -> dict:
    import torch  # noqa: PLC0415

    out = {}
    device, model_dtype = model.device, model.dtype      # each walks the parameters: once
    for key, value in dict(batch).items():
        if isinstance(value, torch.Tensor):
            # pixels take the model's dtype; other floats (e.g. seconds per video grid,
            # used for rotary positions) keep their precision
            dtype = model_dtype if key.startswith("pixel_values") else None
            value = value.to(device, dtype=dtype)
        out[key] = value
    return out


def batch_key(family, request: VLMRequest) -> tuple:
    """Requests with equal keys can share one batch: same media kind, frame count, frame
    size and generation parameters."""
    shape = tuple(request.frames[0].shape) if request.frames else ()
    p = request.params
    return (use_video(family, request), len(request.frames), shape, p.max_new_tokens,
            p.temperature, p.top_p, p.seed)


def processor_inputs_batch(backend, requests: list[VLMRequest]) -> dict:
    """Processor outputs for several requests of one ``batch_key`` in one call: the
    prompts left-padded (generation continues every row from its right end), one video (or
    the images) per request in request order. Raises whatever the processor raises when
    it cannot batch this input (the caller falls back to one request at a time)."""
    from PIL import Image  # noqa: PLC0415

    proc, family = backend.processor, backend.family
    as_video = use_video(family, requests[0])
    texts = []
    for request in requests:
        try:
            texts.append(proc.apply_chat_template(chat_with_media(request, as_video),
                                                  add_generation_prompt=True, tokenize=False))
        except Exception as exc:  # noqa: BLE001 (jinja errors of a broken template)
            raise VLMError(f"The checkpoint's chat template failed: {exc}") from None
    kwargs: dict = {"text": texts, "return_tensors": "pt", "padding": True}
    if as_video:
        kwargs["videos"] = [np.stack(_same_size(r.frames)) for r in requests]
        per = [_video_kwargs(family, r, proc) for r in requests]
        kwargs.update({k: v for k, v in per[0].items() if k != "video_metadata"})
        if "video_metadata" in per[0]:
            kwargs["video_metadata"] = [m for p in per for m in p["video_metadata"]]
    elif requests[0].frames:
        kwargs["images"] = [[Image.fromarray(f) for f in r.frames] for r in requests]
    tok = getattr(proc, "tokenizer", proc)
    side = getattr(tok, "padding_side", "right")
    tok.padding_side = "left"
    try:
        batch = proc(**kwargs)
    finally:
        tok.padding_side = side
    return _to_device(batch, backend.model)
