"""Bounded reprs for messages: a value quoted in an error never makes a huge message.

>>> short_repr("x" * 1_000_000)[:12], len(short_repr("x" * 1_000_000)) <= 200
("'xxxxxxxxxxx", True)
>>> short_repr(ValueError("no data"))
"ValueError('no data')"
>>> len(short_repr(ValueError("y" * 10**7))) <= 200
True
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["short_repr"]

_REPR = reprlib.Repr()
_REPR.maxstring = 160
_REPR.maxother = 160
_REPR.maxlong = 60
_REPR.maxlevel = 3
LIMIT = 200


def short_repr(value: Any, limit: int = LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters (strings, bytes and containers are
    shortened without building their whole repr; exceptions quote their arguments shortly)."""
    try:
        if isinstance(value, BaseException):
            text = f"{type(value).__name__}({', '.join(_REPR.repr(a) for a in value.args)})"
        else:
            text = _REPR.repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
