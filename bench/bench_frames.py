"""Frame sampling speed: 16 frames from 720p / 1080p clips (H.264 where it can be made).

Compares, on identical indices and producing the same RGB frames under the pixel cap: one
sequential grab-skip pass, one seek per frame, and the
app's sampler (``models.vlm.frames.sample_frames``, which picks one of the two from the
mean gap between picks: ``choose_strategy``). Prints times, the ratios app / per-frame-seek
and app / sequential, and whether the strategy the app chose was the faster one.

Test clips (made once in a temp folder) loop the real 1080p clip ``two_people_room.mp4``
4x (288 frames) at 720p and 1080p, keyframe every 250 frames (the libx264 default):
- H.264 when an ffmpeg binary is at hand: $ACTIONART_FFMPEG, ``ffmpeg`` on PATH, or the
  one an installed ``imageio-ffmpeg`` wheel ships;
- otherwise MPEG-4 Part 2 (``mp4v``) written by OpenCV itself, whose bundled FFmpeg has no
  H.264 encoder. The header line says which codec was used. ``--opencv`` forces it.

    .venv/bin/python bench/bench_frames.py [--repeat 3] [--opencv] [--long]
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

SHARED = Path(os.environ.get("ACTIONART_TEST_DATA",
                             Path(__file__).resolve().parents[1] / "tests" / "data"))
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


def make_clip_opencv(height: int, out: Path, loops: int = 4) -> Path:
    """The same loop written by OpenCV (mp4v), keyframe every 250 frames."""
    import cv2

    if out.exists():
        return out
    src = cv2.VideoCapture(str(SOURCE))
    fps = src.get(cv2.CAP_PROP_FPS) or 28.0
    frames = []
    while True:
        ok, frame = src.read()
        if not ok:
            break
        w = int(round(frame.shape[1] * height / frame.shape[0] / 2)) * 2
        frames.append(cv2.resize(frame, (w, height), interpolation=cv2.INTER_AREA))
    src.release()
    h, w = frames[0].shape[:2]
    tmp = out.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (w, h), [cv2.VIDEOWRITER_PROP_KEY_INTERVAL, 250])
    if not writer.isOpened():
        raise SystemExit("OpenCV cannot write mp4v video here; set ACTIONART_FFMPEG")
    for _ in range(loops):
        for frame in frames:
            writer.write(frame)
    writer.release()
    tmp.replace(out)
    return out


def clips(force_opencv: bool = False, long: bool = False) -> tuple[str, list[tuple[str, Path]]]:
    ffmpeg = None if force_opencv else find_ffmpeg()
    tmp = Path(tempfile.gettempdir()) / "actionart_bench_clips"
    tmp.mkdir(exist_ok=True)
    if ffmpeg:
        codec = f"H.264 (libx264 via {ffmpeg})"
        made = [make_clip(ffmpeg, h, tmp / f"two_people_{h}p.mp4") for h in (720, 1080)]
    else:
        codec = "MPEG-4 Part 2 / mp4v written by OpenCV (no H.264 encoder available)"
        made = [make_clip_opencv(h, tmp / f"two_people_{h}p_mp4v.mp4") for h in (720, 1080)]
    out = [("720p/288f", made[0]), ("1080p/288f", made[1]), ("1080p/72f original H.264", SOURCE)]
    if long:                # sparse picks (mean gap >= SEEK_MIN_GAP): where seeking wins
        out.append(("720p/4320f mp4v (long)", make_clip_opencv(720, tmp / "long_720p_mp4v.mp4", 60)))
    return codec, out


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
    cap = sel.max_pixels                      # same output: RGB frames under the pixel cap
    t_seq = best(lambda: F.decode_sequential(path, idx, cap), repeat)
    t_seek = best(lambda: F.decode_seek(path, idx, cap), repeat)
    t_app = best(lambda: F.sample_frames(path, sel, info=info), repeat)
    chosen, faster = F.choose_strategy(idx), ("seek" if t_seek < t_seq else "sequential")
    verdict = "faster one" if chosen == faster else f"NOT the faster ({faster})"
    print(f"{name:26s} {sel.start or 0:>4}-{sel.end if sel.end is not None else info.frame_count - 1:<4}"
          f" gap {(idx[-1] - idx[0]) / max(1, len(idx) - 1):5.1f}  sequential {t_seq * 1e3:7.1f} ms"
          f"  seek {t_seek * 1e3:7.1f} ms  app[{chosen}] {t_app * 1e3:7.1f} ms"
          f"  app/seek {t_app / t_seek:5.2f}  app/sequential {t_app / t_seq:5.2f}  ({verdict})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--opencv", action="store_true", help="make the clips with OpenCV (mp4v)")
    ap.add_argument("--long", action="store_true",
                    help="add a 4320-frame 720p clip (OpenCV mp4v) where per-frame seeking wins")
    args = ap.parse_args()
    codec, cases = clips(args.opencv, args.long)
    print(f"16 frames, pixel cap {F.DEFAULT_MAX_PIXELS} px, best of {args.repeat}; "
          f"SEEK_MIN_GAP={F.SEEK_MIN_GAP}; test clips: {codec}")
    for name, path in cases:
        n = probe(path).frame_count
        windows = ((None, None), (0, min(n - 1, 47)), (max(0, n - 40), n - 1))
        for start, end in windows[:1] if n > 1000 else windows:
            run_case(name, path, F.FrameSelection(count=16, start=start, end=end), args.repeat)


if __name__ == "__main__":
    main()
