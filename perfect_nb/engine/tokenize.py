"""Content fingerprints of values, built on dask's ``tokenize``.

They live in the engine because the engine's cache validators compare them
(:mod:`perfect_nb.engine.cache_validators`); the notebook's run cache
(``perfect_nb.cache``) builds its keys on them too, so the dependency points
one way: ``cache`` -> ``engine``.

``token(value)`` is a hex digest that is the same for equal values across
processes, or ``None`` when the value cannot be fingerprinted deterministically
(a lock, a socket, a generator...). ``None`` always means "treat as changed":
never a false cache hit.

>>> token({"a": [1, 2]}) == token({"a": [1, 2]})
True
>>> token(1) == token(2)
False
>>> import threading
>>> token(threading.Lock()) is None
True

``fingerprints`` takes a snapshot of a mapping, one token per key, so a value
mutated in place after the snapshot is seen as changed:

>>> data = [1, 2]
>>> before = fingerprints({"data": data})
>>> data.append(3)
>>> same_fingerprints(before, fingerprints({"data": data}))
False
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["fingerprints", "same", "same_fingerprints", "token"]


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


def fingerprints(values: Mapping[str, Any] | None) -> dict[str, str | None]:
    """One fingerprint per key of ``values`` (None where a value has none)."""
    return {key: token(value) for key, value in (values or {}).items()}


def same_fingerprints(a: Mapping[str, str | None], b: Mapping[str, str | None]) -> bool:
    """True when both snapshots have the same keys and the same, deterministic, fingerprints.

    >>> same_fingerprints({"x": "ab"}, {"x": "ab"}), same_fingerprints({"x": None}, {"x": None})
    (True, False)
    """
    return dict(a) == dict(b) and None not in a.values()
