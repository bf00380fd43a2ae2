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
