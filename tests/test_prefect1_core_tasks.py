"""Prefect 1's building blocks at their paths (issue 14, section 2): ``tasks.core``
(operators, constants, collections, function, resource_manager), ``apply_map``, ``case``
and ``resource_manager`` at the top level, and Task's public methods (``pipe``,
``serialize``, ``__signature__``, ``|``).

Each expectation was taken from running the same flow on Prefect 1.4.1
(bench/.prefect1-venv) and on perfect_nb; the docstrings quote what 1.4.1 gave.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import json

import pytest

import perfect_nb
from perfect_nb import Flow, Parameter, Task, apply_map, case, flatten, resource_manager, task, unmapped
from perfect_nb.tasks.control_flow import merge
from perfect_nb.tasks.core import collections as coll
from perfect_nb.tasks.core import operators as ops
from perfect_nb.tasks.core.constants import Constant
from perfect_nb.tasks.core.function import FunctionTask
from perfect_nb.tasks.core.resource_manager import ResourceCleanupTask, ResourceInitTask, ResourceManager, ResourceSetupTask


@task
def inc(x):
    return x + 1


@task
def add(x, y):
    return x + y


@task
def double(x):
    return 2 * x


@task
def neg(x):
    return -x


@task
def is_even(x):
    return x % 2 == 0


@task
def one():
    return 1


def results(flow, **parameters):
    state = flow.run(**parameters)
    return state, {t: state.result[t].result for t in flow.tasks}


@pytest.mark.parametrize(
    "module",
    ["perfect_nb.tasks.core.operators", "perfect_nb.tasks.core.constants", "perfect_nb.tasks.core.collections",
     "perfect_nb.tasks.core.function", "perfect_nb.tasks.core.resource_manager", "perfect_nb.utilities.tasks"],
)
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried > 0 and failures == 0


# --- operators ------------------------------------------------------------------------------
def test_every_prefect1_operator_class_exists():
    """1.4.1's tasks.core.operators defines GetItem, GetAttr, Add, Sub, Mul, Div, FloorDiv,
    Pow, Mod, And, Or, Not, Equal, NotEqual, GreaterThanOrEqual, GreaterThan,
    LessThanOrEqual, LessThan (all Task subclasses)."""
    names = ["GetItem", "GetAttr", "Add", "Sub", "Mul", "Div", "FloorDiv", "Pow", "Mod", "And", "Or", "Not",
             "Equal", "NotEqual", "GreaterThanOrEqual", "GreaterThan", "LessThanOrEqual", "LessThan"]
    assert all(issubclass(getattr(ops, n), Task) for n in names)
    assert sorted(ops.__all__) == sorted(names + ["NoDefault"])


def test_operator_runs_give_what_prefect1_gives():
    """1.4.1: Add().run(1, 2) 3, Not().run(0) True, And().run(1, 0) 0 (the operand, not a
    bool), Or().run(0, "a") "a", GetItem().run([1, 2], 1) 2, GetAttr().run(1+2j, "real") 1.0,
    GetAttr on a dotted path "real.real" 1.0; GetItem(default=None).run({}, "x") None but a
    list index out of range still raises IndexError; GetAttr(default=None).run(1, "nope") None."""
    assert ops.Add().run(1, 2) == 3 and ops.Not().run(0) is True
    assert ops.And().run(1, 0) == 0 and ops.Or().run(0, "a") == "a"
    assert ops.GetItem().run([1, 2], 1) == 2
    assert ops.GetAttr().run(1 + 2j, "real") == 1.0 and ops.GetAttr().run(1 + 2j, "real.real") == 1.0
    assert ops.GetItem(default=None).run({}, "x") is None
    with pytest.raises(IndexError):
        ops.GetItem(default="D").run([1], 5)
    with pytest.raises(KeyError):
        ops.GetItem().run({}, "x")
    assert ops.GetAttr(default=None).run(1, "nope") is None
    assert (ops.GetItem().name, ops.GetItem(default=1, name="n").name, ops.Add().name) == ("GetItem", "n", "Add")


def test_no_default_marker():
    """1.4.1: operators.NoDefault is an Enum whose one member NoDefault.value shows as
    '<no default>'; it is what GetItem/GetAttr take when no default is given."""
    assert list(ops.NoDefault) == [ops.NoDefault.value] and repr(ops.NoDefault.value) == "<no default>"
    with pytest.raises(KeyError):
        ops.GetItem(default=ops.NoDefault.value).run({}, "x")
    assert ops.GetAttr().default is ops.NoDefault.value


def test_getattr_task_in_a_flow_and_its_failure_message():
    """1.4.1: GetAttr()(o, "a") 5, GetAttr(default=7)(o, "zz") 7, GetItem(default=9)(d, "nope")
    9, and GetAttr()(o, "zz") Failed with 'Error during execution of task:
    AttributeError("\\'O\\' object has no attribute \\'zz\\'")'."""

    class O:
        a = 5

    make = task(lambda: O(), name="mk")
    with Flow("getattr") as flow:
        o = make()
        found = ops.GetAttr()(o, "a")
        fallback = ops.GetAttr(default=7)(o, "zz")
        item = ops.GetItem(default=9)(task(lambda: {"k": 1}, name="d")(), "nope")
        missing = ops.GetAttr()(o, "zz")
    state = flow.run()
    assert [state.result[t].result for t in (found, fallback, item)] == [5, 7, 9]
    assert state.result[missing].is_failed()
    assert "AttributeError" in state.result[missing].message and "'zz'" in state.result[missing].message


def test_task_operators_build_the_prefect1_tasks():
    """1.4.1, with a task returning 1: a+1, 1+a, a-3, 3-a, a*4, a/2, 2/a, a//1, a%1, a**2,
    a>0, a>=1, a<0, a<=1, a&0, 0&a, a.is_equal(1), a.is_not_equal(1), a.not_(), a.or_(0) gave
    [2, 2, -2, 2, 4, 0.5, 2.0, 1, 0, 1, True, True, False, True, 0, 0, True, False, False, 1]
    from tasks named Add, Add, Sub, Sub, Mul, Div, Div, FloorDiv, Mod, Pow, GreaterThan, ...,
    And, And, Equal, NotEqual, Not, Or."""
    with Flow("ops") as flow:
        a = one()
        built = [a + 1, 1 + a, a - 3, 3 - a, a * 4, a / 2, 2 / a, a // 1, a % 1, a ** 2, a > 0, a >= 1, a < 0,
                 a <= 1, a & 0, 0 & a, a.is_equal(1), a.is_not_equal(1), a.not_(), a.or_(0)]
    state = flow.run()
    assert [state.result[t].result for t in built] == [2, 2, -2, 2, 4, 0.5, 2.0, 1, 0, 1, True, True, False, True,
                                                        0, 0, True, False, False, 1]
    assert [t.name for t in built] == [
        "Add", "Add", "Sub", "Sub", "Mul", "Div", "Div", "FloorDiv", "Mod", "Pow", "GreaterThan",
        "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "And", "And", "Equal", "NotEqual", "Not", "Or"]


def test_pipe_operator_makes_a_state_dependency_and_returns_the_other_side():
    """1.4.1: `a | b` adds the edge a -> b (no key) and returns b; `5 | c` adds Constant '5' -> c
    and returns c; `a | 7` adds a -> Constant '7' and returns 7 itself."""
    two = task(lambda: 2, name="two")
    with Flow("or") as flow:
        a, b = one(), two()
        assert (a | b) is b
        c = one()
        assert (5 | c) is c
        assert (a | 7) == 7
    edges = sorted((e.upstream_task.name, e.downstream_task.name, e.key) for e in flow.edges)
    assert edges == [("5", "one", None), ("one", "7", None), ("one", "two", None)]
    state = flow.run()
    assert state.is_successful() and state.result[b].result == 2


def test_getitem_names_chain_like_prefect1():
    """1.4.1: x["k"] is named "d['k']" and x["k"][1] "d['k'][1]"; the result was 2."""
    with Flow("gi") as flow:
        x = task(lambda: {"k": [1, 2]}, name="d")()
        z = x["k"][1]
    assert z.name == "d['k'][1]"
    assert flow.run().result[z].result == 2


# --- constants, collections, FunctionTask ------------------------------------------------------
def test_constant_names_follow_prefect1():
    """1.4.1 names a Constant by its repr when that is at most 8 characters, else
    Constant[type]: 5 -> '5', 'abc' -> "'abc'", [1, 2] -> '[1, 2]', 'xxxxxx' -> "'xxxxxx'" but
    'xxxxxxx' -> 'Constant[str]', range(3) -> 'Constant[range]', 123456789 -> 'Constant[int]',
    a list of 30 -> 'Constant[list]'; name= wins."""
    cases = {5: "5", "abc": "'abc'", "xxxxxx": "'xxxxxx'", "xxxxxxx": "Constant[str]", None: "None", 1.5: "1.5",
             123456789: "Constant[int]", True: "True", b"ab": "b'ab'"}
    for value, name in cases.items():
        assert Constant(value).name == name, value
    assert Constant([1, 2]).name == "[1, 2]" and Constant(range(3)).name == "Constant[range]"
    assert Constant(list(range(30))).name == "Constant[list]" and Constant({"a": 1}).name == "{'a': 1}"
    assert Constant(5, name="five").name == "five" and Constant(5).run() == 5


def test_collection_tasks_number_their_arguments_from_one():
    """1.4.1: List()(a, 2, a) has edges one->List keyed arg_1 and arg_3 (2 is a constant arg_2)
    and gives [1, 2, 1]; Tuple()(a, 3) (1, 3); Set()(a, a) {1}; Dict()(keys=[...],
    values=[a, 2]) {'x': 1, 'y': 2}; List().run(arg_2=..., arg_1=...) orders by number;
    Dict().run with more values than keys is a ValueError."""
    with Flow("c") as flow:
        a = one()
        as_list = coll.List()(a, 2, a)
        as_tuple = coll.Tuple()(a, 3)
        as_set = coll.Set()(a, a)
        as_dict = coll.Dict()(keys=["x", "y"], values=[a, 2])
    state = flow.run()
    assert [state.result[t].result for t in (as_list, as_tuple, as_set, as_dict)] == [[1, 2, 1], (1, 3), {1}, {"x": 1, "y": 2}]
    assert sorted(e.key for e in flow.edges if e.downstream_task is as_list) == ["arg_1", "arg_3"]
    assert flow.constants[as_list] == {"arg_2": 2}
    assert coll.List().run(arg_2="b", arg_1="a") == ["a", "b"]
    assert issubclass(coll.List, coll.VarArgsTask)
    with pytest.raises(ValueError):
        coll.Dict().run(keys=["a"], values=[1, 2])


def test_tasks_made_for_arguments_are_auto_generated():
    """1.4.1: f([a, 2]) and f.map([1, 2]) add a List and a Constant '[1, 2]' with
    auto_generated True; the user's tasks have it False."""
    ident = task(lambda x: x, name="f")
    with Flow("a") as flow:
        a = ident(1)
        ident([a, 2])
        ident.map([1, 2])
    assert sorted((t.name, t.auto_generated) for t in flow.tasks) == [
        ("List", True), ("[1, 2]", True), ("f", False), ("f", False), ("f", False)]


def test_function_task_at_its_prefect1_path():
    """1.4.1: FunctionTask(lambda x: x, name="ident") runs to 3 for 3; FunctionTask(3) is a
    TypeError; a function with *args is a ValueError; @task makes a FunctionTask."""
    ft = FunctionTask(lambda x: x, name="ident")
    assert (ft.name, ft.run(3)) == ("ident", 3)
    assert isinstance(inc, FunctionTask)
    with pytest.raises(TypeError):
        FunctionTask(3)
    with pytest.raises(ValueError, match=r"\*args"):
        FunctionTask(lambda *a: 1)


# --- Task's public methods ----------------------------------------------------------------------
def test_task_has_every_public_method_prefect1_has():
    """dir(prefect.Task) in 1.4.1, public part: bind, copy, inputs, is_equal, is_not_equal, map,
    not_, or_, outputs, pipe, run, serialize, set_dependencies, set_downstream, set_upstream."""
    wanted = {"bind", "copy", "inputs", "is_equal", "is_not_equal", "map", "not_", "or_", "outputs", "pipe", "run",
              "serialize", "set_dependencies", "set_downstream", "set_upstream"}
    assert wanted <= {n for n in dir(Task) if not n.startswith("_")}
    dunders = {"__add__", "__and__", "__call__", "__floordiv__", "__ge__", "__getitem__", "__gt__", "__iter__", "__le__",
               "__lt__", "__mod__", "__mul__", "__or__", "__pow__", "__radd__", "__rand__", "__rfloordiv__",
               "__rmod__", "__rmul__", "__ror__", "__rpow__", "__rsub__", "__rtruediv__", "__sub__", "__truediv__"}
    assert dunders <= set(dir(Task))


def test_pipe_feeds_this_task_as_the_first_argument():
    """1.4.1: inc(1).pipe(add, y=5).pipe(double) gave 14 and added the edge inc -> add keyed x;
    .pipe(add, 3) is a TypeError (pipe takes the task and keywords only); outside a flow it is
    the ValueError a call outside a flow gives."""
    with Flow("pipe") as flow:
        out = inc(1).pipe(add, y=5).pipe(double)
        with pytest.raises(TypeError):
            inc(1).pipe(add, 3)
    assert flow.run().result[out].result == 14
    assert ("inc", "add", "x") in {(e.upstream_task.name, e.downstream_task.name, e.key) for e in flow.edges}
    with pytest.raises(ValueError, match="flow"):
        inc.pipe(add, y=1)


def test_task_signature_is_run_plus_the_binding_keywords():
    """1.4.1: inspect.signature(f) for `def f(x, y=1, **kw)` is "(x, y=1, *, mapped: bool =
    False, task_args: dict = None, upstream_tasks: Iterable[Any] = None, flow: 'Flow' = None,
    **kw) -> 'Task'"; for a Task subclass with run(self, a, b=2) it starts "(a, b=2, *, mapped"."""

    @task
    def f(x, y=1, **kw):
        return x

    class T(Task):
        def run(self, a, b=2):
            return a

    sig = inspect.signature(f)
    assert list(sig.parameters) == ["x", "y", "mapped", "task_args", "upstream_tasks", "flow", "kw"]
    assert sig.parameters["mapped"].kind is inspect.Parameter.KEYWORD_ONLY and sig.parameters["mapped"].default is False
    assert str(inspect.signature(T())).startswith("(a, b=2, *, mapped: bool = False")


def test_serialize_gives_prefect1s_task_schema_keys_as_json():
    """1.4.1's f.serialize() for @task(max_retries=2, retry_delay=3 s, tags=['a']) has type,
    name, slug, tags ['a'], max_retries 2, retry_delay 3, inputs {'x': {'required': True,
    'type': 'typing.Any'}}, outputs 'typing.Any', timeout, trigger {'fn': ...all_successful},
    skip_on_upstream_skip, cache_for, cache_key, cache_validator, auto_generated, __version__."""
    import datetime

    @task(max_retries=2, retry_delay=datetime.timedelta(seconds=3), tags=["a"])
    def f(x):
        return x

    data = json.loads(json.dumps(f.serialize()))
    assert {"type", "name", "slug", "tags", "max_retries", "retry_delay", "inputs", "outputs", "timeout", "trigger",
            "skip_on_upstream_skip", "cache_for", "cache_key", "cache_validator", "auto_generated", "__version__"} <= set(data)
    assert (data["name"], data["tags"], data["max_retries"], data["retry_delay"]) == ("f", ["a"], 2, 3)
    assert data["inputs"] == {"x": {"required": True, "type": "typing.Any"}} and data["outputs"] == "typing.Any"
    assert data["trigger"]["fn"].endswith("all_successful") and data["type"].endswith("FunctionTask")


# --- apply_map ---------------------------------------------------------------------------------
def _branch(x):
    y = inc(x)
    with case(is_even(y), True):
        z = double(y)
    with case(is_even(y), False):
        z2 = neg(y)
    return merge(z, z2)


def test_apply_map_maps_a_case_pipeline():
    """1.4.1: apply_map(branch, range(4)) with inc -> case(is_even) -> double / neg -> merge gave
    [-1, 4, -3, 8], returned the Merge task, and the flow held 9 tasks: Constant[range],
    Merge, case(False), case(True), double, inc, is_even, is_even, neg."""
    with Flow("apply-map") as flow:
        out = apply_map(_branch, range(4))
    state = flow.run()
    assert state.result[out].result == [-1, 4, -3, 8]
    assert type(out).__name__ == "Merge" and len(flow.tasks) == 9
    assert perfect_nb.utilities.tasks.apply_map is apply_map


def test_apply_map_unmapped_flatten_several_arguments_and_tuples():
    """1.4.1: apply_map(f, [1, 2], y=unmapped(10)) [11, 12]; over a task two() -> [2, 3] with
    unmapped(one()) [3, 4]; flatten(nest()) of [[1, 2], [3]] with +10 [11, 12, 13]; two mapped
    lists [1, 2] and [10, 20] [11, 22]; a function returning a tuple of tasks returns that
    tuple ([[2, 3], [2, 4]]); a Parameter mapped gives [2, 3] for xs=[1, 2] with the edge
    xs -> inc mapped."""
    two = task(lambda: [2, 3], name="two")
    nest = task(lambda: [[1, 2], [3]], name="nest")
    with Flow("am") as flow:
        r1 = apply_map(lambda x, y: add(x, y), [1, 2], y=unmapped(10))
        o = one()
        r2 = apply_map(lambda x, y: add(x, y), two(), unmapped(o))
        r3 = apply_map(lambda x: add(x, 10), flatten(nest()))
        r4 = apply_map(lambda x, y: add(x, y), [1, 2], [10, 20])
        r5 = apply_map(lambda x: (inc(x), double(x)), [1, 2])
        xs = Parameter("xs")
        r6 = apply_map(lambda x: inc(x), xs)
    state = flow.run(xs=[1, 2])
    assert [state.result[t].result for t in (r1, r2, r3, r4)] == [[11, 12], [3, 4], [11, 12, 13], [11, 22]]
    assert isinstance(r5, tuple) and [state.result[t].result for t in r5] == [[2, 3], [2, 4]]
    assert state.result[r6].result == [2, 3]
    assert any(e.upstream_task is xs and e.mapped and e.key == "x" for e in flow.edges)
    assert any(e.upstream_task is o and not e.mapped for e in flow.edges)


def test_apply_map_maps_tasks_without_inputs_and_tasks_from_outside():
    """1.4.1: a task func creates with no input (one()) gets a mapped edge from the mapped
    argument, so it runs per item ([2, 3] for add(x, one()) over [1, 2]); a task created outside
    and used inside without unmapped is mapped over too, so one() -> 1 made add Failed 'At least
    one upstream state has an unmappable result.'"""
    with Flow("am9") as flow:
        r = apply_map(lambda x: add(x, one()), [1, 2])
    state = flow.run()
    assert state.result[r].result == [2, 3]
    assert [(e.downstream_task.name, e.key, e.mapped) for e in flow.edges if e.downstream_task.name == "one"] == [("one", None, True)]
    with Flow("outside") as flow:
        o = one()
        r = apply_map(lambda x: add(x, o), [1, 2])
    state = flow.run()
    assert state.result[r].is_failed()
    assert all(e.mapped for e in flow.edges)


def test_apply_map_errors():
    """1.4.1: outside a flow apply_map is a ValueError ("Couldn't infer a flow in the current
    context"); a .map inside func is a ValueError ("Cannot set `mapped=True` when running from
    inside a mapped context"); a func that adds no task returns its value and adds nothing;
    with flow=, func is called with flow= too ([6, 7])."""
    with pytest.raises(ValueError, match="flow"):
        apply_map(lambda x: inc(x), [1])
    with Flow("nested") as flow:
        with pytest.raises(ValueError, match="already mapped"):
            apply_map(lambda x: add.map(x, [1, 2]), [[1, 2]])
        assert apply_map(lambda x: None, [1]) is None
    other = Flow("explicit")
    r = apply_map(lambda x, flow=None: inc(x, flow=flow), [5, 6], flow=other)
    assert other.run().result[r].result == [6, 7]


# --- resource_manager --------------------------------------------------------------------------
def _resource(log):
    @resource_manager
    class Res:
        def __init__(self, n, fail_setup=False):
            self.n, self.fail_setup = n, fail_setup
            log.append(("init", n))

        def setup(self):
            log.append(("setup", self.n))
            if self.fail_setup:
                raise RuntimeError("no setup")
            return {"n": self.n}

        def cleanup(self, res):
            log.append(("cleanup", res))

    return Res


def _use(log):
    @task
    def use(r, x=0):
        log.append(("use", r, x))
        if x == 99:
            raise ValueError("boom")
        return r["n"] + x

    return use


@pytest.mark.parametrize("scenario", ["ok", "body fails", "setup fails"])
def test_resource_manager_tasks_edges_and_states_as_prefect1(scenario):
    """1.4.1, with Res(n) as r: use(r, x); after(use):
    tasks Res (ResourceInitTask), Res.setup (ResourceSetupTask), Res.cleanup
    (ResourceCleanupTask); edges n->Res 'n', Res->Res.setup 'mgr', Res->Res.cleanup 'mgr',
    Res.setup->Res.cleanup 'resource', Res.setup->use 'r', use->Res.cleanup (no key),
    use->after 'v'; reference tasks ['after'] while terminal ['Res.cleanup', 'after'].
    ok: Success, log init, setup, use, cleanup({'n': 3}).
    body fails: flow Failed, cleanup still ran (Success).
    setup fails: flow Failed, Res.setup Failed, Res.cleanup Skipped 'Resource manager setup
    failed', log init, setup only."""
    log: list = []
    Res, use = _resource(log), _use(log)
    after = task(lambda v: v, name="after")
    with Flow("rm") as flow:
        n = Parameter("n", default=3)
        with Res(n, fail_setup=scenario == "setup fails") as r:
            u = use(r, 99 if scenario == "body fails" else 1)
        a = after(u)
    assert isinstance(r, ResourceSetupTask) and r.name == "Res.setup"
    kinds = sorted((t.name, type(t).__name__) for t in flow.tasks)
    assert kinds == [("Res", "ResourceInitTask"), ("Res.cleanup", "ResourceCleanupTask"), ("Res.setup", "ResourceSetupTask"),
                     ("after", "FunctionTask"), ("n", "Parameter"), ("use", "FunctionTask")]
    assert sorted((e.upstream_task.name, e.downstream_task.name, e.key or "") for e in flow.edges) == [
        ("Res", "Res.cleanup", "mgr"), ("Res", "Res.setup", "mgr"), ("Res.setup", "Res.cleanup", "resource"),
        ("Res.setup", "use", "r"), ("n", "Res", "n"), ("use", "Res.cleanup", ""), ("use", "after", "v")]
    assert flow.reference_tasks() == {a}
    assert {t.name for t in flow.terminal_tasks()} == {"Res.cleanup", "after"}
    state = flow.run()
    cleanup = flow.get_task("Res.cleanup")
    if scenario == "ok":
        assert state.is_successful() and state.result[a].result == 4
        assert log == [("init", 3), ("setup", 3), ("use", {"n": 3}, 1), ("cleanup", {"n": 3})]
    elif scenario == "body fails":
        assert state.is_failed() and state.result[cleanup].is_successful()
        assert log[-1] == ("cleanup", {"n": 3})
    else:
        assert state.is_failed() and state.result[flow.get_task("Res.setup")].is_failed()
        assert state.result[cleanup].is_skipped() and state.result[cleanup].message == "Resource manager setup failed"
        assert log == [("init", 3), ("setup", 3)]


def test_resource_manager_options_and_a_class_without_setup():
    """1.4.1: resource_manager(R, name='X', init_task_kwargs={'tags': ['t']}) has name 'X',
    init kwargs {'tags': ['t'], 'name': 'X'}, setup {'name': 'X.setup', 'checkpoint': False},
    cleanup {'name': 'X.cleanup', trigger resource_cleanup_trigger, 'skip_on_upstream_skip':
    False, 'checkpoint': False}; resource_manager(name='Y')(R) is a ResourceManager named Y.
    Without setup, `as` gives None, cleanup gets None and the block's tasks wait for nothing."""
    log = []

    class R:
        def __init__(self, a, b=2):
            self.a = a

        def cleanup(self, resource):
            log.append(("cleanup", resource))

    m = resource_manager(R, name="X", init_task_kwargs={"tags": ["t"]})
    assert isinstance(m, ResourceManager) and m.name == "X"
    assert m.init_task_kwargs == {"tags": ["t"], "name": "X"}
    assert m.setup_task_kwargs == {"name": "X.setup", "checkpoint": False}
    assert m.cleanup_task_kwargs["skip_on_upstream_skip"] is False and m.cleanup_task_kwargs["name"] == "X.cleanup"
    m2 = resource_manager(name="Y")(R)
    assert isinstance(m2, ResourceManager) and m2.name == "Y"
    with Flow("no-setup") as flow:
        with m(1) as resource:
            work = task(lambda: "done", name="work")()
    assert resource is None
    init = flow.get_task("X")
    assert isinstance(init, ResourceInitTask) and init.tags == {"t"}
    assert isinstance(flow.get_task("X.cleanup"), ResourceCleanupTask)
    state = flow.run()
    assert state.is_successful() and state.result[work].result == "done" and log == [("cleanup", None)]
    with pytest.raises(ValueError, match="Flow"):
        m(1)


def test_resource_cleanup_runs_after_a_skipped_block_task():
    """1.4.1's cleanup task has skip_on_upstream_skip=False: a case branch not taken inside the
    block still lets cleanup run (it is skipped only when init or setup did not succeed)."""
    log = []
    Res = _resource(log)
    with Flow("skip-in-block") as flow:
        with Res(1) as r:
            with case(is_even(1), True):
                task(lambda r: "never", name="branch")(r)
    state = flow.run()
    assert state.result[flow.get_task("Res.cleanup")].is_successful()
    assert log[-1] == ("cleanup", {"n": 1})


def test_top_level_names_a_core_user_imports():
    """1.4.1's prefect.__all__ is Client, Flow, Parameter, Task, api, apply_map, case, config,
    context, flatten, mapped, models, plugins, resource_manager, tags, task, unmapped; the Core
    names among them are at perfect_nb's top level and are the same objects as at their
    module paths."""
    from perfect_nb.tasks.control_flow import case as control_case
    from perfect_nb.tasks.core.resource_manager import resource_manager as rm

    for name in ["Flow", "Parameter", "Task", "apply_map", "case", "context", "flatten", "mapped",
                 "resource_manager", "tags", "task", "unmapped"]:
        assert name in perfect_nb.__all__, name
    assert perfect_nb.case is control_case and perfect_nb.resource_manager is rm
