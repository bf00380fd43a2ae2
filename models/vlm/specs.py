"""Turn a user's model choice (CLI ``--model``, a GUI picker entry) into a backend.

``http(s)://host:port/v1[#model]`` -> OpenAI-compatible server (model after ``#``);
``endpoint:NAME`` -> an endpoint saved in the project; ``rule`` -> the rule-based
describer; ``vllm:<folder or id>`` -> the checkpoint in the optional local vLLM engine;
anything else -> a local checkpoint folder or a Hugging Face cache id (``local:`` in front
is allowed); a PEFT adapter folder (``adapter.py``) or ``BASE + ADAPTER_FOLDER`` -> the
base checkpoint with the adapter applied.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from .registry import create_backend
from .types import VLMError

if TYPE_CHECKING:
    from .storage import EndpointStore


@dataclass
class BackendChoice:
    kind: str                          # "transformers" | "openai" | "rule"
    settings: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        s = self.settings
        if s.get("label"):
            return s["label"]
        if self.kind == "openai":
            from .openai_http import redact  # noqa: PLC0415

            return f"{s.get('model') or '?'} @ {redact(s.get('base_url') or '')}"
        return s.get("label") or str(s.get("model", self.kind))


def parse_model(spec: str, repo: Optional[EndpointStore] = None, **local_opts) -> BackendChoice:
    spec = (spec or "").strip()
    if not spec:
        raise VLMError("No model given; pass a checkpoint folder, a cached model id or a URL")
    if spec == "rule":
        return BackendChoice("rule")
    if spec.startswith(("http://", "https://")):
        url, _, model = spec.partition("#")
        return BackendChoice("openai", {"base_url": url, "model": model})
    if spec.startswith("endpoint:"):
        return _endpoint(spec.split(":", 1)[1], repo)
    if spec.startswith("vllm:"):
        model = spec.split(":", 1)[1].strip()
        if not model:
            raise VLMError("vllm: needs a checkpoint folder or cached model id after it")
        from .adapter import split_spec  # noqa: PLC0415

        if split_spec(model) is not None:
            raise VLMError(f"vllm: '{model}' is an adapter; run it with the local transformers "
                           "backend (without vllm:) or merge it into a full checkpoint first")
        opts = {k: v for k, v in local_opts.items()
                if v is not None and k in ("dtype", "trust_remote_code")}
        return BackendChoice("vllm", dict(opts, model=model))
    opts = {k: v for k, v in local_opts.items() if v is not None}
    return BackendChoice("transformers", dict(opts, model=spec))


def _endpoint(name: str, repo: Optional[EndpointStore]) -> BackendChoice:
    row = repo.endpoint(name) if repo is not None else None
    if row is None:
        raise VLMError(f"No saved endpoint named '{name}'")
    return BackendChoice("openai", {"base_url": row["base_url"], "model": row["model"],
                                    "api_key_env": row["api_key_env"], "label": name})


def make_backend(choice: BackendChoice, track=None, **extra):
    if choice.kind == "rule":
        return create_backend("rule", track=track)
    settings = dict(choice.settings)
    if choice.kind == "openai":
        settings.update({k: v for k, v in extra.items() if k in ("api_key", "timeout_s",
                                                                   "deadline_s", "stream",
                                                                   "retries")})
    return create_backend(choice.kind, **settings)


def backend_for(spec: str, repo: Optional[EndpointStore] = None, track=None, **opts) -> object:
    local = {k: opts.pop(k) for k in ("device", "dtype", "quantization", "trust_remote_code",
                                      "memory_limit_bytes", "merge_adapter") if k in opts}
    return make_backend(parse_model(spec, repo, **local), track=track, **opts)
