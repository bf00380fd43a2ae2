"""Frame sampling speed: 16 frames from 720p / 1080p H.264 clips.

Compares, on identical indices: one sequential grab-skip pass, one seek per frame, and the
app's sampler (``models.vlm.frames.sample_frames``, which picks one of the two from the
mean gap between picks). Prints times and the ratio app / per-frame-seek.

The 720p/1080p test clips are made once (in a temp folder) by re-encoding the real 1080p
clip ``two_people_room.mp4`` looped 4x with H.264 (libx264 defaults, keyframe every 250
frames) using an ffmpeg binary: $ACTIONART_FFMPEG, ``ffmpeg`` on PATH, or the one the
``imageio-ffmpeg`` wheel ships (``pip install --target /tmp/ffenv imageio-ffmpeg`` and
PYTHONPATH=/tmp/ffenv). Without one it falls back to the 72-frame original.

    .venv/bin/python bench/bench_frames.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.video import probe  # noqa: E402
from models.vlm import frames as F  # noqa: E402

SHARED = Path(os.environ.get("ACTIONART_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCE = SHARED / "clips" / "two_people_room.mp4"


def find_ffmpeg() -> str | None:
    exe = os.environ.get("ACTIONART_FFMPEG") or shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001
        return None


def make_clip(ffmpeg: str, height: int, out: Path) -> Path:
    if not out.exists():
        subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-stream_loop", "3", "-i",
                        str(SOURCE), "-vf", f"scale=-2:{height}", "-c:v", "libx264",
                        "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", str(out)],
                       check=True)
    return out


def clips() -> list[tuple[str, Path]]:
    ffmpeg = find_ffmpeg()
    if not ffmpeg:
        print("no ffmpeg binary found: using the 72-frame 1080p original only")
        return [("1080p/72f original", SOURCE)]
    tmp = Path(tempfile.gettempdir()) / "actionart_bench_clips"
    tmp.mkdir(exist_ok=True)
    return [("720p/288f", make_clip(ffmpeg, 720, tmp / "two_people_720p.mp4")),
            ("1080p/288f", make_clip(ffmpeg, 1080, tmp / "two_people_1080p.mp4")),
            ("1080p/72f original", SOURCE)]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        F.clear_cache()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run_case(name: str, path: Path, sel: F.FrameSelection, repeat: int) -> None:
    info = probe(path)
    idx = F.sample_indices(info, sel)
    t_seq = best(lambda: F.decode_sequential(path, idx), repeat)
    t_seek = best(lambda: F.decode_seek(path, idx), repeat)
    t_app = best(lambda: F.sample_frames(path, sel, info=info), repeat)
    print(f"{name:20s} {sel.start or 0:>4}-{sel.end if sel.end is not None else info.frame_count - 1:<4}"
          f" gap {(idx[-1] - idx[0]) / max(1, len(idx) - 1):5.1f}  sequential {t_seq * 1e3:7.1f} ms"
          f"  seek {t_seek * 1e3:7.1f} ms  app[{F.choose_strategy(idx)}] {t_app * 1e3:7.1f} ms"
          f"  app/seek {t_app / t_seek:5.2f}  app/sequential {t_app / t_seq:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"16 frames, pixel cap {F.DEFAULT_MAX_PIXELS} px, best of {args.repeat}; "
          f"SEEK_MIN_GAP={F.SEEK_MIN_GAP}")
    for name, path in clips():
        n = probe(path).frame_count
        for start, end in ((None, None), (0, min(n - 1, 47)), (max(0, n - 40), n - 1)):
            run_case(name, path, F.FrameSelection(count=16, start=start, end=end), args.repeat)


if __name__ == "__main__":
    main()
