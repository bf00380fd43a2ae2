"""ActionArt Studio core: everything the program knows and does, without Qt.

Importing this package must stay cheap: torch, transformers and mediapipe are only
imported inside the backend modules that need them. It does install one import hook
(``native_libs``) so that Triton, whenever torch brings it in later, binds to its own
LLVM rather than to a system one that mediapipe's or Qt's OpenGL loaded first.
"""
from . import native_libs as _native_libs

_native_libs.install()
