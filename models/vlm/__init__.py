"""Video LLMs: ask a model about a clip, compare several side by side.

Importing this package is cheap: torch/transformers are imported inside the local backend
only when a model loads. Main entry points:

``registry``   declarative families (Qwen2.5-VL, Qwen3-VL, Qwen2-VL, InternVL,
               LLaVA-OneVision, SmolVLM2) and backend kinds (transformers, openai, rule)
``local``      ``TransformersBackend``: offline AutoProcessor + AutoModelForImageTextToText
``openai_http`` ``OpenAIBackend``: any OpenAI-compatible server (stdlib http.client)
``frames``     shared frame sampling (uniform / rate / marked, pixel cap, decoded once)
``prompts``    templates in resources/prompts (``"use": "ask"``), optional pose grounding
``service``    ``prepare`` -> ``run_answer`` / ``compare`` -> ``save_answer`` / ``save_comparison``
``discovery``  checkpoints in the HF cache and user folders; ``checkpoint`` memory checks
``tiny``       tiny (and real-size random) checkpoints built offline for tests/benchmarks
"""
