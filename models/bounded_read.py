"""Reading files the user hands us (imports) with bounds.

- ``read_bytes`` / ``read_text``: only regular files (a FIFO would block, ``/dev/zero``
  never ends): the path is resolved and ``stat``-ed before it is opened, the opened file is
  checked again, and at most ``max_bytes`` are read.
- ``parse_json``: strict JSON: no NaN/Infinity, no number that overflows to infinity, no
  integer of more than ``MAX_INT_DIGITS`` digits, nesting at most ``MAX_DEPTH`` deep.
- ``jsonl_lines``: lines split on ``\\n`` only (U+2028 and friends are ordinary characters
  inside a JSON string, and our own exports write them raw).
- ``json_value_problem``: why a parsed value cannot be stored and exported as JSON
  (lone surrogates, non-finite floats, integers beyond 64 bits, too deep), or None.

Every function raises the caller's error class with a one-line message.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Iterator, Optional

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 64
MAX_INT_DIGITS = 20
INT64 = 2 ** 63


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def check_regular(path, error: type[Exception], max_bytes: Optional[int] = None) -> str:
    """The resolved path of ``path`` if it is a regular file of at most ``max_bytes``."""
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    path = Path(path)
    name = path.name or str(path)
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except FileNotFoundError:
        raise error(f"File not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise error(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{name}: not a regular file (a folder, FIFO or device); nothing read")
    if st.st_size > limit:
        raise error(f"{name} is {_size_text(st.st_size)}, more than the {_size_text(limit)} "
                    "an import reads")
    return real


def read_bytes(path, error: type[Exception], max_bytes: Optional[int] = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (default ``MAX_FILE_BYTES``)."""
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    real = check_regular(path, error, limit)
    name = Path(path).name or str(path)
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"Cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        try:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped after the stat
                raise error(f"{name}: not a regular file (a folder, FIFO or device); nothing read")
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"Cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{name} is more than the {_size_text(limit)} an import reads")
    return data


def read_text(path, error: type[Exception], max_bytes: Optional[int] = None) -> str:
    """``read_bytes`` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    data = read_bytes(path, error, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{Path(path).name}: not UTF-8 text (byte {exc.start})") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:30]} is too large")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits is too large")
    return int(text)


STRICT: dict[str, Any] = {"parse_constant": _no_constant, "parse_float": _finite_float,
                          "parse_int": _bounded_int}


def parse_json(text: str, where: str, error: type[Exception]) -> Any:
    """Strict, bounded ``json.loads``; ``where`` (file name, line) starts every message."""
    try:
        value = json.loads(text, **STRICT)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                    f"{exc.msg}") from None
    except RecursionError:
        raise error(f"{where}: invalid JSON: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise error(f"{where}: invalid JSON: {exc}") from None
    if depth_exceeds(value, MAX_DEPTH):
        raise error(f"{where}: invalid JSON: nested more than {MAX_DEPTH} levels deep")
    return value


def jsonl_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every non-blank line, split on ``\\n`` only."""
    for n, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            yield n, line


def depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            if d > limit:
                return True
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def string_problem(s: str) -> Optional[str]:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate (character {exc.start})"
    return None


def json_value_problem(value: Any, limit: int = MAX_DEPTH) -> Optional[str]:
    """Why ``value`` is not a storable JSON value, or None."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if v is None or isinstance(v, bool):
            continue
        if isinstance(v, str):
            problem = string_problem(v)
            if problem:
                return f"text {problem}"
        elif isinstance(v, int):
            if not -INT64 <= v < INT64:
                return "holds an integer beyond 64 bits"
        elif isinstance(v, float):
            if not math.isfinite(v):
                return "holds a number that is not finite (NaN or infinity)"
        elif isinstance(v, (list, dict)):
            if d > limit:
                return f"is nested more than {limit} levels deep"
            if isinstance(v, dict):
                for k in v:
                    if not isinstance(k, str):
                        return "has a key that is not text"
                    stack.append((k, d + 1))
                stack.extend((c, d + 1) for c in v.values())
            else:
                stack.extend((c, d + 1) for c in v)
        else:
            return f"holds a {type(v).__name__}, not a JSON value"
    return None
