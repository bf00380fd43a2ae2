"""Triton's private LLVM next to the system LLVM that Mesa's OpenGL brings in.

Each case runs in a fresh interpreter: Mesa's software OpenGL (llvmpipe) is started
through EGL without any display, which maps the system libLLVM into the global symbol
namespace exactly as mediapipe's pose graph does when $DISPLAY is set. Importing
torchvision (which reaches ``import triton``) afterwards crashed the process with SIGSEGV
before ``models`` learned to load libtriton with its own symbols first.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MESA_EGL_VENDOR = "/usr/share/glvnd/egl_vendor.d/50_mesa.json"

START_MESA = """
import ctypes
egl = ctypes.CDLL("libEGL.so.1")
egl.eglGetDisplay.restype = ctypes.c_void_p
egl.eglGetDisplay.argtypes = [ctypes.c_void_p]
egl.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
if not egl.eglInitialize(egl.eglGetDisplay(None), None, None):
    sys.exit("no-egl: Mesa's EGL did not initialise")
if "libLLVM" not in open("/proc/self/maps").read():
    sys.exit("no-llvm: Mesa's EGL did not load the system libLLVM")
print("mesa llvm loaded", flush=True)
"""

IMPORT_TORCH_IN_A_THREAD = """
import threading
seen = []
def work():
    import torch, torchvision
    seen.append(float(torch.ones(3).sum()))
t = threading.Thread(target=work)
t.start()
t.join()
assert seen == [3.0], seen
print("torch ok, triton imported:", "triton" in sys.modules, flush=True)
"""


def _run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, EGL_PLATFORM="surfaceless", LIBGL_ALWAYS_SOFTWARE="1")
    env.pop("DISPLAY", None)
    if os.path.isfile(MESA_EGL_VENDOR):  # Mesa even where another vendor is the default
        env["__EGL_VENDOR_LIBRARY_FILENAMES"] = MESA_EGL_VENDOR
    head = f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
    return subprocess.run([sys.executable, "-X", "faulthandler", "-c", head + code], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def _check(res: subprocess.CompletedProcess) -> None:
    if res.returncode != 0 and ("no-egl" in res.stderr or "no-llvm" in res.stderr):
        pytest.fail("this check needs Mesa's EGL with llvmpipe (apt packages libegl1 "
                    "libegl-mesa0, installed with libgl1 by scripts/bootstrap.sh): "
                    + res.stderr.strip().splitlines()[-1])
    assert res.returncode == 0, f"rc={res.returncode}\n{res.stderr[-3000:]}"
    assert "mesa llvm loaded" in res.stdout and "torch ok" in res.stdout


def test_torch_imports_after_mesa_loaded_the_system_llvm():
    _check(_run("import models\n" + START_MESA + IMPORT_TORCH_IN_A_THREAD))


def test_mesa_starts_after_torch_and_triton_loaded():
    code = ("import models\n" + IMPORT_TORCH_IN_A_THREAD + START_MESA
            + "import torch\nassert float((torch.ones(2) * 2).sum()) == 4.0\n")
    _check(_run(code))


def test_installing_the_hook_imports_nothing_heavy():
    res = _run("import models, models.native_libs as n\n"
               "assert n.installed()\n"
               "n.install(); n.install()\n"
               "hooks = [f for f in sys.meta_path if type(f).__name__ == '_OwnSymbolsFirst']\n"
               "assert len(hooks) == 1, hooks\n"
               "heavy = [m for m in ('torch', 'triton', 'mediapipe', 'transformers')"
               " if m in sys.modules]\n"
               "assert not heavy, heavy\n")
    assert res.returncode == 0, res.stderr
