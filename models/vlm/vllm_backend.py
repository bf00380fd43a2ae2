"""Optional local vLLM backend (``pip install vllm``; needs an NVIDIA GPU).

Chosen with the model spec ``vllm:<checkpoint folder or cached id>``. It runs vLLM's
offline engine in this process (``vllm.LLM``), never a server. ``vllm`` is imported only
when the model loads; without it, choosing this backend fails with one clear message.

Inputs are the same as the transformers backend's: the prompt is the checkpoint's own chat
template (``AutoProcessor.apply_chat_template`` with one video placeholder, or one image
placeholder per frame), and the frames travel already decoded as
``multi_modal_data={"video": (T, H, W, 3) uint8 array}`` (or ``{"image": [PIL images]}``),
so vLLM does no video decoding or resampling of its own. ``limit_mm_per_prompt`` is set
from ``max_images`` / one video. ``generate_many`` hands all requests to one
``LLM.generate`` call (vLLM batches and schedules them itself); ``generate`` is a batch of
one, so a single answer arrives whole (no streaming).
"""
from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from ..errors import BackendUnavailable, Cancelled
from ..jobs import NULL_CONTEXT
from .many import Generated, Result
from .types import AnswerStats, BackendInfo, VLMError, VLMRequest, first_line

INSTALL_HINT = "pip install vllm (the GPU extra; needs an NVIDIA GPU with CUDA)"
DTYPES = {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def require_vllm() -> None:
    if not vllm_available():
        raise BackendUnavailable(f"The vLLM backend needs the vllm package, which is not "
                                 f"installed: {INSTALL_HINT}")


class VLLMBackend:
    kind = "vllm"

    def __init__(self, model: str, dtype: str = "auto", max_images: int = 32,
                 max_model_len: Optional[int] = None, gpu_memory_utilization: float = 0.9,
                 tensor_parallel_size: int = 1, trust_remote_code: bool = False,
                 label: str = "", device: str = "cuda", seed: int = 0,
                 engine_args: Optional[dict] = None) -> None:
        if dtype not in DTYPES:
            raise VLMError(f"Unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
        self.spec, self.dtype = model, dtype
        self.max_images = max(1, int(max_images))
        self.max_model_len = max_model_len
        self.gpu_memory_utilization = float(gpu_memory_utilization)
        self.tensor_parallel_size = max(1, int(tensor_parallel_size))
        self.trust_remote_code = trust_remote_code
        self.device_pref = device
        self.device = ""
        self.seed = seed
        self.engine_args = dict(engine_args or {})
        self.llm: Any = None
        self.processor: Any = None
        self.family: Any = None
        self.info = BackendInfo("vllm", model, label=label or f"{Path(model).name} (vLLM)")
        self.load_s = 0.0
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self.llm is not None

    # -- loading ----------------------------------------------------------------------------------
    def load(self, ctx=NULL_CONTEXT) -> None:
        if self.loaded:
            return
        require_vllm()
        from .checkpoint import require_runnable  # noqa: PLC0415
        from .local import resolve_model  # noqa: PLC0415
        from .registry import GENERIC  # noqa: PLC0415

        t0 = time.perf_counter()
        folder = resolve_model(self.spec)
        ckpt = require_runnable(folder, self.trust_remote_code)
        ctx.progress(0, 2, f"loading {folder.name} into vLLM")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers import AutoProcessor  # noqa: PLC0415
            from vllm import LLM  # noqa: PLC0415

            self.processor = AutoProcessor.from_pretrained(
                folder, local_files_only=True, trust_remote_code=self.trust_remote_code)
            kwargs = dict(model=str(folder), dtype=DTYPES[self.dtype],
                          limit_mm_per_prompt={"image": self.max_images, "video": 1},
                          gpu_memory_utilization=self.gpu_memory_utilization,
                          tensor_parallel_size=self.tensor_parallel_size,
                          trust_remote_code=self.trust_remote_code, seed=self.seed)
            if self.max_model_len:
                kwargs["max_model_len"] = int(self.max_model_len)
            kwargs.update(self.engine_args)
            self.llm = LLM(**kwargs)
        except BackendUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 (CUDA, engine and config errors: one line)
            self.llm = None
            raise VLMError(f"vLLM cannot load {folder.name}: {first_line(exc)}") from None
        self.family = ckpt.family or GENERIC
        self.device = "cuda"
        self.info = BackendInfo("vllm", self.spec, ckpt.revision, self.family.id, self.device,
                                self.dtype, self.info.label)
        self.load_s = time.perf_counter() - t0
        ctx.progress(2, 2, "model loaded")

    def unload(self) -> None:
        llm, self.llm, self.processor = self.llm, None, None
        if llm is None:
            return
        del llm
        import gc  # noqa: PLC0415

        gc.collect()
        try:
            import torch  # noqa: PLC0415

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    # -- generation -------------------------------------------------------------------------------
    def prompt_for(self, request: VLMRequest) -> dict:
        """vLLM's prompt dict of one request: chat-templated text + decoded frames."""
        import numpy as np  # noqa: PLC0415

        from .inputs import _same_size, chat_with_media, use_video  # noqa: PLC0415

        as_video = use_video(self.family, request)
        if not as_video and len(request.frames) > self.max_images:
            raise VLMError(f"{len(request.frames)} frames as images is more than this vLLM "
                           f"engine takes per prompt ({self.max_images}); sample fewer")
        try:
            text = self.processor.apply_chat_template(chat_with_media(request, as_video),
                                                      add_generation_prompt=True,
                                                      tokenize=False)
        except Exception as exc:  # noqa: BLE001 (jinja errors of a broken template)
            raise VLMError(f"The checkpoint's chat template failed: {exc}") from None
        prompt: dict = {"prompt": text}
        if as_video:
            prompt["multi_modal_data"] = {"video": np.stack(_same_size(request.frames))}
        elif request.frames:
            from PIL import Image  # noqa: PLC0415

            images = [Image.fromarray(f) for f in request.frames]
            prompt["multi_modal_data"] = {"image": images[0] if len(images) == 1 else images}
        return prompt

    def generate(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Iterator[Union[str, Generated]]:
        (result,) = self.generate_many([request], ctx)
        if isinstance(result, VLMError):
            raise result
        if result.text:
            yield result.text
        yield result

    def generate_many(self, requests, ctx=NULL_CONTEXT,
                      max_concurrency: Optional[int] = None) -> list[Result]:
        """Every request in one ``LLM.generate`` call (vLLM schedules the batch; a given
        ``max_concurrency`` caps the requests handed over per call). Results in order."""
        requests = list(requests)
        if not requests:
            return []
        self.load(ctx)
        out: list[Optional[Result]] = [None] * len(requests)
        ready: list[tuple[int, dict, object]] = []
        for i, request in enumerate(requests):
            try:
                request.validate()
                ready.append((i, self.prompt_for(request), _sampling(request.params)))
            except VLMError as exc:
                out[i] = exc
        step = max(1, int(max_concurrency)) if max_concurrency else max(1, len(ready))
        for start in range(0, len(ready), step):
            ctx.check()
            part = ready[start:start + step]
            t0 = time.perf_counter()
            try:
                with self._lock:
                    outputs = self.llm.generate([p for _i, p, _s in part],
                                                [s for _i, _p, s in part], use_tqdm=False)
            except Exception as exc:  # noqa: BLE001 (one line for the part that failed)
                err = VLMError(f"vLLM generation failed: {first_line(exc)}")
                for i, _p, _s in part:
                    out[i] = err
                continue
            took = time.perf_counter() - t0
            for (i, _p, _s), o in zip(part, outputs):
                out[i] = self._generated(o, took)
        ctx.check()
        if ctx.cancelled:
            raise Cancelled("Generation cancelled by the user.")
        return out  # type: ignore[return-value]

    def _generated(self, output, took: float) -> Generated:
        best = output.outputs[0]
        ids = list(getattr(best, "token_ids", []) or [])
        prompt_ids = getattr(output, "prompt_token_ids", None)
        stats = AnswerStats(load_s=self.load_s, ttft_s=took, total_s=took,
                            prompt_tokens=len(prompt_ids) if prompt_ids is not None else None,
                            completion_tokens=len(ids))
        return Generated(best.text or "", stats, self.info, "", token_ids=ids)


def _sampling(params):
    from vllm import SamplingParams  # noqa: PLC0415

    return SamplingParams(max_tokens=params.max_new_tokens, temperature=params.temperature,
                          top_p=params.top_p, seed=params.seed)
