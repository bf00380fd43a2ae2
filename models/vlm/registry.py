"""Declarative registry of VLM families and backend kinds: data, not branches.

A *family* says how transformers implements a checkpoint (its ``model_type``): which
classes, whether it takes video input, extra processor arguments. A *backend kind* says
which module implements a way of answering (local transformers, OpenAI-compatible HTTP)
and which packages it needs; availability is checked without importing them.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Family:
    id: str
    label: str
    model_types: tuple[str, ...]
    model_class: str                       # transformers class (checked to exist)
    processor_class: str
    video: bool = True                     # processor takes a clip as one video input
    video_kwargs: dict = field(default_factory=dict)   # extra processor args for videos
    video_metadata: bool = False           # processor wants fps/frame indices for timing


FAMILIES: tuple[Family, ...] = (
    Family("qwen2_5_vl", "Qwen2.5-VL", ("qwen2_5_vl",), "Qwen2_5_VLForConditionalGeneration",
           "Qwen2_5_VLProcessor", video_kwargs={"do_sample_frames": False}),
    Family("qwen3_vl", "Qwen3-VL", ("qwen3_vl", "qwen3_vl_moe"), "Qwen3VLForConditionalGeneration",
           "Qwen3VLProcessor", video_kwargs={"do_sample_frames": False}, video_metadata=True),
    Family("qwen2_vl", "Qwen2-VL", ("qwen2_vl",), "Qwen2VLForConditionalGeneration",
           "Qwen2VLProcessor", video_kwargs={"do_sample_frames": False}),
    Family("internvl", "InternVL", ("internvl",), "InternVLForConditionalGeneration",
           "InternVLProcessor", video_kwargs={"do_sample_frames": False}),
    Family("llava_onevision", "LLaVA-OneVision", ("llava_onevision",),
           "LlavaOnevisionForConditionalGeneration", "LlavaOnevisionProcessor",
           video_kwargs={"do_sample_frames": False}),
    Family("smolvlm", "SmolVLM2", ("smolvlm",), "SmolVLMForConditionalGeneration",
           "SmolVLMProcessor", video_kwargs={"do_sample_frames": False}, video_metadata=True),
)

# Any other model type transformers maps to AutoModelForImageTextToText: images only.
GENERIC = Family("generic", "Other image-text model", (), "AutoModelForImageTextToText",
                 "AutoProcessor", video=False)

_BY_TYPE = {t: f for f in FAMILIES for t in f.model_types}


def family_for(model_type: str) -> Optional[Family]:
    """The family of a ``model_type`` we know by name (None for generic or unknown)."""
    return _BY_TYPE.get(model_type)


@dataclass(frozen=True)
class BackendKind:
    id: str
    label: str
    factory: str                           # "module:Class"
    requires: tuple[str, ...]              # importable top-level packages
    install_hint: str
    capabilities: tuple[str, ...] = ()


BACKEND_KINDS: tuple[BackendKind, ...] = (
    BackendKind("transformers", "Local model (transformers)",
                "models.vlm.local:TransformersBackend", ("torch", "transformers"),
                "pip install torch transformers", ("stream", "cancel", "video", "memory")),
    BackendKind("openai", "OpenAI-compatible server (vLLM, SGLang, Ollama, transformers serve)",
                "models.vlm.openai_http:OpenAIBackend", (), "nothing to install",
                ("stream", "cancel")),
    BackendKind("rule", "Rule-based describer (baseline, from poses)",
                "models.vlm.rule_backend:RuleBackend", (), "needs the clip's poses", ()),
    BackendKind("pool", "Pool of OpenAI-compatible servers (load balanced, failover)",
                "models.vlm.pool:EndpointPool", (), "nothing to install", ("batch",)),
    BackendKind("vllm", "Local model in vLLM (offline engine, GPU)",
                "models.vlm.vllm_backend:VLLMBackend", ("vllm",),
                "pip install vllm (the GPU extra; needs an NVIDIA GPU with CUDA)",
                ("video", "batch")),
)


def backend_kind(kind_id: str) -> BackendKind:
    for k in BACKEND_KINDS:
        if k.id == kind_id:
            return k
    from .types import VLMError  # noqa: PLC0415

    raise VLMError(f"Unknown backend kind '{kind_id}'; known: "
                   f"{', '.join(k.id for k in BACKEND_KINDS)}")


def missing_requirements(kind: BackendKind) -> list[str]:
    return [name for name in kind.requires if importlib.util.find_spec(name) is None]


def backend_class(kind_id: str):
    """Import and return the backend class of a kind (raises a clear error if missing)."""
    from ..errors import BackendUnavailable  # noqa: PLC0415

    kind = backend_kind(kind_id)
    missing = missing_requirements(kind)
    if missing:
        raise BackendUnavailable(f"{kind.label} needs {', '.join(missing)}: {kind.install_hint}")
    module_name, cls_name = kind.factory.split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def create_backend(kind_id: str, **settings):
    return backend_class(kind_id)(**settings)
