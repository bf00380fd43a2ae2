"""Local transformers backend: AutoProcessor + AutoModelForImageTextToText, offline.

The checkpoint comes from a folder or the Hugging Face cache (``org/name``), always with
``local_files_only=True``. Before loading, the weights' memory is estimated from the
safetensors headers and the load is refused when it cannot fit. One model is resident per
device (``ResidentModels``); tokens stream through ``streaming.IncrementalText``, which
also ends generation when ``ctx.cancelled``.
"""
from __future__ import annotations

import gc
import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from ..errors import Cancelled
from ..jobs import NULL_CONTEXT
from .checkpoint import (check_fits, estimate_bytes, fmt_bytes, fmt_params,
                         params_from_config, require_runnable)
from .many import Generated
from .registry import GENERIC, Family
from .types import BackendInfo, VLMError, VLMRequest, first_line

DTYPES = ("auto", "bf16", "fp16", "fp32")
DEVICES = ("auto", "cuda", "mps", "cpu")


def hub_cache_dir() -> Path:
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env)
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache",
                                                      "huggingface")
    return Path(home) / "hub"


def resolve_model(spec: str) -> Path:
    """A folder, or ``org/name`` found in the HF cache (``refs/main`` snapshot)."""
    p = Path(spec).expanduser()
    if p.exists():
        if not p.is_dir():
            raise VLMError(f"{p} is a file; choose the checkpoint folder (with config.json)")
        return p
    repo = hub_cache_dir() / ("models--" + spec.replace("/", "--"))
    snaps = repo / "snapshots"
    if snaps.is_dir():
        ref = repo / "refs" / "main"
        if ref.is_file() and (snaps / ref.read_text().strip()).is_dir():
            return snaps / ref.read_text().strip()
        found = sorted(snaps.iterdir(), key=lambda d: d.stat().st_mtime)
        if found:
            return found[-1]
    raise VLMError(f"Model '{spec}' is neither a folder nor in the Hugging Face cache "
                   f"({hub_cache_dir()}); downloads are not made by this app")


def pick_device(pref: str = "auto") -> str:
    import torch  # noqa: PLC0415

    if pref not in DEVICES and not pref.startswith("cuda:"):
        raise VLMError(f"Unknown device '{pref}'; choose one of {', '.join(DEVICES)}")
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise VLMError("CUDA was chosen but no CUDA GPU is available to PyTorch")
    if pref == "mps" and not torch.backends.mps.is_available():
        raise VLMError("MPS was chosen but Apple GPU support is not available")
    if pref != "auto":
        return pref
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def pick_dtype(pref: str, device: str) -> str:
    if pref not in DTYPES:
        raise VLMError(f"Unknown dtype '{pref}'; choose one of {', '.join(DTYPES)}")
    if pref != "auto":
        return pref
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp16" if device == "mps" else "fp32"


def torch_dtype(name: str):
    import torch  # noqa: PLC0415

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


class ResidentModels:
    """One loaded model per device: making one resident unloads the previous one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_device: dict[str, "TransformersBackend"] = {}

    def make_resident(self, backend: "TransformersBackend") -> None:
        with self._lock:
            previous = self._by_device.get(backend.device)
            self._by_device[backend.device] = backend
        if previous is not None and previous is not backend:
            previous.unload()

    def release(self, backend: "TransformersBackend") -> None:
        with self._lock:
            if self._by_device.get(backend.device) is backend:
                del self._by_device[backend.device]

    def resident(self, device: str) -> Optional["TransformersBackend"]:
        return self._by_device.get(device)


RESIDENT = ResidentModels()


class TransformersBackend:
    kind = "transformers"

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto",
                 quantization: Optional[str] = None, trust_remote_code: bool = False,
                 memory_limit_bytes: Optional[int] = None, label: str = "",
                 threads: Optional[int] = None, stream_interval_s: float = 0.03,
                 merge_adapter: Optional[bool] = None) -> None:
        if quantization not in (None, "8bit", "4bit"):
            raise VLMError(f"Unknown quantisation '{quantization}'; choose 8bit or 4bit")
        from .adapter import split_spec, strip_local  # noqa: PLC0415

        self.spec, self.device_pref, self.dtype_pref = model, device, dtype
        # a PEFT adapter on its base (``adapter``); merged into the base after loading
        # unless ``merge_adapter`` is False or the base is quantised
        self.adapter_spec = split_spec(model)
        if self.adapter_spec is not None:   # a missing or other base: refused before any load
            from .adapter import resolve_adapter  # noqa: PLC0415

            resolve_adapter(self.adapter_spec.adapter, self.adapter_spec.base)
        self.merge_adapter = merge_adapter
        self.adapter = None
        self.adapter_merged = False
        self.quantization, self.trust_remote_code = quantization, trust_remote_code
        self.memory_limit_bytes = memory_limit_bytes
        # torch intra-op threads of the generating thread (None: ACTIONART_TORCH_THREADS or
        # every core) and the most often streamed text is handed to the caller
        from .streaming import torch_threads  # noqa: PLC0415

        self.threads = int(threads) if threads else torch_threads()
        self.threads_used = 0
        self.stream_interval_s = stream_interval_s
        self.model: Any = None
        self.processor: Any = None
        self.family: Optional[Family] = None
        self.device = ""
        self.info = BackendInfo("transformers", model,
                                label=label or self._default_label(strip_local(model)))
        self.load_s = 0.0
        self.params: Optional[int] = None
        self._worker = None                    # GenerationWorker while loaded
        self._batch_lock = threading.Lock()    # one batch at a time on this model

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def _default_label(self, spec: str) -> str:
        a = self.adapter_spec
        if a is None:
            return Path(spec).name
        from .adapter import SEPARATOR, read_adapter_config  # noqa: PLC0415

        base = a.base
        if base is None:
            try:
                base = read_adapter_config(a.adapter).get("base_model_name_or_path")
            except VLMError:
                base = None      # loading says why
        name = Path(base.rstrip("/")).name if base else "base"
        return f"{name}{SEPARATOR}{Path(a.adapter).name}"

    # -- loading ------------------------------------------------------------------------
    def load(self, ctx=NULL_CONTEXT) -> None:
        if self.loaded:
            return
        t0 = time.perf_counter()
        adapter = None
        if self.adapter_spec is not None:
            from .adapter import resolve_adapter  # noqa: PLC0415

            adapter = resolve_adapter(self.adapter_spec.adapter, self.adapter_spec.base)
            if importlib.util.find_spec("peft") is None:
                raise VLMError(f"Adapter {adapter.folder.name} needs peft (pip install peft)")
            folder = adapter.base_folder
        else:
            from .adapter import strip_local  # noqa: PLC0415

            folder = resolve_model(strip_local(self.spec))
        ckpt = require_runnable(folder, self.trust_remote_code)
        self.device = pick_device(self.device_pref)
        dtype = pick_dtype(self.dtype_pref, self.device)
        self._check_quantization()
        self.params = ckpt.params or self._params_from_config(folder)
        if adapter is not None:
            self.params += adapter.params
        need = estimate_bytes(self.params, dtype, self.quantization)
        ctx.progress(0, 2, f"loading {self.info.label}: {fmt_params(self.params)} parameters, "
                           f"needs about {fmt_bytes(need)} on {self.device}")
        check_fits(self.params, dtype, self.device, self.quantization, self.memory_limit_bytes)
        RESIDENT.make_resident(self)
        ctx.check()
        self._load_weights(folder, dtype)
        revision = ckpt.revision
        if adapter is not None:
            self._apply_adapter(adapter)
            revision = f"{ckpt.revision}+{adapter.digest}"
        self.family = ckpt.family or GENERIC
        self.info = BackendInfo("transformers", self.spec, revision, self.family.id,
                                self.device, dtype, self.info.label)
        self.load_s = time.perf_counter() - t0
        ctx.progress(2, 2, "model loaded")

    def _check_quantization(self) -> None:
        if self.quantization and importlib.util.find_spec("bitsandbytes") is None:
            raise VLMError(f"{self.quantization} loading needs bitsandbytes "
                           "(pip install bitsandbytes)")
        if self.quantization and not self.device.startswith("cuda"):
            raise VLMError("8-bit/4-bit loading needs a CUDA GPU")

    def _params_from_config(self, folder: Path) -> int:
        from transformers import AutoConfig  # noqa: PLC0415

        cfg = AutoConfig.from_pretrained(folder, local_files_only=True,
                                         trust_remote_code=self.trust_remote_code)
        return params_from_config(cfg)

    def _load_weights(self, folder: Path, dtype: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: PLC0415

        if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") == "1":
            from transformers.utils import logging as hf_logging  # noqa: PLC0415

            hf_logging.disable_progress_bar()
        common = dict(local_files_only=True, trust_remote_code=self.trust_remote_code)
        try:
            self.processor = AutoProcessor.from_pretrained(folder, **common)
            # safetensors only: never fall back to pickled weights (torch.load)
            kwargs = dict(common, dtype=torch_dtype(dtype), use_safetensors=True)
            if self.device.startswith("cuda") and importlib.util.find_spec("accelerate"):
                kwargs["device_map"] = {"": self.device}  # straight onto the GPU
            if self.quantization:
                from transformers import BitsAndBytesConfig  # noqa: PLC0415

                bits = {"load_in_8bit": True} if self.quantization == "8bit" else {"load_in_4bit": True}
                kwargs.update(quantization_config=BitsAndBytesConfig(**bits), device_map=self.device)
            model = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
        except Exception as exc:  # noqa: BLE001 (safetensors, torch and transformers errors)
            RESIDENT.release(self)
            raise VLMError(f"Cannot load {folder.name}: {first_line(exc)}") from None
        # transformers' stubs type ``to`` for a model class, not an instance
        self.model = model if "device_map" in kwargs else model.to(self.device)  # type: ignore[arg-type]
        self.model.eval()

    def _apply_adapter(self, adapter) -> None:
        """Wrap the loaded base in the PEFT adapter (safetensors weights only, checked
        before), then merge it into the base weights unless asked not to or quantised."""
        from peft import PeftModel  # noqa: PLC0415

        from .adapter import AdapterError  # noqa: PLC0415

        # merged by default, except into a quantised base (it would round the weights) or
        # with LoRA biases (PEFT cannot merge those into a layer without a bias)
        merge = (not self.quantization and not adapter.config.get("lora_bias")
                 if self.merge_adapter is None else bool(self.merge_adapter))
        if merge and self.quantization:
            RESIDENT.release(self)
            self.model = self.processor = None
            raise AdapterError(f"Adapter {adapter.folder.name}: merging into a {self.quantization} "
                               "base would round its weights; load it unmerged")
        try:
            # the folder's adapter_model.safetensors was checked to exist: PEFT reads it
            # before (and instead of) any pickled adapter_model.bin
            model = PeftModel.from_pretrained(self.model, str(adapter.folder),
                                              is_trainable=False)
            if merge:
                model = model.merge_and_unload()
        except Exception as exc:  # noqa: BLE001 (peft, torch and safetensors errors)
            RESIDENT.release(self)
            self.model = self.processor = None
            base = adapter.base_chosen or adapter.base_name or adapter.base_folder.name
            raise AdapterError(f"Cannot apply adapter {adapter.folder.name} to base "
                               f"'{base}': {first_line(exc)}") from None
        model.eval()
        self.model = model
        self.adapter = adapter
        self.adapter_merged = merge

    def worker(self):
        if self._worker is None:
            from .streaming import GenerationWorker  # noqa: PLC0415

            self._worker = GenerationWorker()
        return self._worker

    def unload(self) -> None:
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None
        if self.model is None:
            return
        self.model = self.processor = None
        RESIDENT.release(self)
        gc.collect()
        if self.device.startswith("cuda"):
            import torch  # noqa: PLC0415

            torch.cuda.empty_cache()

    # -- generation -----------------------------------------------------------------------
    def prepare(self, request: VLMRequest) -> dict:
        """Processor outputs (tensors on the device) for a request: identical inputs for
        the app path and the bare-generate benchmark."""
        from .inputs import processor_inputs  # noqa: PLC0415

        return processor_inputs(self, request)

    def generate_to(self, request: VLMRequest, ctx=NULL_CONTEXT, on_text=None) -> Generated:
        """Answer on the calling thread, calling ``on_text(chunk)`` as text decodes; returns
        the answer's ``Generated``. Same result as ``generate`` without a consumer thread."""
        request.validate()
        if not self.loaded:
            self.load(ctx)
        from .streaming import generate_to  # noqa: PLC0415

        parts: list[str] = []
        def take(text: str) -> None:
            parts.append(text)
            if on_text:
                on_text(text)
        stats, ids = generate_to(self, request, ctx, take)
        if ctx.cancelled:
            raise Cancelled("Generation cancelled by the user.")
        return Generated("".join(parts), stats, self.info, "", token_ids=ids)

    def generate_many(self, requests, ctx=NULL_CONTEXT,
                      max_concurrency: Optional[int] = None) -> list:
        """Answer ``requests`` in batches of up to ``max_concurrency`` (default 8) rows:
        requests with the same frame count, frame size and parameters go through the
        processor and ``model.generate`` together (left-padded); where the family's
        processor cannot batch them, one at a time (``batching``)."""
        requests = list(requests)
        if not requests:
            return []
        if not self.loaded:
            self.load(ctx)
        from .batching import generate_many  # noqa: PLC0415

        with self._batch_lock:
            return generate_many(self, requests, ctx, max_concurrency)

    def generate(self, request: VLMRequest, ctx=NULL_CONTEXT) -> Iterator[Union[str, Generated]]:
        """Yield text chunks as they decode, then the answer's ``Generated``."""
        request.validate()
        if not self.loaded:
            self.load(ctx)
        from .streaming import stream_generate  # noqa: PLC0415

        out: dict = {}
        parts: list[str] = []
        for chunk in stream_generate(self, request, ctx, out):
            parts.append(chunk)
            yield chunk
        if ctx.cancelled:
            raise Cancelled("Generation cancelled by the user.")
        yield Generated("".join(parts), out["stats"], self.info, "", token_ids=out["ids"])
