"""Cache validators on their own: may a candidate Cached state be reused?

Each validator is a pure function ``(state, inputs, parameters) -> bool``;
values are compared by their dask ``tokenize`` fingerprints, so equal
DataFrames are equal and a value with no deterministic fingerprint never
validates (a miss, never a false hit).
"""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest

from perfect_nb import Task, task
from perfect_nb.engine import cache_validators
from perfect_nb.engine.cache_validators import (
    all_inputs, all_parameters, duration_only, never_use, partial_inputs_only,
    partial_parameters_only, resolve,
)
from perfect_nb.engine.state import Cached

UTC = dt.timezone.utc
LOCK = threading.Lock()  # pickles to nothing deterministic: no fingerprint


def _in(seconds: float) -> dt.datetime:
    return dt.datetime.now(UTC) + dt.timedelta(seconds=seconds)


def cached(inputs=None, parameters=None, expires=3600.0, result=1) -> Cached:
    """A candidate state; ``expires`` seconds from now (negative: expired; None: never)."""
    expiration = None if expires is None else _in(expires)
    return Cached(result=result, cached_inputs=inputs, cached_parameters=parameters, cached_result_expiration=expiration)


def frame(*values) -> pd.DataFrame:
    return pd.DataFrame({"a": list(values), "b": [str(v) for v in values]})


# (validator, candidate, inputs, parameters, expected)
CASES = {
    # never_use: nothing is ever reused
    "never_use/unexpired-same": (never_use, cached({"x": 1}, {"p": 1}), {"x": 1}, {"p": 1}, False),
    "never_use/no-expiration": (never_use, cached(expires=None), {}, {}, False),
    # duration_only: only the clock matters
    "duration_only/unexpired": (duration_only, cached({"x": 1}), {"x": 1}, {}, True),
    "duration_only/unexpired-other-inputs": (duration_only, cached({"x": 1}, {"p": 1}), {"x": 2}, {"p": 2}, True),
    "duration_only/expired": (duration_only, cached({"x": 1}, expires=-1), {"x": 1}, {}, False),
    "duration_only/just-expired": (duration_only, cached(expires=-0.001), {}, {}, False),
    "duration_only/no-expiration": (duration_only, cached(expires=None), {}, {}, True),
    # all_inputs: clock and every input
    "all_inputs/same": (all_inputs, cached({"x": 1, "y": "a"}), {"y": "a", "x": 1}, {}, True),
    "all_inputs/no-inputs": (all_inputs, cached({}), {}, {}, True),
    "all_inputs/none-vs-empty": (all_inputs, cached(None), {}, {}, True),
    "all_inputs/changed": (all_inputs, cached({"x": 1}), {"x": 2}, {}, False),
    "all_inputs/int-vs-float": (all_inputs, cached({"x": 1}), {"x": 1.0}, {}, False),
    "all_inputs/int-vs-bool": (all_inputs, cached({"x": 1}), {"x": True}, {}, False),
    "all_inputs/extra-input": (all_inputs, cached({"x": 1}), {"x": 1, "y": 2}, {}, False),
    "all_inputs/missing-input": (all_inputs, cached({"x": 1, "y": 2}), {"x": 1}, {}, False),
    "all_inputs/expired-same": (all_inputs, cached({"x": 1}, expires=-1), {"x": 1}, {}, False),
    "all_inputs/parameters-ignored": (all_inputs, cached({"x": 1}, {"p": 1}), {"x": 1}, {"p": 2}, True),
    "all_inputs/equal-frames": (all_inputs, cached({"df": frame(1, 2)}), {"df": frame(1, 2)}, {}, True),
    "all_inputs/different-frames": (all_inputs, cached({"df": frame(1, 2)}), {"df": frame(1, 3)}, {}, False),
    "all_inputs/nested-equal": (all_inputs, cached({"x": {"k": [1, (2, 3)]}}), {"x": {"k": [1, (2, 3)]}}, {}, True),
    "all_inputs/nested-changed": (all_inputs, cached({"x": {"k": [1, (2, 3)]}}), {"x": {"k": [1, (2, 4)]}}, {}, False),
    "all_inputs/no-token-same-object": (all_inputs, cached({"x": LOCK}), {"x": LOCK}, {}, False),
    # all_parameters: clock and every flow parameter
    "all_parameters/same": (all_parameters, cached({"x": 1}, {"p": 1, "q": "s"}), {"x": 9}, {"q": "s", "p": 1}, True),
    "all_parameters/changed": (all_parameters, cached(None, {"p": 1}), {}, {"p": 2}, False),
    "all_parameters/new-parameter": (all_parameters, cached(None, {"p": 1}), {}, {"p": 1, "q": 2}, False),
    "all_parameters/expired": (all_parameters, cached(None, {"p": 1}, expires=-1), {}, {"p": 1}, False),
    "all_parameters/equal-frames": (all_parameters, cached(None, {"df": frame(1)}), {}, {"df": frame(1)}, True),
    "all_parameters/different-frames": (all_parameters, cached(None, {"df": frame(1)}), {}, {"df": frame(2)}, False),
    "all_parameters/no-token": (all_parameters, cached(None, {"p": LOCK}), {}, {"p": LOCK}, False),
    # partial_inputs_only: clock and the named inputs only
    "partial_inputs/named-same-other-changed": (partial_inputs_only(["x"]), cached({"x": 1, "y": 1}), {"x": 1, "y": 2}, {}, True),
    "partial_inputs/named-changed": (partial_inputs_only(["x"]), cached({"x": 1, "y": 1}), {"x": 2, "y": 1}, {}, False),
    "partial_inputs/two-named": (partial_inputs_only(["x", "y"]), cached({"x": 1, "y": 1}), {"x": 1, "y": 2}, {}, False),
    "partial_inputs/named-missing-now": (partial_inputs_only(["x"]), cached({"x": 1}), {}, {}, False),
    "partial_inputs/named-absent-both": (partial_inputs_only(["z"]), cached({"x": 1}), {"x": 2}, {}, True),
    "partial_inputs/expired": (partial_inputs_only(["x"]), cached({"x": 1}, expires=-1), {"x": 1}, {}, False),
    "partial_inputs/frames": (partial_inputs_only(["df"]), cached({"df": frame(1), "y": 1}), {"df": frame(1), "y": 2}, {}, True),
    "partial_inputs/no-token-named": (partial_inputs_only(["x"]), cached({"x": LOCK}), {"x": LOCK}, {}, False),
    "partial_inputs/no-token-unnamed": (partial_inputs_only(["x"]), cached({"x": 1, "y": LOCK}), {"x": 1, "y": LOCK}, {}, True),
    "partial_inputs/none-means-all": (partial_inputs_only(), cached({"x": 1, "y": 1}), {"x": 1, "y": 2}, {}, False),
    "partial_inputs/a-string-is-one-name": (partial_inputs_only("xy"), cached({"xy": 1, "x": 1}), {"xy": 1, "x": 2}, {}, True),
    # partial_parameters_only: clock and the named parameters only
    "partial_parameters/named-same-other-changed": (partial_parameters_only(["p"]), cached(None, {"p": 1, "q": 1}), {}, {"p": 1, "q": 2}, True),
    "partial_parameters/named-changed": (partial_parameters_only(["p"]), cached(None, {"p": 1, "q": 1}), {}, {"p": 2, "q": 1}, False),
    "partial_parameters/inputs-ignored": (partial_parameters_only(["p"]), cached({"x": 1}, {"p": 1}), {"x": 2}, {"p": 1}, True),
    "partial_parameters/expired": (partial_parameters_only(["p"]), cached(None, {"p": 1}, expires=-1), {}, {"p": 1}, False),
    "partial_parameters/none-means-all": (partial_parameters_only(), cached(None, {"p": 1, "q": 1}), {}, {"p": 1, "q": 2}, False),
}


@pytest.mark.parametrize("validator, candidate, inputs, parameters, expected", list(CASES.values()), ids=list(CASES))
def test_validator_table(validator, candidate, inputs, parameters, expected):
    assert validator(candidate, inputs, parameters) is expected


def test_validators_do_not_mutate_their_arguments():
    candidate = cached({"x": [1, 2]}, {"p": {"k": 1}})
    inputs, parameters = {"x": [1, 2]}, {"p": {"k": 1}}
    for validator in (all_inputs, all_parameters, partial_inputs_only(["x"]), partial_parameters_only(["p"])):
        assert validator(candidate, inputs, parameters) is True
    assert candidate.cached_inputs == {"x": [1, 2]} and candidate.cached_parameters == {"p": {"k": 1}}
    assert inputs == {"x": [1, 2]} and parameters == {"p": {"k": 1}}


def test_partial_validators_copy_their_names():
    names = ["x"]
    validator = partial_inputs_only(names)
    names.append("y")  # changing the caller's list afterwards changes nothing
    assert validator(cached({"x": 1, "y": 1}), {"x": 1, "y": 2}, {}) is True


# --- resolve ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["never_use", "duration_only", "all_inputs", "all_parameters"])
def test_resolve_by_name(name):
    assert resolve(name) is getattr(cache_validators, name)


def test_resolve_passes_callables_and_none_through():
    custom = partial_inputs_only(["x"])
    assert resolve(custom) is custom
    assert resolve(all_inputs) is all_inputs
    assert resolve(None) is None


@pytest.mark.parametrize("bad", ["bogus", "All_Inputs", "", 42])
def test_resolve_unknown_lists_the_valid_names(bad):
    with pytest.raises(ValueError) as info:
        resolve(bad)
    message = str(info.value)
    assert repr(bad) in message
    for name in ("never_use", "duration_only", "all_inputs", "all_parameters", "partial_inputs_only", "partial_parameters_only"):
        assert name in message


@pytest.mark.parametrize("factory", [partial_inputs_only, partial_parameters_only])
def test_resolve_rejects_an_uncalled_partial_factory(factory):
    # partial_inputs_only is a validator *factory*: used as a validator it would
    # crash mid-run (or, worse, return a truthy function: always a hit).
    with pytest.raises(ValueError, match=rf"{factory.__name__}\(\[") :
        resolve(factory)


@pytest.mark.parametrize("name", ["partial_inputs_only", "partial_parameters_only"])
def test_resolve_partial_names_say_how_to_call_them(name):
    with pytest.raises(ValueError, match=rf"{name}\(\["):
        resolve(name)


def test_task_with_unknown_validator_name_fails_at_construction():
    with pytest.raises(ValueError, match="Unknown cache_validator 'bogus'"):
        Task(cache_for=dt.timedelta(minutes=1), cache_validator="bogus")
    with pytest.raises(ValueError, match="Unknown cache_validator 'bogus'"):
        task(lambda: 1, cache_for=dt.timedelta(minutes=1), cache_validator="bogus")


def test_task_validator_by_name_is_resolved_at_construction():
    t = Task(cache_for=dt.timedelta(minutes=1), cache_validator="all_inputs")
    assert t.cache_validator is all_inputs


def test_all_is_sorted_and_complete():
    assert cache_validators.__all__ == sorted(cache_validators.__all__)
    for name in cache_validators.__all__:
        assert callable(getattr(cache_validators, name))
