"""Tiny randomly initialised checkpoints of the supported VLM families, built offline.

Used by the tests, the benchmarks and ``bench/gpu_vlm.py --tiny``: each checkpoint is a
real ``save_pretrained`` folder (config, safetensors weights, tokenizer, processor with
image + video processor, chat template in the family's format) of about 1-2 MB, so the
production loader reads it exactly as it reads a downloaded model. Heavy imports are lazy.
"""
from __future__ import annotations

from pathlib import Path

# -- chat templates in each family's format (written for this project) -------------------
_QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

_INTERNVL_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<IMG_CONTEXT>\n{% elif c['type'] == 'video' %}<video>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

_LLAVA_OV_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'video' %}<video>\n{% endif %}{% endfor %}"
    "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

_SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'video' %}<video>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}")

_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                  "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
_QWEN_NAMED = {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
               "vision_start_token": "<|vision_start|>", "vision_end_token": "<|vision_end|>"}

_CORPUS = (
    "The person raises the left arm above the head while the right knee bends. "
    "Two people arm wrestle at a table; the right hand pushes and the elbow stays down. "
    "Answer with a letter: A, B, C or D. Describe the pose in this frame. "
    "What changed between frame A and frame B? The torso leans forward and turns left. "
    "Frame from 00:01 second seconds video image picture motion hands feet legs shoulders "
    "0 1 2 3 4 5 6 7 8 9 user assistant system You are a helpful assistant. ")


def _train_tokenizer(specials: list[str], named: dict, eos: str, pad: str, bos=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: PLC0415
    from transformers import PreTrainedTokenizerFast  # noqa: PLC0415

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=list(specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=pad,
                                   bos_token=bos, extra_special_tokens=dict(named))


def _ids(tok, **names) -> dict:
    return {key: tok.convert_tokens_to_ids(value) for key, value in names.items()}


def _text_cfg(tok, **extra) -> dict:
    cfg = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
               bos_token_id=tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id)
    cfg.update(extra)
    return cfg


# -- Qwen2-VL / Qwen2.5-VL / Qwen3-VL ---------------------------------------------------------
_QWEN_IDS = {f"{key}_id": token for key, token in _QWEN_NAMED.items()}
_QWEN_ROPE = {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}


def _qwen(tok, family: str, video_cls: str, patch: int, vision: dict, rope: dict, **text):
    """Config and processor of a tiny Qwen-VL (``family``: the transformers class prefix)."""
    import transformers as t  # noqa: PLC0415

    cfg = getattr(t, f"{family}Config")(
        text_config=_text_cfg(tok, **text, rope_parameters=rope),
        vision_config=dict(vision, depth=2, hidden_size=32, num_heads=2, patch_size=patch),
        **_ids(tok, **_QWEN_IDS))
    px = dict(min_pixels=(patch * 2) ** 2, max_pixels=(patch * 2) ** 2 * 16)
    size = {"shortest_edge": px["min_pixels"], "longest_edge": px["max_pixels"]}
    image = t.Qwen2VLImageProcessor(patch_size=patch, merge_size=2, temporal_patch_size=2,
                                    size=size)
    video = getattr(t, video_cls)(patch_size=patch, merge_size=2, temporal_patch_size=2,
                                  size=size)
    proc = getattr(t, f"{family}Processor")(image_processor=image, tokenizer=tok,
                                            video_processor=video, chat_template=_QWEN_TEMPLATE)
    return cfg, proc


def _qwen2_5_vl(tok):
    return _qwen(tok, "Qwen2_5_VL", "Qwen2VLVideoProcessor", 14,
                 dict(intermediate_size=64, out_hidden_size=32, window_size=56,
                      fullatt_block_indexes=[1]), _QWEN_ROPE)


def _qwen2_vl(tok):
    return _qwen(tok, "Qwen2VL", "Qwen2VLVideoProcessor", 14, dict(embed_dim=32, mlp_ratio=2),
                 _QWEN_ROPE)


def _qwen3_vl(tok):
    return _qwen(tok, "Qwen3VL", "Qwen3VLVideoProcessor", 16,
                 dict(intermediate_size=64, out_hidden_size=32, num_position_embeddings=64,
                      deepstack_visual_indexes=[1]),
                 {"rope_type": "default", "mrope_section": [1, 1, 2], "mrope_interleaved": True,
                  "rope_theta": 10000.0}, head_dim=8)


# -- InternVL ----------------------------------------------------------------------------------
def _internvl(tok):
    import transformers as t  # noqa: PLC0415

    cfg = t.InternVLConfig(
        text_config=dict(_text_cfg(tok), model_type="qwen2"),
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, image_size=[28, 28], patch_size=[14, 14]),
        image_seq_length=1, **_ids(tok, image_token_id="<IMG_CONTEXT>"))
    image = t.GotOcr2ImageProcessor(size={"height": 28, "width": 28}, crop_to_patches=False)
    video = t.InternVLVideoProcessor(size={"height": 28, "width": 28})
    proc = t.InternVLProcessor(image_processor=image, tokenizer=tok, video_processor=video,
                               image_seq_length=1, chat_template=_INTERNVL_TEMPLATE)
    return cfg, proc


# -- LLaVA-OneVision ---------------------------------------------------------------------------
def _llava_onevision(tok):
    import transformers as t  # noqa: PLC0415

    cfg = t.LlavaOnevisionConfig(
        text_config=dict(_text_cfg(tok), model_type="qwen2"),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32,
                           intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=28, patch_size=14),
        image_grid_pinpoints=[[28, 28]], vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        **_ids(tok, image_token_index="<image>", video_token_index="<video>"))
    image = t.LlavaOnevisionImageProcessor(size={"height": 28, "width": 28},
                                           image_grid_pinpoints=[[28, 28]])
    video = t.LlavaOnevisionVideoProcessor(size={"height": 28, "width": 28})
    proc = t.LlavaOnevisionProcessor(image_processor=image, tokenizer=tok, video_processor=video,
                                     num_image_tokens=4, vision_feature_select_strategy="full",
                                     chat_template=_LLAVA_OV_TEMPLATE)
    return cfg, proc


# -- SmolVLM2 ----------------------------------------------------------------------------------
def _smolvlm(tok):
    import transformers as t  # noqa: PLC0415

    cfg = t.SmolVLMConfig(
        text_config=dict(_text_cfg(tok), model_type="llama", head_dim=8),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8),
        scale_factor=2, **_ids(tok, image_token_id="<image>"))
    image = t.SmolVLMImageProcessor(size={"longest_edge": 32}, do_image_splitting=False,
                                    max_image_size={"longest_edge": 32})
    video = t.SmolVLMVideoProcessor(size={"longest_edge": 32}, max_image_size={"longest_edge": 32})
    proc = t.SmolVLMProcessor(image_processor=image, tokenizer=tok, video_processor=video,
                              image_seq_len=4, chat_template=_SMOLVLM_TEMPLATE)
    return cfg, proc


_SMOL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>",
                  "<fake_token_around_image>", "<image>", "<global-img>", "<video>"]

FAMILIES = {
    # family -> (special tokens first in the vocabulary, named tokens, eos, builder)
    "qwen2_5_vl": (_QWEN_SPECIALS, _QWEN_NAMED, "<|im_end|>", _qwen2_5_vl),
    "qwen2_vl": (_QWEN_SPECIALS, _QWEN_NAMED, "<|im_end|>", _qwen2_vl),
    "qwen3_vl": (_QWEN_SPECIALS, _QWEN_NAMED, "<|im_end|>", _qwen3_vl),
    "internvl": (["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>",
                  "<IMG_CONTEXT>", "<video>"],
                 {"start_image_token": "<img>", "end_image_token": "</img>",
                  "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"},
                 "<|im_end|>", _internvl),
    "llava_onevision": (["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"],
                        {"image_token": "<image>", "video_token": "<video>"},
                        "<|im_end|>", _llava_onevision),
    "smolvlm": (_SMOL_SPECIALS + [f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)],
                {"image_token": "<image>", "fake_image_token": "<fake_token_around_image>",
                 "global_image_token": "<global-img>", "end_of_utterance_token": "<end_of_utterance>",
                 "video_token": "<video>"},
                "<end_of_utterance>", _smolvlm),
}


def build_tiny_checkpoint(family: str, out_dir, seed: int = 0) -> Path:
    """Write a tiny random checkpoint of ``family`` to ``out_dir``; returns the folder."""
    import torch  # noqa: PLC0415
    import transformers as t  # noqa: PLC0415

    specials, named, eos, builder = FAMILIES[family]
    tok = _train_tokenizer(specials, named, eos=eos, pad="<|endoftext|>")
    config, processor = builder(tok)
    torch.manual_seed(seed)
    model = t.AutoModelForImageTextToText.from_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    return out


# -- real-size random checkpoints (benchmarks; no download: configs written here) --------------
def _smolvlm_256m(tok):
    """SmolVLM2-256M-like: 30-layer 576-wide llama text model, 12-layer SigLIP at 512 px."""
    import transformers as t  # noqa: PLC0415

    cfg = t.SmolVLMConfig(
        text_config=dict(_text_cfg(tok), model_type="llama", vocab_size=49280, hidden_size=576,
                         intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
                         rope_parameters={"rope_type": "default", "rope_theta": 100000.0}),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=512, patch_size=16),
        scale_factor=4, **_ids(tok, image_token_id="<image>"))
    size = {"longest_edge": 512}
    image = t.SmolVLMImageProcessor(size=size, max_image_size=size, do_image_splitting=False)
    video = t.SmolVLMVideoProcessor(size=size, max_image_size=size)
    proc = t.SmolVLMProcessor(image_processor=image, tokenizer=tok, video_processor=video,
                              image_seq_len=64, chat_template=_SMOLVLM_TEMPLATE)
    return cfg, proc


def _qwen2_5_vl_7b(tok):
    """Qwen2.5-VL-7B-like: 28-layer 3584-wide text model, 32-block 1280-wide vision tower."""
    import transformers as t  # noqa: PLC0415

    rope = {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1000000.0}
    cfg = t.Qwen2_5_VLConfig(
        text_config=_text_cfg(tok, vocab_size=152064, hidden_size=3584, intermediate_size=18944,
                              num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                              max_position_embeddings=128000, rope_parameters=rope),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16,
                           out_hidden_size=3584, patch_size=14, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31]),
        **_ids(tok, **_QWEN_IDS))
    image = t.Qwen2VLImageProcessor(patch_size=14, merge_size=2, temporal_patch_size=2)
    video = t.Qwen2VLVideoProcessor(patch_size=14, merge_size=2, temporal_patch_size=2)
    proc = t.Qwen2_5_VLProcessor(image_processor=image, tokenizer=tok, video_processor=video,
                                 chat_template=_QWEN_TEMPLATE)
    return cfg, proc


REAL_SIZE = {"smolvlm2_256m": ("smolvlm", _smolvlm_256m),
             "qwen2_5_vl_7b": ("qwen2_5_vl", _qwen2_5_vl_7b)}


def build_real_size_checkpoint(name: str, out_dir, dtype: str = "fp32", device: str = "cpu",
                               seed: int = 0) -> Path:
    """A real-size checkpoint with random weights, built from a config written here."""
    import torch  # noqa: PLC0415
    import transformers as t  # noqa: PLC0415

    family, builder = REAL_SIZE[name]
    specials, named, eos, _ = FAMILIES[family]
    tok = _train_tokenizer(specials, named, eos=eos, pad="<|endoftext|>")
    config, processor = builder(tok)
    torch.manual_seed(seed)
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    with torch.device(device):
        model = t.AutoModelForImageTextToText.from_config(config, dtype=torch_dtype)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    del model
    return out
