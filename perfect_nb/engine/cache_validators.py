"""Cache validators: may a task reuse a Cached state from an earlier run?

A validator is ``validator(state, inputs, parameters) -> bool``, where
``state`` is the candidate Cached state. Values are compared by their dask
``tokenize`` fingerprints; a value without a deterministic fingerprint never
validates.

>>> import datetime as dt
>>> from perfect_nb.engine.state import Cached
>>> later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
>>> old = Cached(result=2, cached_inputs={"x": 1}, cached_result_expiration=later)
>>> all_inputs(old, {"x": 1}, {}), all_inputs(old, {"x": 5}, {})
(True, False)
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Iterable

from perfect_nb.cache.tokenize import same

__all__ = [
    "all_inputs", "all_parameters", "duration_only", "never_use", "partial_inputs_only",
    "partial_parameters_only", "resolve",
]

Validator = Callable[[Any, dict, dict], bool]


def never_use(state: Any, inputs: dict, parameters: dict) -> bool:
    """Never reuse a cached result."""
    return False


def duration_only(state: Any, inputs: dict, parameters: dict) -> bool:
    """Reuse while the cached result has not expired (the default)."""
    expiration = getattr(state, "cached_result_expiration", None)
    return expiration is None or _dt.datetime.now(_dt.timezone.utc) < expiration


def all_inputs(state: Any, inputs: dict, parameters: dict) -> bool:
    """Reuse while not expired and every input is the same."""
    return duration_only(state, inputs, parameters) and same(state.cached_inputs or {}, inputs or {})


def all_parameters(state: Any, inputs: dict, parameters: dict) -> bool:
    """Reuse while not expired and every flow parameter is the same."""
    return duration_only(state, inputs, parameters) and same(state.cached_parameters or {}, parameters or {})


def _subset(values: dict | None, names: Iterable[str] | None) -> dict:
    values = values or {}
    return dict(values) if names is None else {k: values.get(k) for k in names}


def partial_inputs_only(validate_on: Iterable[str] | None = None) -> Validator:
    """A validator comparing only the inputs named in ``validate_on``."""
    names = list(validate_on) if validate_on is not None else None

    def partial_inputs(state: Any, inputs: dict, parameters: dict) -> bool:
        return duration_only(state, inputs, parameters) and same(_subset(state.cached_inputs, names), _subset(inputs, names))

    return partial_inputs


def partial_parameters_only(validate_on: Iterable[str] | None = None) -> Validator:
    """A validator comparing only the parameters named in ``validate_on``."""
    names = list(validate_on) if validate_on is not None else None

    def partial_parameters(state: Any, inputs: dict, parameters: dict) -> bool:
        return duration_only(state, inputs, parameters) and same(_subset(state.cached_parameters, names), _subset(parameters, names))

    return partial_parameters


_BY_NAME = {fn.__name__: fn for fn in (never_use, duration_only, all_inputs, all_parameters)}


def resolve(validator: Validator | str | None) -> Validator | None:
    """A validator from a function or one of the names above; a clear error otherwise."""
    if validator is None or callable(validator):
        return validator
    if isinstance(validator, str) and validator in _BY_NAME:
        return _BY_NAME[validator]
    raise ValueError(
        f"Unknown cache_validator {validator!r}; use one of {sorted(_BY_NAME)} or "
        "partial_inputs_only([...]) / partial_parameters_only([...]) from perfect_nb.engine.cache_validators."
    )
