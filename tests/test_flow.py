"""Flows (perfect_nb.core.flow): building (functional and imperative), reading and validating the graph."""

from __future__ import annotations

import pytest

from perfect_nb import Flow, Parameter, Task, context, task, unmapped
from perfect_nb.core.edge import Edge
from perfect_nb.errors import CycleError, FlowValidationError
from perfect_nb.tasks.core.constants import Constant


@task
def add(x, y=1):
    return x + y


@task
def ident(x):
    return x


@task
def collect(**values):
    return values


def results(flow: Flow, **parameters) -> dict:
    state = flow.run(**parameters)
    failed = {t.slug: s for t, s in state.result.items() if not s.is_successful()}
    assert not failed, failed
    return {t: s.result for t, s in state.result.items()}


def named(*names: str) -> list[Task]:
    return [Task(name=n) for n in names]


def diamond() -> tuple[Flow, list[Task]]:
    """a -> b, a -> c, b -> d, c -> d"""
    flow = Flow("diamond")
    a, b, c, d = named("a", "b", "c", "d")
    for up, down in [(a, b), (a, c), (b, d), (c, d)]:
        flow.add_edge(up, down)
    return flow, [a, b, c, d]


# --- functional API ---------------------------------------------------------------
def test_functional_api_collects_tasks_edges_and_constants():
    with Flow("functional") as flow:
        one = add(0)
        total = add(one, y=add(one, y=10))
    assert isinstance(flow, Flow)
    assert len(flow.tasks) == 3
    assert len(flow.edges) == 3  # one -> inner, one -> total, inner -> total
    assert results(flow)[total] == 12


def test_the_flow_context_is_active_only_inside_the_block():
    assert context.get("flow") is None
    with Flow("outer") as outer:
        assert context.get("flow") is outer
        with Flow("inner") as inner:
            t = ident(1)
        assert context.get("flow") is outer
    assert context.get("flow") is None
    assert t in inner.tasks and t not in outer.tasks


def test_a_flow_needs_a_name():
    with pytest.raises(ValueError, match="name"):
        Flow("")
    with pytest.raises(ValueError, match="name"):
        Flow(None)


def test_repr_and_iteration():
    flow, (a, b, c, d) = diamond()
    assert repr(flow) == '<Flow: name="diamond">'
    assert list(flow) == [a, b, c, d]


def test_constructor_takes_tasks_edges_and_reference_tasks():
    a, b, c = named("a", "b", "c")
    flow = Flow("built", tasks=[c], edges=[Edge(a, b)], reference_tasks=[a])
    assert flow.tasks == {a, b, c}
    assert flow.edges == {Edge(a, b)}
    assert flow.reference_tasks() == {a}


# --- imperative API ---------------------------------------------------------------
def test_add_task_is_idempotent_and_returns_the_task():
    flow = Flow("f")
    t = Task()
    assert flow.add_task(t) is t
    assert flow.add_task(t) is t
    assert flow.tasks == {t}


def test_add_task_only_takes_tasks():
    with pytest.raises(TypeError, match="@task"):
        Flow("f").add_task(lambda: 1)


def test_add_edge_adds_both_tasks():
    flow = Flow("f")
    a, b = ident.copy(), ident.copy()
    edge = flow.add_edge(a, b, key="x")
    assert edge == Edge(a, b, key="x")
    assert flow.tasks == {a, b}
    assert flow.edges == {edge}


def test_the_same_edge_twice_is_one_edge():
    flow = Flow("f")
    a, b = named("a", "b")
    flow.add_edge(a, b)
    flow.add_edge(a, b)
    assert len(flow.edges) == 1
    assert flow.edges_to(b) == {Edge(a, b)}


def test_add_edge_with_an_unknown_key():
    flow = Flow("f")
    with pytest.raises(ValueError, match=r"no argument 'z'; its arguments are \['x', 'y'\]"):
        flow.add_edge(ident.copy(), add.copy(), key="z")


def test_add_edge_key_is_free_for_star_kwargs():
    flow = Flow("f")
    a, c = ident.copy(), collect.copy()
    flow.add_edge(a, c, key="anything")
    a.bind(x=3, flow=flow)
    assert results(flow)[c] == {"anything": 3}


@pytest.mark.parametrize("source", ["edge", "constant"])
def test_add_edge_with_a_key_that_already_has_a_value(source):
    flow = Flow("f")
    down = add.copy()
    if source == "edge":
        flow.add_edge(ident.copy(), down, key="x")
    else:
        flow.set_dependencies(down, keyword_tasks={"x": 1})
    with pytest.raises(ValueError, match="'x' of task 'add' already has a value"):
        flow.add_edge(ident.copy(), down, key="x")


def test_set_dependencies_with_tasks_and_constants():
    flow = Flow("f")
    up, main, down, source = Task(name="up"), add.copy(), Task(name="down"), ident.copy()
    flow.set_dependencies(main, upstream_tasks=[up], downstream_tasks=[down], keyword_tasks={"x": source, "y": 100})
    flow.set_dependencies(source, keyword_tasks={"x": 1})
    assert flow.upstream_tasks(main) == {up, source}
    assert flow.downstream_tasks(main) == {down}
    assert flow.constants[main] == {"y": 100}
    assert flow.constants[source] == {"x": 1}
    assert results(flow)[main] == 101


def test_set_dependencies_constant_for_an_argument_fed_by_an_edge():
    flow = Flow("f")
    down = add.copy()
    flow.add_edge(ident.copy(), down, key="x")
    with pytest.raises(ValueError, match="already has a value from an upstream task"):
        flow.set_dependencies(down, keyword_tasks={"x": 1})


def test_set_dependencies_with_a_collection_of_tasks():
    flow = Flow("f")
    a, b, out = ident.copy(), ident.copy(), ident.copy()
    a.bind(1, flow=flow)
    b.bind(2, flow=flow)
    flow.set_dependencies(out, keyword_tasks={"x": [a, b, 3]})
    assert results(flow)[out] == [1, 2, 3]


def test_set_dependencies_mapped():
    flow = Flow("f")
    out = add.copy()
    flow.set_dependencies(out, keyword_tasks={"x": [1, 2, 3], "y": unmapped(10)}, mapped=True)
    (edge,) = flow.edges_to(out)
    assert edge.mapped and isinstance(edge.upstream_task, Constant)
    assert results(flow)[out] == [11, 12, 13]


def test_readme_style_imperative_flow():
    flow = Flow("imperative")
    name = Parameter("name")
    first, second = add.copy(), add.copy()

    @task
    def say_hello(person):
        return f"Hello, {person}"

    hello = say_hello.copy()
    for t in (first, second, hello):
        flow.add_task(t)
    hello.set_upstream(second, flow=flow)
    first.bind(x=1, y=2, flow=flow)
    second.bind(x=first, y=100, flow=flow)
    hello.bind(person=name, flow=flow)
    values = results(flow, name="Arthur")
    assert (values[first], values[second], values[hello]) == (3, 103, "Hello, Arthur")
    assert flow.upstream_tasks(hello) == {second, name}


def test_chain():
    flow = Flow("f")
    a, b, c = named("a", "b", "c")
    edges = flow.chain(a, b, c)
    assert edges == [Edge(a, b), Edge(b, c)]
    assert flow.sorted_tasks() == (a, b, c)


def test_chain_with_validate_detects_a_cycle():
    flow = Flow("f")
    a, b = named("a", "b")
    flow.add_edge(b, a)
    with pytest.raises(CycleError):
        flow.chain(a, b, validate=True)


# --- update, replace, copy -------------------------------------------------------------
def test_update_adds_tasks_edges_and_constants():
    with Flow("one") as one:
        a = add(1)
    with Flow("two") as two:
        b = add(10)
        c = add(b)
    one.update(two)
    assert one.tasks == {a, b, c}
    assert Edge(b, c, key="x") in one.edges
    values = results(one)
    assert (values[a], values[c]) == (2, 12)


def test_update_gives_same_named_tasks_distinct_slugs():
    with Flow("one") as one:
        a = add(1)
    with Flow("two") as two:
        b = add(2)
    one.update(two)
    assert sorted(t.slug for t in one.tasks) == ["add", "add-2"]
    assert one.get_task("add") is a and one.get_task("add-2") is b


def test_update_with_the_same_parameter_name_needs_merge_parameters():
    with Flow("one") as one:
        add(Parameter("x", default=1))
    with Flow("two") as two:
        add(Parameter("x", default=2))
    with pytest.raises(ValueError, match="Parameter names must be unique"):
        one.update(two)


def test_update_with_merge_parameters_uses_the_other_flows_parameter():
    with Flow("one") as one:
        mine = Parameter("x", default=1)
        a = add(mine)
    with Flow("two") as two:
        theirs = Parameter("x", default=2)
        b = add(theirs, y=10)
    one.update(two, merge_parameters=True)
    assert one.parameters() == {theirs}
    assert one.upstream_tasks(a) == {theirs}
    values = results(one)
    assert (values[a], values[b]) == (3, 12)
    assert (results(one, x=5)[a], results(one, x=5)[b]) == (6, 15)


def test_update_merges_reference_tasks_only_when_asked():
    one, two = Flow("one"), Flow("two")
    a, b, c = named("a", "b", "c")
    one.add_task(a)
    two.chain(b, c)
    two.set_reference_tasks([b])
    one.update(two)
    assert one.reference_tasks() == {a, c}  # the terminal tasks
    one.update(two, merge_reference_tasks=True)
    assert one.reference_tasks() == {b}


def test_replace_keeps_edges_constants_and_reference_status():
    with Flow("f") as flow:
        first = add(1)
        old = add(first, y=10)
        last = ident(old)
    flow.set_reference_tasks([old])
    new = task(lambda x, y: x * y, name="times")
    flow.replace(old, new)
    assert old not in flow.tasks
    assert flow.upstream_tasks(new) == {first}
    assert flow.downstream_tasks(new) == {last}
    assert flow.constants[new] == {"y": 10}
    assert flow.reference_tasks() == {new}
    assert results(flow)[last] == 20


def test_replace_an_unknown_task():
    with pytest.raises(ValueError, match="not in flow"):
        Flow("f").replace(Task(), Task())


def test_copy_is_independent():
    with Flow("f") as flow:
        a = add(1)
    copy = flow.copy()
    b = add.copy()
    copy.add_edge(a, b, key="x")
    copy.constants[a]["y"] = 5
    copy.set_reference_tasks([a])
    assert flow.tasks == {a} and flow.edges == set()
    assert flow.constants[a] == {"x": 1}
    assert flow.reference_tasks() == {a} and copy.reference_tasks() == {a}
    assert copy.tasks == {a, b}
    assert results(flow)[a] == 2
    assert results(copy)[b] == 7
    assert copy.name == flow.name


def test_a_flow_survives_cloudpickle_and_runs_the_same():
    cloudpickle = pytest.importorskip("cloudpickle")

    class Times(Task):
        def run(self, x, factor=3):
            return x * factor

    with Flow("pickled") as flow:
        p = Parameter("p", default=2)
        doubled = Times()(add(p), factor=2)
        each = add.map([1, 2], y=unmapped(doubled))
    flow.set_reference_tasks([doubled])
    copy = cloudpickle.loads(cloudpickle.dumps(flow))
    by_slug = {t.slug: t for t in copy.tasks}
    assert set(by_slug) == {t.slug for t in flow.tasks}
    assert {(e.upstream_task.slug, e.downstream_task.slug, e.key, e.mapped) for e in copy.edges} == {
        (e.upstream_task.slug, e.downstream_task.slug, e.key, e.mapped) for e in flow.edges
    }
    assert {t.slug for t in copy.reference_tasks()} == {doubled.slug}
    assert copy.constants[by_slug[doubled.slug]] == {"factor": 2}
    values = results(copy, p=4)
    assert (values[by_slug[doubled.slug]], values[by_slug[each.slug]]) == (10, [11, 12])


# --- reading the graph -------------------------------------------------------------------
def test_get_tasks_filters():
    flow = Flow("f")
    a = flow.add_task(Task(name="load", tags=["db", "nightly"]))
    b = flow.add_task(Task(name="load", tags=["db"]))
    c = flow.add_task(ident.copy(tags=["nightly"]))
    p = flow.add_task(Parameter("when"))
    assert flow.get_tasks() == [a, b, c, p]
    assert flow.get_tasks(name="load") == [a, b]
    assert flow.get_tasks(slug="load-2") == [b]
    assert flow.get_tasks(tags=["nightly"]) == [a, c]
    assert flow.get_tasks(tags=["db", "nightly"]) == [a]
    assert flow.get_tasks(task_type=Parameter) == [p]
    assert flow.get_tasks(name="load", tags=["nightly"]) == [a]
    assert flow.get_tasks(name="missing") == []


def test_get_task_by_slug_or_unique_name():
    flow = Flow("f")
    a, b = flow.add_task(Task(name="load")), flow.add_task(Task(name="load"))
    c = flow.add_task(Task(name="save"))
    assert flow.get_task("load") is a  # a slug
    assert flow.get_task("load-2") is b
    assert flow.get_task("save") is c
    with pytest.raises(KeyError, match="slugs are"):
        flow.get_task("nothing")


def test_get_task_with_an_ambiguous_name():
    flow = Flow("f")
    flow.add_task(Task(name="x", slug="first"))
    flow.add_task(Task(name="x", slug="second"))
    with pytest.raises(KeyError, match="use a slug"):
        flow.get_task("x")


def test_root_and_terminal_tasks():
    flow, (a, b, c, d) = diamond()
    lonely = flow.add_task(Task(name="lonely"))
    assert flow.root_tasks() == {a, lonely}
    assert flow.terminal_tasks() == {d, lonely}


def test_reference_tasks_default_to_terminal_tasks():
    flow, (a, b, c, d) = diamond()
    assert flow.reference_tasks() == {d}
    flow.set_reference_tasks([b, c])
    assert flow.reference_tasks() == {b, c}
    flow.set_reference_tasks([])
    assert flow.reference_tasks() == {d}


def test_reference_tasks_must_be_in_the_flow():
    flow, _ = diamond()
    with pytest.raises(ValueError, match=r"not found: \['stranger'\]"):
        flow.set_reference_tasks([Task(name="stranger")])


def test_parameters():
    with Flow("f") as flow:
        x, y = Parameter("x"), Parameter("y", default=2)
        add(x, y)
        Parameter("unused")
    assert {p.name for p in flow.parameters()} == {"x", "y", "unused"}
    assert {x, y} <= flow.parameters()


def test_upstream_downstream_and_edges():
    flow, (a, b, c, d) = diamond()
    assert flow.upstream_tasks(d) == {b, c}
    assert flow.downstream_tasks(a) == {b, c}
    assert flow.upstream_tasks(a) == set()
    assert flow.edges_to(d) == {Edge(b, d), Edge(c, d)}
    assert flow.edges_from(a) == {Edge(a, b), Edge(a, c)}
    assert flow.all_upstream_edges()[d] == {Edge(b, d), Edge(c, d)}
    assert flow.all_downstream_edges()[d] == set()


@pytest.mark.parametrize("method", ["upstream_tasks", "downstream_tasks", "edges_to", "edges_from"])
def test_asking_about_a_task_outside_the_flow(method):
    flow, _ = diamond()
    with pytest.raises(ValueError, match="is not in flow 'diamond'"):
        getattr(flow, method)(Task(name="stranger"))


# --- order ---------------------------------------------------------------------------------
def test_sorted_tasks_respects_dependencies():
    flow = Flow("f")
    a, b, c, d, e = named("a", "b", "c", "d", "e")
    # added in an order that is not a valid run order
    for up, down in [(d, e), (c, d), (a, c), (b, c)]:
        flow.add_edge(up, down)
    order = flow.sorted_tasks()
    position = {t: i for i, t in enumerate(order)}
    for edge in flow.edges:
        assert position[edge.upstream_task] < position[edge.downstream_task]
    assert order == (a, b, c, d, e)  # ties (a, b) in the order the tasks were added


def test_sorted_tasks_is_stable_ties_keep_insertion_order():
    flow = Flow("f")
    tasks = named(*"zyxwvu")
    for t in tasks:
        flow.add_task(t)
    assert flow.sorted_tasks() == tuple(tasks)
    root = Task(name="root")
    for t in tasks:
        flow.add_edge(root, t)
    assert flow.sorted_tasks()[0] is root
    assert flow.sorted_tasks()[1:] == tuple(tasks)
    assert flow.sorted_tasks() == flow.sorted_tasks()


def test_sorted_tasks_follows_new_edges():
    flow = Flow("f")
    a, b = named("a", "b")
    flow.add_task(a)
    flow.add_task(b)
    assert flow.sorted_tasks() == (a, b)
    flow.add_edge(b, a)
    assert flow.sorted_tasks() == (b, a)


def test_sorted_tasks_from_root_tasks():
    flow, (a, b, c, d) = diamond()
    other = flow.add_task(Task(name="other"))
    assert flow.sorted_tasks(root_tasks=[b]) == (b, d)
    assert flow.sorted_tasks(root_tasks=[a]) == (a, b, c, d)
    assert other not in flow.sorted_tasks(root_tasks=[a])


# --- validation ------------------------------------------------------------------------------
def test_validate_a_good_flow():
    flow, _ = diamond()
    flow.validate()


def test_a_cycle_names_every_task_on_it():
    flow = Flow("loop")
    start, extract, transform, load, finish = named("start", "extract", "transform", "load", "finish")
    flow.chain(start, extract, transform, load, finish)
    flow.add_edge(load, extract)
    for check in (flow.validate, flow.sorted_tasks):
        with pytest.raises(CycleError) as info:
            check()
        message = str(info.value)
        assert all(slug in message for slug in ("extract", "transform", "load"))
        assert "start" not in message and "finish" not in message
        assert sorted(info.value.cycle) == ["extract", "load", "transform"]
        assert "'loop'" in message


def test_cycle_error_is_a_validation_error_and_a_value_error():
    assert issubclass(CycleError, FlowValidationError)
    assert issubclass(CycleError, ValueError)


def test_a_self_loop_is_a_cycle():
    flow = Flow("f")
    t = Task(name="me")
    with pytest.raises(CycleError, match="me -> me"):
        flow.add_edge(t, t, validate=True)


def test_add_edge_with_validate_raises_at_once():
    flow = Flow("f")
    a, b = named("a", "b")
    flow.add_edge(a, b, validate=True)
    with pytest.raises(CycleError):
        flow.add_edge(b, a, validate=True)


def test_validate_catches_an_edge_to_a_task_outside_the_flow():
    flow, (a, *_) = diamond()
    flow.edges.add(Edge(a, Task(name="ghost")))
    with pytest.raises(FlowValidationError, match="ghost"):
        flow.validate()


def test_a_flow_with_a_cycle_does_not_run():
    flow = Flow("f")
    a, b = named("a", "b")
    flow.chain(a, b, a)
    with pytest.raises(CycleError):
        flow.run()


# --- slugs ------------------------------------------------------------------------------------
def test_slugs_are_the_name_then_numbered():
    with Flow("f") as flow:
        tasks = [add(i) for i in range(3)]
    assert [t.slug for t in tasks] == ["add", "add-2", "add-3"]
    assert flow.get_task("add-3") is tasks[2]


def test_slugs_are_per_name():
    flow = Flow("f")
    tasks = [flow.add_task(Task(name=n)) for n in ("a", "b", "a", "b", "a")]
    assert [t.slug for t in tasks] == ["a", "b", "a-2", "b-2", "a-3"]


def test_an_explicit_slug_is_kept():
    flow = Flow("f")
    t = flow.add_task(Task(name="load", slug="load-users"))
    assert t.slug == "load-users"
    assert flow.get_task("load-users") is t


def test_a_duplicate_explicit_slug_is_an_error():
    flow = Flow("f")
    flow.add_task(Task(slug="same"))
    with pytest.raises(ValueError, match="already has a task with slug 'same'"):
        flow.add_task(Task(slug="same"))


def test_a_generated_slug_steps_around_an_explicit_one():
    flow = Flow("f")
    flow.add_task(Task(name="other", slug="load-2"))
    tasks = [flow.add_task(Task(name="load")) for _ in range(2)]
    assert [t.slug for t in tasks] == ["load", "load-3"]


def test_two_parameters_with_the_same_name_are_an_error():
    with Flow("f"):
        Parameter("x")
        with pytest.raises(ValueError, match="Parameter names must be unique"):
            Parameter("x")


def test_a_parameter_and_a_task_may_share_a_name():
    @task
    def size(x):
        return len(x)

    with Flow("f") as flow:
        first = size("abc")
        p = Parameter("size", default=2)
        second = add(p)
    assert p.slug == "size" and first.slug == "size-2"
    assert flow.get_task("size") is p
    values = results(flow)
    assert (values[first], values[second]) == (3, 3)
