"""ActionArt Studio core: everything the program knows and does, without Qt.

Importing this package must stay cheap: torch, transformers and mediapipe are only
imported inside the backend modules that need them.
"""
