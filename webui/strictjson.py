"""Strict JSON for the HTTP APIs: UTF-8 only, bounded depth, integers only, no duplicate keys.

Shared by the server's JSON API and the web UI's JSON endpoints so that both refuse the same
inputs with the same sentences (issue 13): a body nested 100,000 deep is refused by a linear scan
*before* the parser recurses; ``1.0``, ``1e0``, ``NaN`` and ``Infinity`` are refused (a count or a
width is an integer, and ``1.0 == 1`` must not slip through); a repeated key is refused rather
than silently keeping the last one; the bytes must be UTF-8 (``json.loads`` would otherwise guess
UTF-16 or UTF-32 from the first bytes). Errors are :class:`crypto.errors.MalformedInput`.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from crypto.errors import MalformedInput

MAX_DEPTH = 32
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def check_depth(text: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Refuse arrays/objects nested deeper than ``max_depth`` (strings are skipped correctly)."""
    depth = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > max_depth:
                raise MalformedInput(f"JSON: nested deeper than {max_depth} levels")
        elif byte in _CLOSE:
            depth -= 1


def _no_float(text: str) -> NoReturn:
    raise MalformedInput(f"JSON: numbers must be integers, got {text[:20]!r}")


def _no_constant(text: str) -> NoReturn:
    raise MalformedInput(f"JSON: {text} is not allowed")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedInput(f"JSON: key {key[:40]!r} appears twice")
        out[key] = value
    return out


def loads(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``body`` strictly (see the module docstring); raise MalformedInput saying why."""
    check_depth(body, max_depth)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedInput("JSON: the body is not UTF-8") from None
    try:
        return json.loads(
            text, parse_float=_no_float, parse_constant=_no_constant, object_pairs_hook=_pairs
        )
    except ValueError as exc:
        if isinstance(exc, MalformedInput):
            raise
        raise MalformedInput(f"JSON: not valid JSON ({exc})") from None
    except RecursionError:  # unreachable after check_depth, kept as a guard
        raise MalformedInput(f"JSON: nested deeper than {max_depth} levels") from None


def is_json_content_type(value: str | None) -> bool:
    """``application/json``, optionally with ``charset=utf-8`` (any case); nothing else."""
    if not value:
        return False
    parts = [p.strip().lower() for p in value.split(";")]
    if parts[0] != "application/json":
        return False
    for param in parts[1:]:
        name, _, val = param.partition("=")
        if name.strip() != "charset" or val.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True
