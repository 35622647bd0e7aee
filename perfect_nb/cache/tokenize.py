"""Content fingerprints, built on dask's ``tokenize``.

``token(value)`` is a hex digest that is the same for equal values across
processes, or ``None`` when the value cannot be fingerprinted deterministically
(an open file, a lambda with a closure dask cannot see into...). ``None``
always means "treat as changed": never a false cache hit.

>>> token({"a": [1, 2]}) == token({"a": [1, 2]})
True
>>> token(1) == token(2)
False
"""

from __future__ import annotations

from typing import Any

__all__ = ["same", "token"]


def token(value: Any) -> str | None:
    """A deterministic fingerprint of ``value``, or None if there is none."""
    from dask.base import tokenize

    try:
        return tokenize(value, ensure_deterministic=True)
    except Exception:
        return None


def same(a: Any, b: Any) -> bool:
    """True when both values have the same deterministic fingerprint."""
    ta = token(a)
    return ta is not None and ta == token(b)
