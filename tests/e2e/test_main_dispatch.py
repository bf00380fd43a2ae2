"""main.py picks the CLI when a command is named, also after global options."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import main

REPO = Path(__file__).resolve().parents[2]


def test_command_detection_allows_global_project_option():
    assert main._command_of(["info", "x.mp4"]) == "info"
    assert main._command_of(["--project", "p.aastudio", "info", "x.mp4"]) == "info"
    assert main._command_of(["--project=p.aastudio", "describe", "v.mp4"]) == "describe"
    assert main._command_of(["clip.mp4"]) is None
    assert main._command_of(["--screenshot", "a.png", "clip.mp4"]) is None
    assert main._command_of([]) is None


def test_global_project_option_reaches_the_command(tmp_path, clip):
    project = tmp_path / "global.aastudio"
    out = subprocess.run([sys.executable, str(REPO / "main.py"), "--project", str(project),
                          "info", str(clip("street_pedestrians.mp4"))],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "frames        5" in out.stdout
    assert project.exists()


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _one_error_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    return lines[0]


def test_fifo_as_project_is_refused_at_once(tmp_path, clip):
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    res = _cli("--project", fifo, "info", clip("street_pedestrians.mp4"), timeout=60)
    assert "named pipe (FIFO), not a project file" in _one_error_line(res)
    res = _cli("qa-check", "--project", "/dev/null", timeout=60)
    assert "character device" in _one_error_line(res)


def test_float_options_refuse_nan_inf_and_out_of_range(clip):
    video = clip("street_pedestrians.mp4")
    cases = [(["describe", video, "--frame", "1"], "--min-visibility", "nan", "not a finite"),
             (["describe", video, "--frame", "1"], "--min-visibility", "inf", "not a finite"),
             (["diff", video, "--a", "0", "--b", "1"], "--min-visibility", "-0.1", "in [0, 1]"),
             (["motion", video, "--end", "1"], "--min-visibility", "1.5", "in [0, 1]"),
             (["motion", video, "--end", "1"], "--start", "nan", "not a finite"),
             (["motion", video, "--end", "1"], "--start", "-1", "at least 0"),
             (["ask", video, "--model", "m", "q"], "--temperature", "inf", "not a finite"),
             (["ask", video, "--model", "m", "q"], "--top-p", "0", "in (0, 1]"),
             (["ask", video, "--model", "m", "q"], "--rate", "nan", "not a finite"),
             (["ask", video, "--model", "m", "q"], "--memory-limit-gb", "-1", "above 0")]
    for argv, option, value, why in cases:
        line = _one_error_line(_cli(*argv, option, value))
        assert f"argument {option}:" in line and why in line, (argv, line)
