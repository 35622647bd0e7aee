"""Tasks (perfect_nb.core.task): building, options, binding, operators, arguments."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from perfect_nb import Flow, Parameter, Task, context, tags, task, triggers, unmapped
from perfect_nb.core.edge import Edge
from perfect_nb.core.task import FunctionTask
from perfect_nb.tasks.core import collections as coll
from perfect_nb.tasks.core import operators as ops
from perfect_nb.tasks.core.constants import Constant


@task
def add(x, y=1):
    """Add two numbers."""
    return x + y


@task
def ident(x):
    return x


class Multiply(Task):
    def run(self, x, factor=2):
        return x * factor


def _show(value) -> str:
    """A stable test id for a value (functions by name, not by address)."""
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_show(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_show(v) for v in value)) + "}"
    if isinstance(value, dict):
        return ",".join(f"{k}={_show(v)}" for k, v in value.items())
    return repr(value)


def results(flow: Flow, **parameters) -> dict:
    """Run the flow and map each task to its result (asserting every task succeeded)."""
    state = flow.run(**parameters)
    failed = {t.name: s for t, s in state.result.items() if not s.is_successful()}
    assert not failed, failed
    return {t: s.result for t, s in state.result.items()}


# --- making tasks ------------------------------------------------------------
def test_decorator_without_arguments():
    assert isinstance(add, FunctionTask)
    assert add.name == "add"
    assert add.__doc__ == "Add two numbers."
    assert add.__qualname__ == "add"
    assert add.run(1) == 2
    assert add.run(1, y=5) == 6


def test_decorator_with_arguments():
    @task(name="double", tags=["math"], max_retries=2, retry_delay=dt.timedelta(seconds=3))
    def times_two(x):
        return 2 * x

    assert (times_two.name, times_two.tags, times_two.max_retries) == ("double", {"math"}, 2)
    assert times_two.retry_delay == dt.timedelta(seconds=3)
    assert times_two.run(4) == 8


def test_task_called_as_a_function():
    t = task(lambda x: x * 3, name="triple", nout=None, log_stdout=True)
    assert (t.name, t.log_stdout, t.run(2)) == ("triple", True, 6)
    assert task(lambda: 1).name == "<lambda>"


def test_task_needs_a_callable():
    with pytest.raises(TypeError, match="needs a function"):
        task(42)


def test_subclass_overriding_run():
    t = Multiply()
    assert t.name == "Multiply"
    assert t.run(3) == 6
    assert t.run(3, factor=5) == 15
    assert Multiply(name="m").name == "m"


def test_base_task_runs_to_none():
    assert Task().run() is None
    assert Task().name == "Task"


def test_inputs_and_outputs_describe_run():
    @task
    def typed(a: int, b: str = "x") -> float:
        return 1.0

    assert typed.inputs() == {
        "a": {"type": int, "default": None, "required": True},
        "b": {"type": str, "default": "x", "required": False},
    }
    assert typed.outputs() is float
    assert add.inputs()["x"]["type"] is typing.Any


# --- options --------------------------------------------------------------------
def _handler(task, old, new):
    return new


def _on_failure(task, state):
    return None


OPTIONS = [
    # keyword arguments, attribute, stored value
    ({"name": "load"}, "name", "load"),
    ({"slug": "load-1"}, "slug", "load-1"),
    ({"tags": ["a", "b"]}, "tags", {"a", "b"}),
    ({"max_retries": 3, "retry_delay": dt.timedelta(minutes=10)}, "max_retries", 3),
    ({"max_retries": 3, "retry_delay": dt.timedelta(minutes=10)}, "retry_delay", dt.timedelta(minutes=10)),
    ({"max_retries": 1, "retry_delay": 2.5}, "retry_delay", dt.timedelta(seconds=2.5)),
    ({"max_retries": 1, "retry_delay": 0}, "retry_delay", dt.timedelta(0)),
    ({"retry_on": KeyError}, "retry_on", (KeyError,)),
    ({"retry_on": [KeyError, OSError]}, "retry_on", (KeyError, OSError)),
    ({"timeout": 5}, "timeout", 5.0),
    ({"timeout": 0.5}, "timeout", 0.5),
    ({"timeout": dt.timedelta(minutes=1)}, "timeout", 60.0),
    ({"trigger": triggers.all_finished}, "trigger", triggers.all_finished),
    ({"skip_on_upstream_skip": False}, "skip_on_upstream_skip", False),
    ({"cache_for": dt.timedelta(hours=1)}, "cache_for", dt.timedelta(hours=1)),
    ({"cache_key": "shared"}, "cache_key", "shared"),
    ({"checkpoint": True}, "checkpoint", True),
    ({"state_handlers": [_handler]}, "state_handlers", [_handler]),
    ({"state_handlers": (_handler,)}, "state_handlers", [_handler]),
    ({"on_failure": _on_failure}, "on_failure", _on_failure),
    ({"log_stdout": True}, "log_stdout", True),
    ({"target": "out/{task_name}.pkl"}, "target", "out/{task_name}.pkl"),
    ({"task_run_name": "load-{x}"}, "task_run_name", "load-{x}"),
    ({"nout": 2}, "nout", 2),
]


@pytest.mark.parametrize("kwargs, attribute, value", OPTIONS, ids=[f"{row[1]}={_show(row[2])}" for row in OPTIONS])
def test_option_is_stored(kwargs, attribute, value):
    for made in (Task(**kwargs), task(lambda: None, **kwargs), task(**kwargs)(lambda: None)):
        assert getattr(made, attribute) == value


DEFAULTS = {
    "slug": None, "tags": set(), "max_retries": 0, "retry_delay": None, "retry_on": None,
    "timeout": None, "skip_on_upstream_skip": True, "cache_for": None,
    "state_handlers": [], "on_failure": None, "log_stdout": False, "task_run_name": None,
    "nout": None, "target": None, "checkpoint": None,
}


@pytest.mark.parametrize("attribute, value", DEFAULTS.items())
def test_option_defaults(attribute, value):
    assert getattr(Task(), attribute) == value
    assert getattr(add, attribute) == value


BAD_OPTIONS = [
    ({"max_retries": 2}, ValueError, "retry_delay"),
    ({"max_retries": 1, "retry_delay": "soon"}, TypeError, "retry_delay"),
    ({"retry_on": ["KeyError"]}, TypeError, "exception classes"),
    ({"retry_on": 3}, TypeError, "exception classes"),
    ({"timeout": 0}, ValueError, "positive"),
    ({"timeout": -1}, ValueError, "positive"),
    ({"timeout": dt.timedelta(0)}, ValueError, "positive"),
    ({"timeout": "10"}, TypeError, "timeout"),
    ({"timeout": True}, TypeError, "timeout"),
    ({"trigger": "all_successful"}, TypeError, "trigger must be a callable"),
    ({"state_handlers": [_handler, "oops"]}, TypeError, "state handler must be a callable"),
    ({"state_handlers": _handler}, TypeError, "state_handlers must be a list"),
    ({"on_failure": "email me"}, TypeError, "on_failure must be a callable"),
    ({"tags": "nightly"}, TypeError, "not one string"),
    ({"cache_for": "1h"}, TypeError, "cache_for"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_OPTIONS, ids=[_show(row[0]) for row in BAD_OPTIONS])
def test_bad_option_is_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        Task(**kwargs)
    with pytest.raises(error, match=match):
        task(lambda: None, **kwargs)


def test_zero_retries_need_no_delay():
    assert Task(max_retries=0).max_retries == 0


# --- calling inside a flow: copy and bind --------------------------------------------
def test_calling_in_a_flow_copies_and_binds():
    with Flow("f") as flow:
        two = add(1)
        three = add(two, y=1)
    assert two is not add and three is not add and two is not three
    assert add not in flow.tasks
    assert flow.tasks == {two, three}
    assert flow.constants[two] == {"x": 1}
    assert flow.constants[three] == {"y": 1}
    assert flow.edges == {Edge(two, three, key="x")}
    assert results(flow)[three] == 3


def test_copies_keep_the_options():
    t = Multiply(name="m", tags=["t"], max_retries=1, retry_delay=1, trigger=triggers.any_failed)
    with Flow("f"):
        c = t(2)
    assert isinstance(c, Multiply)
    assert (c.name, c.tags, c.max_retries, c.trigger) == ("m", {"t"}, 1, triggers.any_failed)


def test_calling_with_task_args_overrides_options_of_the_copy():
    with Flow("f") as flow:
        t = add(1, task_args={"name": "first", "tags": ["x"]})
    assert (t.name, t.tags) == ("first", {"x"})
    assert (add.name, add.tags) == ("add", set())
    assert flow.get_task("first") is t


def test_upstream_tasks_keyword_adds_ordering_edges():
    with Flow("f") as flow:
        a = ident(1)
        b = ident(2, upstream_tasks=[a])
    assert flow.edges == {Edge(a, b)}
    assert flow.upstream_tasks(b) == {a}


def test_bind_binds_the_task_itself():
    flow = Flow("imperative")
    t = add.copy()
    assert t.bind(1, y=2, flow=flow) is t
    assert t in flow.tasks
    assert flow.constants[t] == {"x": 1, "y": 2}
    assert results(flow)[t] == 3


def test_bind_uses_the_active_flow():
    t = add.copy()
    with Flow("f") as flow:
        t.bind(x=4)
    assert results(flow)[t] == 5


def test_bind_counts_arguments_already_fed_by_edges():
    flow = Flow("f")
    a, b = add.copy(), add.copy()
    b.set_upstream(a, key="x", flow=flow)
    a.bind(x=1, flow=flow)
    b.bind(y=5, flow=flow)  # x already comes from a
    assert results(flow)[b] == 7


def test_an_argument_takes_one_value():
    with Flow("f") as flow:
        a = ident(1)
        t = add(a)
        with pytest.raises(ValueError, match="already has a value"):
            t.bind(x=ident(2))
        with pytest.raises(ValueError, match="'x' of task 'add' already has a value from an upstream task"):
            t.bind(x=5)
    assert "x" not in flow.constants[t]


def test_copy_is_independent():
    original = Task(name="orig", tags=["a"], state_handlers=[_handler])
    copy = original.copy()
    copy.tags.add("b")
    copy.state_handlers.append(_handler)
    assert original.tags == {"a"} and original.state_handlers == [_handler]
    assert copy.name == "orig" and type(copy) is Task


def test_copy_with_task_args():
    copy = add.copy(name="plus", tags=["x"], max_retries=2, nout=2)
    assert (copy.name, copy.tags, copy.max_retries, copy.nout) == ("plus", {"x"}, 2, 2)
    assert add.name == "add" and add.nout is None
    assert copy.run(1) == 2


def test_copy_with_an_unknown_option():
    with pytest.raises(AttributeError, match="no option 'colour'"):
        add.copy(colour="red")


def test_copy_resets_the_slug():
    with Flow("f") as flow:
        t = add(1)
    assert t.slug == "add"
    assert t.copy().slug is None
    assert flow.add_task(t.copy()).slug == "add-2"


# --- dependencies --------------------------------------------------------------------
def test_set_upstream_and_set_downstream_with_flow_argument():
    flow = Flow("f")
    a, b, c = ident.copy(), ident.copy(), Task(name="c")
    b.set_upstream(a, flow=flow, key="x")
    a.set_downstream(c, flow=flow)
    a.bind(x="A", flow=flow)
    assert flow.edges == {Edge(a, b, key="x"), Edge(a, c)}
    assert results(flow)[b] == "A"


def test_set_upstream_and_set_downstream_from_context():
    with Flow("f") as flow:
        a = ident(1)
        b = Task(name="b")
        b.set_upstream(a)
        c = Task(name="c")
        c.set_downstream(b)
    assert flow.upstream_tasks(b) == {a, c}


def test_set_downstream_with_key_feeds_that_argument():
    with Flow("f") as flow:
        a = ident(10)
        b = ident.copy()
        a.set_downstream(b, key="x")
    assert results(flow)[b] == 10


def test_set_upstream_mapped():
    with Flow("f") as flow:
        a = ident([1, 2, 3])
        b = add.copy()
        b.set_upstream(a, key="x", mapped=True)
    assert Edge(a, b, key="x", mapped=True) in flow.edges
    assert results(flow)[b] == [2, 3, 4]


def test_task_set_dependencies():
    flow = Flow("f")
    a, b, c = Task(name="a"), add.copy(), Task(name="c")
    b.set_dependencies(flow=flow, upstream_tasks=[a], downstream_tasks=[c], keyword_tasks={"x": 1, "y": ident(2, flow=flow)})
    assert flow.upstream_tasks(b) == {a} | {t for t in flow.tasks if t.name == "ident"}
    assert flow.downstream_tasks(b) == {c}
    assert results(flow)[b] == 3


@pytest.mark.parametrize(
    "build, action",
    [
        (lambda: add(1), "call"),
        (lambda: add.bind(1), "bind"),
        (lambda: Task().set_upstream(Task()), "set_upstream"),
        (lambda: Task().set_downstream(Task()), "set_downstream"),
        (lambda: Task().set_dependencies(upstream_tasks=[Task()]), "set_dependencies"),
        (lambda: add[0], "getitem"),
        (lambda: add + 1, "operator"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_outside_a_flow_is_an_error_that_says_what_to_do(build, action):
    with pytest.raises(ValueError) as info:
        build()
    message = str(info.value)
    assert ".run(" in message and "with Flow" in message


# --- signatures ------------------------------------------------------------------------
def test_star_args_are_rejected():
    def variadic(*values):
        return values

    with pytest.raises(ValueError, match=r"\*args"):
        task(variadic)
    with pytest.raises(ValueError, match=r"\*args"):

        class Variadic(Task):
            def run(self, *values):
                return values


def test_star_kwargs_are_accepted():
    @task
    def collect(**values):
        return values

    with Flow("f") as flow:
        t = collect(a=1, b=ident(2))
    assert results(flow)[t] == {"a": 1, "b": 2}


@pytest.mark.parametrize("name", ["upstream_tasks", "mapped", "task_args", "flow"])
def test_reserved_argument_names_are_rejected(name):
    fn = eval(f"lambda {name}: None")
    with pytest.raises(ValueError, match=name):
        task(fn)
    with pytest.raises(ValueError, match=name):
        type("Reserved", (Task,), {"run": eval(f"lambda self, {name}: None")})


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: add(1, z=2), "unexpected argument 'z'"),
        (lambda: add(), r"missing a value for argument\(s\) \['x'\]"),
        (lambda: add(y=2), r"\['x'\]"),
        (lambda: add(1, 2, 3), "takes 2 positional arguments but 3 were given"),
        (lambda: add(1, x=2), "multiple values for argument 'x'"),
        (lambda: Multiply()(factor=3), r"\['x'\]"),
    ],
    ids=["unexpected", "missing", "missing-with-other", "too-many", "twice", "subclass-missing"],
)
def test_argument_errors_name_the_arguments(call, match):
    with Flow("f"):
        with pytest.raises(TypeError, match=match):
            call()


def test_argument_errors_also_apply_to_run():
    with pytest.raises(TypeError):
        add.run()


# --- several outputs ----------------------------------------------------------------------
def test_nout_unpacks_into_getitem_tasks():
    @task(nout=2)
    def split(s):
        return s.split("-")

    with Flow("f") as flow:
        first, second = split("a-b")
    values = results(flow)
    assert (values[first], values[second]) == ("a", "b")
    assert all(isinstance(t, ops.GetItem) for t in (first, second))


@pytest.mark.parametrize(
    "annotation, nout",
    [("tuple[int, int]", 2), ("typing.Tuple[int, str, float]", 3), ("tuple[int, ...]", None), ("list[int]", None), ("int", None)],
)
def test_nout_is_inferred_from_the_return_annotation(annotation, nout):
    fn = eval(f"lambda: None")
    fn.__annotations__ = {"return": eval(annotation)}
    assert task(fn).nout == nout


def test_nout_from_a_subclass_annotation():
    class Pair(Task):
        def run(self) -> tuple[int, int]:
            return 1, 2

    with Flow("f") as flow:
        a, b = Pair()()
    values = results(flow)
    assert (values[a], values[b]) == (1, 2)
    assert Pair(nout=None).nout == 2
    assert Pair(nout=3).nout == 3


def test_tuple_annotation_unpacks_in_a_flow():
    @task
    def minmax(values) -> tuple[int, int]:
        return min(values), max(values)

    with Flow("f") as flow:
        low, high = minmax([3, 1, 2])
        spread = high - low
    assert results(flow)[spread] == 2


def test_a_task_without_nout_is_not_iterable():
    with Flow("f"):
        with pytest.raises(TypeError, match="nout"):
            a, b = ident(1)


# --- operators ----------------------------------------------------------------------------
OPERATORS = [
    # name, expression over t (which returns 6), expected result, operator task class
    ("add", lambda t: t + 2, 8, ops.Add),
    ("radd", lambda t: 2 + t, 8, ops.Add),
    ("sub", lambda t: t - 2, 4, ops.Sub),
    ("rsub", lambda t: 10 - t, 4, ops.Sub),
    ("mul", lambda t: t * 3, 18, ops.Mul),
    ("rmul", lambda t: 3 * t, 18, ops.Mul),
    ("truediv", lambda t: t / 4, 1.5, ops.Div),
    ("rtruediv", lambda t: 3 / t, 0.5, ops.Div),
    ("floordiv", lambda t: t // 4, 1, ops.FloorDiv),
    ("rfloordiv", lambda t: 20 // t, 3, ops.FloorDiv),
    ("mod", lambda t: t % 4, 2, ops.Mod),
    ("rmod", lambda t: 20 % t, 2, ops.Mod),
    ("pow", lambda t: t ** 2, 36, ops.Pow),
    ("rpow", lambda t: 2 ** t, 64, ops.Pow),
    # And/Or give the operand Python's `and`/`or` gives, as Prefect 1.4.1 does (1 & t -> 6)
    ("and", lambda t: t & 0, 0, ops.And),
    ("rand", lambda t: 1 & t, 6, ops.And),
    ("gt", lambda t: t > 5, True, ops.GreaterThan),
    ("ge", lambda t: t >= 7, False, ops.GreaterThanOrEqual),
    ("lt", lambda t: t < 6, False, ops.LessThan),
    ("le", lambda t: t <= 6, True, ops.LessThanOrEqual),
    ("reflected gt", lambda t: 7 > t, True, ops.LessThan),
    ("is_equal", lambda t: t.is_equal(6), True, ops.Equal),
    ("is_not_equal", lambda t: t.is_not_equal(6), False, ops.NotEqual),
    ("not_", lambda t: t.not_(), False, ops.Not),
    ("or_", lambda t: t.or_(0), 6, ops.Or),
    ("and_", lambda t: t.and_(0), 0, ops.And),
    ("two tasks", lambda t: t + t * t, 42, ops.Add),
]


@pytest.mark.parametrize("name, expression, expected, kind", OPERATORS, ids=[row[0] for row in OPERATORS])
def test_operator_builds_a_task_that_computes_it(name, expression, expected, kind):
    with Flow("ops") as flow:
        t = ident(6)
        out = expression(t)
    assert isinstance(out, kind)
    assert flow.upstream_tasks(out) >= {t}
    value = results(flow)[out]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "key, expected", [(0, "a"), (-1, "c"), ("k", None), (slice(1, None), ["b", "c"])], ids=["0", "-1", "key", "slice"]
)
def test_getitem(key, expected):
    with Flow("f") as flow:
        seq = ident(["a", "b", "c"])
        mapping = ident({"k": None})
        item = (mapping if key == "k" else seq)[key]
    assert isinstance(item, ops.GetItem)
    assert results(flow)[item] == expected


def test_getitem_with_a_task_key():
    with Flow("f") as flow:
        item = ident({"x": 1, "y": 2})[ident("y")]
    assert results(flow)[item] == 2


def test_a_task_is_always_truthy():
    assert bool(Task()) is True


# --- collections and constants as arguments -------------------------------------------------
def test_collections_of_tasks_and_constants():
    with Flow("f") as flow:
        a, b = ident(1), ident(2)
        as_list = ident([a, b, 3])
        as_tuple = ident((a, "x"))
        as_dict = ident({"a": a, "rest": [b, 7]})
        as_set = ident({a, b, 9})
        nested = ident([[a], {"z": (b,)}])
        keys = ident({a: "one"})
    values = results(flow)
    assert values[as_list] == [1, 2, 3]
    assert values[as_tuple] == (1, "x")
    assert values[as_dict] == {"a": 1, "rest": [2, 7]}
    assert values[as_set] == {1, 2, 9}
    assert values[nested] == [[1], {"z": (2,)}]
    assert values[keys] == {1: "one"}
    kinds = {type(t) for t in flow.upstream_tasks(as_list) | flow.upstream_tasks(as_tuple) | flow.upstream_tasks(as_set)}
    assert kinds == {coll.List, coll.Tuple, coll.Set}
    assert type(next(iter(flow.upstream_tasks(as_dict)))) is coll.Dict


def test_collections_without_tasks_stay_constants():
    with Flow("f") as flow:
        t = ident({"a": [1, 2], "b": (3,)})
    assert flow.tasks == {t}
    assert flow.constants[t] == {"x": {"a": [1, 2], "b": (3,)}}
    assert results(flow)[t] == {"a": [1, 2], "b": (3,)}


def test_parameters_inside_collections():
    with Flow("f") as flow:
        p = Parameter("p", default=5)
        t = ident([p, p])
    assert results(flow, p=7)[t] == [7, 7]


def test_map_binds_mapped_edges_and_unmapped_constants():
    with Flow("f") as flow:
        out = add.map([1, 2, 3], y=unmapped(10))
    mapped_edges = {e.key: e.mapped for e in flow.edges_to(out)}
    assert mapped_edges == {"x": True}
    assert flow.constants[out] == {"y": 10}
    assert isinstance(next(iter(flow.upstream_tasks(out))), Constant)
    assert results(flow)[out] == [11, 12, 13]


def test_flatten_marks_the_edge():
    from perfect_nb import flatten

    with Flow("f") as flow:
        nested = ident([[1, 2], [3]])
        out = add.map(flatten(nested))
    (edge,) = flow.edges_to(out)
    assert (edge.upstream_task, edge.key, edge.mapped, edge.flattened) == (nested, "x", True, True)
    assert results(flow)[out] == [2, 3, 4]


# --- tags --------------------------------------------------------------------------------
def test_tags_context_manager():
    with tags("db"):
        with tags("nightly", "etl"):
            inner = Task(tags=["own"])
        outer = Task()
    after = Task()
    assert inner.tags == {"db", "nightly", "etl", "own"}
    assert outer.tags == {"db"}
    assert after.tags == set()
    assert "tags" not in context or not context.get("tags")


def test_tags_reach_copies_made_in_the_block():
    with Flow("f") as flow:
        with tags("special"):
            a = add(1)
        b = add(2)
    assert a.tags == {"special"} and b.tags == set() and add.tags == set()
    assert flow.get_tasks(tags=["special"]) == [a]


def test_tasks_of_a_flow_made_in_tags_block():
    with tags("team"):
        with Flow("f") as flow:
            t = ident(1)
    assert t.tags == {"team"}
    assert results(flow)[t] == 1
