"""Parameters (perfect_nb.core.parameter): declaring, validating and giving values at run time."""

from __future__ import annotations

import datetime as dt

import pytest

from perfect_nb import DateTimeParameter, Flow, Parameter, task
from perfect_nb.errors import ParameterError


@task
def ident(x):
    return x


# --- declaring ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, default, required",
    [
        ({}, None, True),
        ({"default": 3}, 3, False),
        ({"default": 0}, 0, False),
        ({"default": ""}, "", False),
        ({"default": None, "required": False}, None, False),
        ({"default": 3, "required": True}, 3, True),
    ],
)
def test_default_and_required(kwargs, default, required):
    p = Parameter("x", **kwargs)
    assert (p.name, p.slug, p.default, p.required) == ("x", "x", default, required)


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_parameter_needs_a_name(name):
    with pytest.raises(ValueError, match="non-empty string name"):
        Parameter(name)


def test_hints_are_stored():
    p = Parameter("size", default=2, help="How many rows", choices=[1, 2, 3], tags=["ui"])
    assert (p.help, p.choices, p.tags) == ("How many rows", [1, 2, 3], {"ui"})
    q = Parameter("ratio", default=0.5, bounds=[0, 1])
    assert q.bounds == (0, 1)
    assert (Parameter("plain").help, Parameter("plain").choices, Parameter("plain").bounds) == (None, None, None)


def test_a_parameter_joins_the_active_flow_when_created():
    with Flow("f") as flow:
        p = Parameter("unused")
    assert flow.parameters() == {p}
    assert flow.get_task("unused") is p


def test_calling_a_parameter_returns_it():
    flow = Flow("f")
    p = Parameter("x")
    assert p(flow=flow) is p
    assert flow.parameters() == {p}
    with Flow("g") as g:
        assert p() is p
    assert p in g.tasks
    with pytest.raises(TypeError, match="takes no arguments"):
        p(value=1)


def test_a_parameter_cannot_be_copied():
    with pytest.raises(TypeError, match="cannot be copied"):
        Parameter("x").copy()


def test_repr():
    assert repr(Parameter("x")) == "<Parameter: x>"


# --- validation ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"default": 4, "choices": [1, 2, 3]}, r"must be one of \[1, 2, 3\], got 4"),
        ({"default": 11, "bounds": (0, 10)}, "between 0 and 10, got 11"),
        ({"default": -1, "bounds": (0, 10)}, "between 0 and 10, got -1"),
        ({"default": "ten", "bounds": (0, 10)}, "between 0 and 10, got 'ten'"),
        ({"bounds": (10, 0)}, "low <= high"),
        ({"bounds": (1, 2, 3)}, r"\(low, high\)"),
    ],
)
def test_bad_hints_or_default_are_rejected_at_once(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Parameter("x", **kwargs)


@pytest.mark.parametrize(
    "kwargs, value, ok",
    [
        ({"choices": ["a", "b"]}, "a", True),
        ({"choices": ["a", "b"]}, "c", False),
        ({"bounds": (0, 10)}, 0, True),
        ({"bounds": (0, 10)}, 10, True),
        ({"bounds": (0, 10)}, 10.5, False),
        ({"bounds": (0, 10)}, None, True),
        ({"bounds": (0, 10)}, "5", False),
        ({}, object, True),
    ],
)
def test_validate(kwargs, value, ok):
    p = Parameter("x", **kwargs)
    if ok:
        assert p.validate(value) is value
    else:
        with pytest.raises(ParameterError, match="Parameter 'x' must be"):
            p.validate(value)


# --- DateTimeParameter -------------------------------------------------------------------
UTC = dt.timezone.utc


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-01-31T08:00", dt.datetime(2024, 1, 31, 8, 0)),
        ("2024-01-31T08:00:05.25", dt.datetime(2024, 1, 31, 8, 0, 5, 250000)),
        ("2024-01-31", dt.datetime(2024, 1, 31)),
        ("2024-01-31T08:00:00+02:00", dt.datetime(2024, 1, 31, 8, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
        ("2024-01-31T08:00:00Z", dt.datetime(2024, 1, 31, 8, tzinfo=UTC)),
        (dt.date(2024, 2, 29), dt.datetime(2024, 2, 29)),
        (dt.datetime(2024, 1, 1, 12, tzinfo=UTC), dt.datetime(2024, 1, 1, 12, tzinfo=UTC)),
        (None, None),
    ],
    ids=str,
)
def test_datetime_parsing(value, expected):
    parsed = DateTimeParameter("when").parse(value)
    assert parsed == expected
    assert parsed is None or type(parsed) is dt.datetime


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "31/01/2024", ""])
def test_datetime_bad_strings(value):
    with pytest.raises(ParameterError, match="ISO 8601"):
        DateTimeParameter("when").parse(value)


@pytest.mark.parametrize("value", [20240131, 1.5, ["2024-01-31"]])
def test_datetime_bad_types(value):
    with pytest.raises(TypeError, match="datetime or an ISO 8601 string"):
        DateTimeParameter("when").parse(value)


def test_datetime_bad_default_is_rejected_at_once():
    with pytest.raises(ValueError, match="ISO 8601"):
        DateTimeParameter("when", default="not a date")


def test_datetime_bounds_apply_after_parsing():
    p = DateTimeParameter("when", bounds=(dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 31)))
    assert p.validate("2024-06-01") == dt.datetime(2024, 6, 1)
    with pytest.raises(ParameterError, match="between"):
        p.validate("2025-01-01")


def test_datetime_values_reach_tasks_parsed():
    @task
    def weekday(when):
        return when.strftime("%A")

    with Flow("dates") as flow:
        when = DateTimeParameter("when", default="2024-01-01")
        day = weekday(when)
    assert flow.run().result[day].result == "Monday"
    assert flow.run(when="2024-01-06T10:00").result[day].result == "Saturday"
    assert flow.run(when=dt.date(2024, 1, 7)).result[day].result == "Sunday"


# --- values at run time ---------------------------------------------------------------------
def _flow(calls: list):
    @task
    def side_effect():
        calls.append("ran")

    @task
    def total(a, b):
        return a + b

    with Flow("params") as flow:
        side_effect()
        a = Parameter("a")
        b = Parameter("b", default=10)
        out = total(a, b)
    return flow, out


@pytest.mark.parametrize(
    "run_kwargs, expected",
    [
        ({"a": 1}, 11),
        ({"parameters": {"a": 1}}, 11),
        ({"a": 1, "b": 2}, 3),
        ({"parameters": {"a": 1, "b": 2}}, 3),
        ({"parameters": {"a": 1}, "b": 5}, 6),
    ],
    ids=["keyword", "dict", "both-keyword", "both-dict", "mixed"],
)
def test_giving_values(run_kwargs, expected):
    calls = []
    flow, out = _flow(calls)
    state = flow.run(**run_kwargs)
    assert state.is_successful()
    assert state.result[out].result == expected
    assert calls == ["ran"]


@pytest.mark.parametrize(
    "run_kwargs, match",
    [
        ({}, r"required parameter\(s\) \['a'\]"),
        ({"b": 1}, r"required parameter\(s\) \['a'\]"),
        ({"parameters": {"a": 1, "c": 3}}, r"no parameter\(s\) \['c'\]; its parameters are \['a', 'b'\]"),
        ({"a": 1, "c": 3}, r"unexpected argument 'c'; its parameters are \['a', 'b'\]"),
    ],
    ids=["missing", "missing-with-other", "unknown-in-dict", "unknown-keyword"],
)
def test_bad_values_fail_before_any_task_runs(run_kwargs, match):
    calls = []
    flow, _ = _flow(calls)
    with pytest.raises(ParameterError, match=match) as info:
        flow.run(**run_kwargs)
    assert isinstance(info.value, ValueError)
    assert calls == []


def test_a_value_outside_the_bounds_fails_before_any_task_runs():
    calls = []

    @task
    def side_effect():
        calls.append("ran")

    with Flow("bounded") as flow:
        side_effect()
        n = Parameter("n", default=1, bounds=(1, 5))
        ident(n)
    with pytest.raises(ParameterError, match="between 1 and 5, got 9"):
        flow.run(n=9)
    assert calls == []
    assert flow.run(n=5).is_successful()


def test_a_flow_without_parameters_rejects_values():
    with Flow("none") as flow:
        ident(1)
    with pytest.raises(ParameterError, match=r"its parameters are \[\]"):
        flow.run(x=1)


def test_parameter_run_reads_the_run_context():
    from perfect_nb import context

    p = Parameter("x", default=2)
    assert p.run() == 2
    with context(parameters={"x": 7}):
        assert p.run() == 7
    with pytest.raises(ValueError, match="required"):
        Parameter("y").run()


def test_explicit_none_satisfies_a_required_parameter():
    with Flow("f") as flow:
        out = ident(Parameter("x"))
    assert flow.run(x=None).result[out].result is None
