"""One controller per ``AppContext``, created on first use and kept on the context.

``on_context(ctx, attr, factory)`` returns ``getattr(ctx, attr)`` or, the first time,
``factory(ctx, parent=ctx)`` stored there, so panels share a controller without the
context having to know about it.
"""
from __future__ import annotations


def on_context(ctx, attr: str, factory):
    ctrl = getattr(ctx, attr, None)
    if ctrl is None:
        ctrl = factory(ctx, parent=ctx)
        setattr(ctx, attr, ctrl)
    return ctrl
