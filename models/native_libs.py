"""Keep Triton's private LLVM private (see docs/adr/0008-triton-binds-its-own-llvm.md).

``triton/_C/libtriton.so`` carries a complete LLVM linked in statically, with every LLVM
symbol exported. Mesa's OpenGL drivers load the system ``libLLVM-NN.so`` into the global
symbol namespace; mediapipe's pose graph brings Mesa in by creating an EGL context
whenever ``$DISPLAY`` is set, and so can Qt on a real display. When libtriton is loaded
after that, the dynamic linker binds libtriton's references to LLVM functions to the
system copy first: libtriton's own constructors then work on the system LLVM's objects,
whose layout differs, and the process dies with SIGSEGV during ``import triton`` (which
``import torchvision`` and ``transformers`` reach through ``torch._dynamo``).

``install()`` adds an import hook that, just before ``triton._C.libtriton`` is imported,
loads that file with ``RTLD_DEEPBIND``: its symbols are then looked up in the library
itself before the global namespace, so it always binds to the LLVM it was built with,
whatever was loaded earlier. Python's own load of the extension then reuses the mapping.
Installing is cheap (nothing is imported or loaded until triton itself is); it is a
no-op where ``RTLD_DEEPBIND`` does not exist (macOS, Windows, musl).
"""
from __future__ import annotations

import ctypes
import importlib.abc
import importlib.machinery
import os
import sys
import threading

LIBTRITON = "triton._C.libtriton"
_LOCK = threading.Lock()
_LOADED: dict[str, ctypes.CDLL] = {}   # path -> handle (kept: the mapping must stay)


class _OwnSymbolsFirst(importlib.abc.MetaPathFinder):
    """Finds nothing itself; pre-loads a listed extension with RTLD_DEEPBIND, then lets
    the regular path finder import it."""

    def __init__(self, names) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.origin and spec.origin.endswith(".so"):
            load_own_symbols_first(spec.origin)
        return spec


def load_own_symbols_first(path: str) -> None:
    """dlopen ``path`` so that its own definitions win over those already in the
    process (once; the first load of a shared object fixes how it binds)."""
    flags = getattr(os, "RTLD_DEEPBIND", None)
    if flags is None:
        return
    with _LOCK:
        if path not in _LOADED:
            _LOADED[path] = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL | flags)


def install() -> bool:
    """Add the hook (idempotent). False where it does not apply."""
    if not hasattr(os, "RTLD_DEEPBIND") or not sys.platform.startswith("linux"):
        return False
    with _LOCK:
        if not any(isinstance(f, _OwnSymbolsFirst) for f in sys.meta_path):
            sys.meta_path.insert(0, _OwnSymbolsFirst({LIBTRITON}))
    return True


def installed() -> bool:
    return any(isinstance(f, _OwnSymbolsFirst) for f in sys.meta_path)
