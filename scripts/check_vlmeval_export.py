"""Check VLMEvalKit exports with the REAL ms-vlmeval loaders (run in the side venv).

    python check_vlmeval_export.py VIDEO_DIR NAME FRAMES_DIR PREDICTIONS.json

Loads the video TSV through the exported VideoBaseDataset subclass (LMUData=VIDEO_DIR),
builds a prompt, scores PREDICTIONS (qa_id -> text) with the class; then loads the frames
TSV with ``vlmeval.dataset.build_dataset`` (no code) and builds one prompt. Last stdout
line is JSON.
"""
import importlib.util
import json
import os
import sys


def check_video(folder, name, preds):
    os.environ["LMUData"] = folder
    spec = importlib.util.spec_from_file_location(f"{name}_dataset", os.path.join(folder, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cls = [v for k, v in vars(mod).items() if k.endswith("Dataset") and k != "VideoBaseDataset"][0]
    ds = cls(dataset=name)
    msgs = ds.build_prompt(0, video_llm=True)
    video = [m["value"] for m in msgs if m["type"] == "video"][0]
    data = ds.data.copy()
    data["prediction"] = [preds.get(q, "") for q in data["qa_id"]]
    # frames mode: the harness samples nframe frames per clip with decord
    framed = cls(dataset=name, nframe=4).build_prompt(0, video_llm=False)
    images = [m["value"] for m in framed if m["type"] == "image"]
    return {"len": len(ds), "video_exists": os.path.isfile(video),
            "prompt": [m["value"] for m in msgs if m["type"] == "text"][0],
            "score": cls.score(data), "frames_mode": len(images),
            "frames_mode_exist": all(os.path.getsize(p) > 0 for p in images)}


def check_frames(folder, name):
    os.environ["LMUData"] = folder
    from vlmeval.dataset import build_dataset
    ds = build_dataset(name + "_frames")
    prompts = [ds.build_prompt(ds.data.iloc[i]) for i in range(len(ds.data))]
    images = [[m["value"] for m in msgs if m["type"] == "image"] for msgs in prompts]
    return {"class": type(ds).__name__, "len": len(ds.data),
            "images_exist": all(p and all(os.path.isfile(x) for x in p) for p in images),
            "text": [m["value"] for m in prompts[0] if m["type"] == "text"][-1]}


if __name__ == "__main__":
    video_dir, name, frames_dir, pred_file = sys.argv[1:5]
    preds = json.load(open(pred_file, encoding="utf-8"))
    out = {"video": check_video(video_dir, name, preds), "frames": check_frames(frames_dir, name)}
    print(json.dumps(out, default=str))
