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

The engine fingerprints a state's inputs and parameters when it caches it
(:func:`snapshot`), so a value mutated in place after the run is seen as
changed rather than compared with itself:

>>> data = [1]
>>> old = snapshot(Cached(result=2, cached_inputs={"x": data}, cached_result_expiration=later))
>>> data.append(2)
>>> all_inputs(old, {"x": data}, {})
False
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Iterable

from perfect_nb.engine.tokenize import fingerprints, same_fingerprints

__all__ = [
    "all_inputs", "all_parameters", "duration_only", "never_use", "partial_inputs_only",
    "partial_parameters_only", "resolve",
]

Validator = Callable[[Any, dict, dict], bool]

# state.context keys holding the fingerprints taken when the state was cached
_TOKENS = {"inputs": "cached_input_tokens", "parameters": "cached_parameter_tokens"}


def snapshot(state: Any) -> Any:
    """Store the fingerprints of ``state``'s cached inputs and parameters in its context."""
    state.context[_TOKENS["inputs"]] = fingerprints(state.cached_inputs)
    state.context[_TOKENS["parameters"]] = fingerprints(getattr(state, "cached_parameters", None))
    return state


def _stored(state: Any, kind: str) -> dict:
    context = getattr(state, "context", None) or {}
    tokens = context.get(_TOKENS[kind])
    return tokens if tokens is not None else fingerprints(getattr(state, f"cached_{kind}", None))


def _matches(state: Any, kind: str, current: dict | None, names: list[str] | None = None) -> bool:
    old = _stored(state, kind)
    current = current or {}
    if names is not None:
        old = {k: old[k] for k in names if k in old}
        current = {k: current[k] for k in names if k in current}
    return same_fingerprints(old, fingerprints(current))


def never_use(state: Any, inputs: dict, parameters: dict) -> bool:
    """Never reuse a cached result."""
    return False


def duration_only(state: Any, inputs: dict, parameters: dict) -> bool:
    """Reuse while the cached result has not expired (the default)."""
    expiration = getattr(state, "cached_result_expiration", None)
    return expiration is None or _dt.datetime.now(_dt.timezone.utc) < expiration


def all_inputs(state: Any, inputs: dict, parameters: dict) -> bool:
    """Reuse while not expired and every input is the same."""
    return duration_only(state, inputs, parameters) and _matches(state, "inputs", inputs)


def all_parameters(state: Any, inputs: dict, parameters: dict) -> bool:
    """Reuse while not expired and every flow parameter is the same."""
    return duration_only(state, inputs, parameters) and _matches(state, "parameters", parameters)


def _names(validate_on: Iterable[str] | str | None) -> list[str] | None:
    if validate_on is None:
        return None
    return [validate_on] if isinstance(validate_on, str) else list(validate_on)


def partial_inputs_only(validate_on: Iterable[str] | None = None) -> Validator:
    """A validator comparing only the inputs named in ``validate_on`` (all of them when None)."""
    names = _names(validate_on)

    def partial_inputs(state: Any, inputs: dict, parameters: dict) -> bool:
        return duration_only(state, inputs, parameters) and _matches(state, "inputs", inputs, names)

    return partial_inputs


def partial_parameters_only(validate_on: Iterable[str] | None = None) -> Validator:
    """A validator comparing only the parameters named in ``validate_on`` (all of them when None)."""
    names = _names(validate_on)

    def partial_parameters(state: Any, inputs: dict, parameters: dict) -> bool:
        return duration_only(state, inputs, parameters) and _matches(state, "parameters", parameters, names)

    return partial_parameters


_BY_NAME = {fn.__name__: fn for fn in (never_use, duration_only, all_inputs, all_parameters)}
_FACTORIES = {fn.__name__: fn for fn in (partial_inputs_only, partial_parameters_only)}


def resolve(validator: Validator | str | None) -> Validator | None:
    """A validator from a function or one of the names above; a clear error otherwise.

    >>> resolve("all_inputs") is all_inputs
    True
    """
    factory = next((name for name, fn in _FACTORIES.items() if validator is fn or validator == name), None)
    if factory is not None:
        raise ValueError(
            f"{factory} makes a validator: call it with the names to compare, "
            f"e.g. cache_validator={factory}(['x'])."
        )
    if validator is None or callable(validator):
        return validator
    if isinstance(validator, str) and validator in _BY_NAME:
        return _BY_NAME[validator]
    raise ValueError(
        f"Unknown cache_validator {validator!r}; use one of {sorted(_BY_NAME)} or "
        "partial_inputs_only([...]) / partial_parameters_only([...]) from perfect_nb.engine.cache_validators."
    )
