"""A dataset run whose MLLM stages use a fine-tuned adapter (``BASE + ADAPTER``): the config
resolves the adapter folder relative to itself, the plan lists the stages, and the p3_qa
stage runs on the tiny base with the adapter merged; its results name the adapter and carry
its revision (base revision + adapter digest)."""
from __future__ import annotations

import pytest

from models.engine.config import parse_config
from models.engine.plan import plan_run
from models.engine.stage import ConfigError, get_stage
from models.engine.stages import proxy
from models.vlm.adapter import resolve_adapter
from tests.adapter_fixtures import make_adapter
from tests.engine.test_stages_proxy import CLIP, RunContext, _ok, _run, _task, _upstream_texts
from tests.vlm_fixtures import tiny_checkpoint


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfg")
    base = tiny_checkpoint("qwen2_5_vl")
    make_adapter(base, root / "lora")
    return root, base


def test_config_with_an_adapter_plans_and_runs_p3(adapter_dir):
    root, base = adapter_dir
    (root / "list.csv").write_text(f"video\n{CLIP}\n")
    spec = f"{base} + lora"                       # the adapter relative to the config
    cfg = parse_config({"run": {"manifest": str(root / "list.csv"), "output": str(root / "run")},
                        "stages": {"p3_qa": {"model": spec, "max_new_tokens": 6},
                                   "p1_describe": {"model": spec, "frames": 2, "windows": 1},
                                   "p2_differences": {"model": spec}}}, base_dir=root)
    resolved = f"{base} + {root / 'lora'}"
    assert cfg.stages[proxy.P3]["model"] == resolved
    assert cfg.model_id(get_stage(proxy.P3), cfg.stages[proxy.P3]) == resolved
    plan = plan_run(cfg)
    assert plan["items"] == 1
    assert proxy.P3 in [s["name"] for s in plan["stages"]]
    params = {k: v for k, v in cfg.stages[proxy.P3].items()}
    res = _ok(_run(_task(proxy.P3, upstream=_upstream_texts(), **params), RunContext()))
    prov = res["provenance"]
    adapter = resolve_adapter(str(root / "lora"))
    assert prov["backend"] == "transformers" and prov["model_id"] == resolved
    assert prov["model_revision"].endswith("+" + adapter.digest)
    assert res["invalid_output"] is True                    # random weights: not JSON


def test_a_missing_adapter_folder_is_a_config_error(adapter_dir):
    root, base = adapter_dir
    with pytest.raises(ConfigError, match="adapter folder 'gone' does not exist"):
        parse_config({"run": {"manifest": "m.csv", "output": "o"},
                      "stages": {"p1_describe": {"model": f"{base} + gone"}}}, base_dir=root)
