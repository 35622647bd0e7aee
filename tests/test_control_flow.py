"""perfect_nb.tasks.control_flow: case, switch, ifelse, merge and FilterTask in real flows.

Every test runs a flow and checks the exact final state of each task: the
branch taken ends Success with its result, the branch not taken ends Skipped,
and whatever depends on a skipped branch is Skipped too.
"""

import logging

import pytest

import perfect_nb.tasks.control_flow as control_flow
from perfect_nb import Flow, Parameter, Task, task
from perfect_nb.engine import signals
from perfect_nb.engine.state import Failed, Mapped, Skipped, Success, TriggerFailed
from perfect_nb.engine.triggers import all_finished, not_all_skipped
from perfect_nb.tasks.control_flow import FilterTask, case, ifelse, merge, switch
from perfect_nb.tasks.control_flow.conditional import CompareValue, Merge

UPSTREAM_SKIPPED = (
    "Upstream task was skipped; if this was not the intended behavior, "
    "consider changing `skip_on_upstream_skip=False` for this task."
)


@pytest.fixture
def calls():
    return []


@pytest.fixture
def record(calls):
    """A task that records each run and returns its argument."""

    @task
    def record(x):
        calls.append(x)
        return x

    return record


def states_of(state, *tasks):
    return [type(state.result[t]) for t in tasks]


def test_public_names():
    assert control_flow.__all__ == sorted(control_flow.__all__)
    assert control_flow.__all__ == ["FilterTask", "case", "ifelse", "merge", "switch"]
    for name in control_flow.__all__:
        assert getattr(control_flow, name) is not None


# --- case --------------------------------------------------------------------


@pytest.mark.parametrize("flag, taken, label", [(True, "yes", "no"), (False, "no", "yes")])
def test_case_runs_the_matching_block_and_skips_the_other(record, calls, flag, taken, label):
    with Flow("case") as flow:
        cond = Parameter("flag")
        with case(cond, True):
            yes = record("yes")
        with case(cond, False):
            no = record("no")
    state = flow.run(flag=flag)
    by_name = {"yes": yes, "no": no}
    assert state.is_successful()
    assert calls == [taken]
    assert type(state.result[by_name[taken]]) is Success
    assert state.result[by_name[taken]].result == taken
    skipped = state.result[by_name[label]]
    assert type(skipped) is Skipped
    assert skipped.message == UPSTREAM_SKIPPED
    assert skipped.result is None


@pytest.mark.parametrize(
    "value, expected",
    [(1, "one"), (2, "two"), (3, None), ("a", "letter a"), ("b", "letter b"), ("c", None)],
)
def test_case_with_numbers_and_strings(record, calls, value, expected):
    with Flow("values") as flow:
        choice = Parameter("choice")
        blocks = {}
        for key, text in [(1, "one"), (2, "two"), ("a", "letter a"), ("b", "letter b")]:
            with case(choice, key):
                blocks[text] = record(text)
    state = flow.run(choice=value)
    assert calls == ([expected] if expected else [])
    for text, t in blocks.items():
        assert type(state.result[t]) is (Success if text == expected else Skipped)
    assert state.is_successful()


def test_case_condition_task_names_and_skip_message():
    """Prefect 1.4.1: the condition task is named 'case(7)' and skips with
    'Provided value "5" did not match "7"', the SKIP being its result; CompareValue(3) alone is
    named 'CompareValue: "3"'."""
    assert CompareValue(3).name == 'CompareValue: "3"' and CompareValue("a").name == 'CompareValue: "a"'
    with Flow("names") as flow:
        n = Parameter("n", default=5)
        with case(n, 7):
            t = task(lambda: 1, name="body")()
    condition = flow.get_tasks(task_type=CompareValue)
    assert len(condition) == 1 and condition[0].name == "case(7)"
    state = flow.run()
    assert type(state.result[condition[0]]) is Skipped
    assert state.result[condition[0]].message == 'Provided value "5" did not match "7"'
    assert isinstance(state.result[condition[0]].result, signals.SKIP)
    assert type(state.result[t]) is Skipped


def test_case_only_roots_of_the_block_wait_for_the_condition(record, calls):
    with Flow("chain") as flow:
        cond = Parameter("go", default=True)
        before = record("before")
        with case(cond, True):
            first = record("first")
            second = record(first)
            uses_outside = record(before)
    condition = next(iter(flow.get_tasks(task_type=CompareValue)))
    assert condition in flow.upstream_tasks(first)
    assert condition not in flow.upstream_tasks(second)
    assert flow.upstream_tasks(uses_outside) == {condition, before}
    assert condition not in flow.upstream_tasks(before)
    assert flow.upstream_tasks(condition) == {cond}

    state = flow.run()
    assert sorted(calls) == ["before", "before", "first", "first"]
    assert states_of(state, first, second, uses_outside) == [Success] * 3

    calls.clear()
    state = flow.run(go=False)
    assert calls == ["before"]
    assert type(state.result[before]) is Success
    assert states_of(state, first, second, uses_outside) == [Skipped] * 3


def test_condition_first_used_inside_its_own_block_does_not_wait_for_itself(record, calls):
    check = task(lambda: "go", name="check")  # not in the flow until the block uses it
    with Flow("self") as flow:
        with case(check, "go"):
            after = record(check)
    assert check in flow.tasks
    assert flow.upstream_tasks(check) == set()
    state = flow.run()
    assert states_of(state, check, after) == [Success, Success]
    assert calls == ["go"]


def test_downstream_of_a_skipped_block_is_skipped(record, calls):
    with Flow("downstream") as flow:
        cond = Parameter("go", default=False)
        with case(cond, True):
            inside = record("inside")
        after = record(inside)
        after_after = record(after)
        tolerant = task(lambda x: "ran anyway", name="tolerant", skip_on_upstream_skip=False)(inside)
    state = flow.run()
    assert calls == []
    assert states_of(state, inside, after, after_after) == [Skipped] * 3
    assert state.result[after].message == UPSTREAM_SKIPPED
    assert type(state.result[tolerant]) is Success
    assert state.result[tolerant].result == "ran anyway"
    assert type(state) is Success


def test_case_on_a_task_result(record, calls):
    @task
    def size(items):
        return len(items)

    with Flow("task condition") as flow:
        n = size([1, 2, 3])
        with case(n, 3):
            three = record("three")
        with case(n, 0):
            empty = record("empty")
    state = flow.run()
    assert calls == ["three"]
    assert states_of(state, n, three, empty) == [Success, Success, Skipped]


@pytest.mark.parametrize(
    "outer, inner, ran",
    [
        ("a", "x", ["outer a", "inner x", "after inner x"]),
        ("a", "y", ["outer a", "inner y"]),
        ("b", "x", ["outer b"]),
        ("b", "y", ["outer b"]),
    ],
)
def test_case_inside_case(record, calls, outer, inner, ran):
    with Flow("nested") as flow:
        o = Parameter("outer")
        i = Parameter("inner")
        with case(o, "a"):
            outer_a = record("outer a")
            with case(i, "x"):
                inner_x = record("inner x")
                after_inner_x = record(task(lambda v: f"after {v}", name="label")(inner_x))
            with case(i, "y"):
                inner_y = record("inner y")
        with case(o, "b"):
            outer_b = record("outer b")
        result = merge(after_inner_x, inner_y, outer_b)
    state = flow.run(outer=outer, inner=inner)
    assert sorted(calls) == sorted(ran)
    expected = {
        outer_a: outer == "a",
        inner_x: (outer, inner) == ("a", "x"),
        after_inner_x: (outer, inner) == ("a", "x"),
        inner_y: (outer, inner) == ("a", "y"),
        outer_b: outer == "b",
    }
    for t, should_run in expected.items():
        assert type(state.result[t]) is (Success if should_run else Skipped), t
    assert state.result[result].result == ran[-1]
    assert type(state) is Success


def test_nested_case_inner_condition_depends_on_outer_block():
    with Flow("nested graph") as flow:
        o, i = Parameter("o"), Parameter("i")
        with case(o, 1):
            with case(i, 2):
                body = task(lambda: 1, name="body")()
    conditions = {t.name: t for t in flow.get_tasks(task_type=CompareValue)}
    assert set(conditions) == {"case(1)", "case(2)"}
    # the inner condition was created inside the outer block, so it waits for the outer one
    assert flow.upstream_tasks(conditions["case(2)"]) == {i, conditions["case(1)"]}
    assert flow.upstream_tasks(body) == {conditions["case(2)"]}
    state = flow.run(o=1, i=3)
    assert type(state.result[conditions["case(1)"]]) is Success
    assert type(state.result[conditions["case(2)"]]) is Skipped
    assert type(state.result[body]) is Skipped


def test_case_outside_a_flow_is_an_error():
    with pytest.raises(ValueError, match=r"inside `with Flow"):
        with case(Parameter("x"), 1):
            pass


@pytest.mark.parametrize("condition", [True, "x", None, [Parameter("p")]])
def test_case_takes_a_plain_value_outside_a_flow_only_to_fail_on_enter(condition):
    """As in Prefect 1.4.1, case() accepts a value that is not a task (it becomes the
    condition's constant); outside a flow the block still cannot open."""
    block = case(condition, True)
    with pytest.raises(ValueError, match=r"inside `with Flow"):
        with block:
            pass


def test_empty_case_adds_nothing_and_an_error_in_the_block_adds_no_condition():
    with Flow("empty") as flow:
        p = Parameter("p")
        with case(p, 1):
            pass
        with pytest.raises(RuntimeError, match="boom"):
            with case(p, 2):
                task(lambda: 1, name="partial")()
                raise RuntimeError("boom")
    assert flow.get_tasks(task_type=CompareValue) == []


def test_a_case_cannot_be_entered_twice():
    with Flow("twice"):
        block = case(Parameter("p"), 1)
        with block:
            with pytest.raises(RuntimeError, match="already open"):
                with block:
                    pass
        with block:  # once closed it can be used again
            pass


def test_case_is_in_context_inside_the_block():
    from perfect_nb import context

    with Flow("ctx"):
        block = case(Parameter("p"), 1)
        assert context.get("case") is None
        with block as entered:
            assert entered is block
            assert context.get("case") is block
        assert context.get("case") is None


# --- switch --------------------------------------------------------------------


@pytest.mark.parametrize("colour", ["red", "green", "blue", "purple"])
def test_switch_on_strings(record, calls, colour):
    with Flow("switch") as flow:
        c = Parameter("colour")
        red, green, blue = record("red"), record("green"), record("blue")
        after_red = record(red)
        switch(c, {"red": red, "green": green, "blue": blue})
    state = flow.run(colour=colour)
    branches = {"red": red, "green": green, "blue": blue}
    for name, t in branches.items():
        assert type(state.result[t]) is (Success if name == colour else Skipped)
    assert type(state.result[after_red]) is (Success if colour == "red" else Skipped)
    expected_calls = {"red": ["red", "red"], "green": ["green"], "blue": ["blue"], "purple": []}[colour]
    assert calls == expected_calls
    compare = flow.get_tasks(task_type=CompareValue)
    assert len(compare) == 3 and all("switch" in t.tags for t in compare)


def test_switch_on_numbers_with_mixed_case_values(record, calls):
    with Flow("numbers") as flow:
        n = Parameter("n")
        zero, one = record("zero"), record("one")
        switch(n, {0: zero, 1: one})
    assert states_of(flow.run(n=1), zero, one) == [Skipped, Success]
    assert states_of(flow.run(n=0), zero, one) == [Success, Skipped]
    assert states_of(flow.run(n="1"), zero, one) == [Skipped, Skipped]


def test_switch_errors():
    with Flow("bad") as flow:
        p = Parameter("p")
        a = task(lambda: 1, name="a")()
        with pytest.raises(ValueError, match="branch for both 1 and 2"):
            switch(p, {1: a, 2: a})
        with pytest.raises(TypeError, match="dict of value -> task"):
            switch(p, [a])
    with pytest.raises(ValueError, match="switch\\(\\) needs a flow"):
        switch(p, {1: a})
    switch(p, {1: a}, flow=flow)
    assert flow.run(p=1).result[a].result == 1


# --- ifelse ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, branch",
    [(True, "true"), (False, "false"), (1, "true"), (0, "false"), ([], "false"), ([0], "true"), ("", "false"), ("no", "true"), (None, "false")],
)
def test_ifelse_uses_truthiness(record, calls, value, branch):
    with Flow("ifelse") as flow:
        cond = Parameter("cond", required=False)
        yes, no = record("true"), record("false")
        ifelse(cond, yes, no)
        joined = merge(yes, no)
    state = flow.run(cond=value)
    assert calls == [branch]
    assert states_of(state, yes, no) == ([Success, Skipped] if branch == "true" else [Skipped, Success])
    assert state.result[joined].result == branch


def test_ifelse_with_one_branch(record, calls):
    with Flow("one-sided") as flow:
        cond = Parameter("cond")
        only_if_false = record("fallback")
        ifelse(cond, None, only_if_false)
    assert type(flow.run(cond=True).result[only_if_false]) is Skipped
    assert type(flow.run(cond=False).result[only_if_false]) is Success
    assert calls == ["fallback"]


def test_ifelse_takes_a_plain_value_and_needs_a_flow():
    """Prefect 1.4.1: ifelse(True, a(), None) is accepted (True becomes as_bool's constant)."""
    a = task(lambda: 1, name="a")
    with Flow("f") as flow:
        chosen = a()
        ifelse(True, chosen, None)
    assert flow.run().result[chosen].result == 1
    with pytest.raises(ValueError, match="ifelse\\(\\) needs a flow"):
        ifelse(Parameter("x"), a, None)


# --- merge -------------------------------------------------------------------------


def test_merge_returns_first_non_skipped_result():
    with Flow("merge") as flow:
        pick = Parameter("pick")
        a = task(lambda: "A", name="a")()
        b = task(lambda: "B", name="b")()
        c = task(lambda: "C", name="c")()
        switch(pick, {"a": a, "b": b, "c": c})
        m = merge(a, b, c)
    for name in "abc":
        state = flow.run(pick=name)
        assert type(state.result[m]) is Success
        assert state.result[m].result == name.upper()


def test_merge_of_only_skipped_branches_is_skipped():
    with Flow("all skipped") as flow:
        pick = Parameter("pick")
        a, b = task(lambda: 1, name="a")(), task(lambda: 2, name="b")()
        switch(pick, {1: a, 2: b})
        m = merge(a, b)
        after = task(lambda x: x, name="after")(m)
    state = flow.run(pick=3)
    assert type(state.result[m]) is Skipped
    assert state.result[m].message == "All upstreams were skipped"  # Prefect 1.4.1's message
    assert type(state.result[after]) is Skipped


def test_merge_does_not_run_when_a_branch_failed():
    @task
    def broken():
        raise ValueError("bad branch")

    with Flow("failed branch") as flow:
        p = Parameter("p", default=True)
        with case(p, True):
            bad = broken()
        with case(p, False):
            good = task(lambda: 1, name="good")()
        m = merge(bad, good)
    state = flow.run()
    assert type(state.result[bad]) is Failed
    assert type(state.result[good]) is Skipped
    assert type(state.result[m]) is TriggerFailed
    assert type(state) is Failed


def test_merge_orders_more_than_nine_branches_by_position():
    values = {1: None, 2: "second", 10: "tenth"}
    with Flow("many") as flow:
        branches = [task(lambda i=i: values.get(i), name=f"b{i}")() for i in range(1, 12)]
        m = merge(*branches)
    state = flow.run()
    assert all(type(state.result[b]) is Success for b in branches)
    # task2 comes before task10: the branches are ordered by position, not as strings
    assert state.result[m].result == "second"


def test_merge_is_configured_like_prefect():
    with Flow("m"):
        m = merge(Parameter("a"), Parameter("b"))
    assert isinstance(m, Merge)
    assert m.skip_on_upstream_skip is False
    assert m.trigger is not_all_skipped
    with pytest.raises(ValueError, match="skip_on_upstream_skip=False"):
        Merge(skip_on_upstream_skip=True)


def test_merge_with_flow_argument_and_errors():
    flow = Flow("imperative")
    a = task(lambda: None, name="a")
    b = task(lambda: 2, name="b")
    flow.add_task(a)
    flow.add_task(b)
    m = merge(a, b, flow=flow)
    assert flow.run().result[m].result == 2
    with pytest.raises(ValueError, match="merge\\(\\) needs a flow"):
        merge(a, b)
    with pytest.raises(ValueError, match="at least one task"):
        merge(flow=flow)


# --- FilterTask ----------------------------------------------------------------------


@task
def invert(x):
    return 1 / x


@task
def only_odd(x):
    if x % 2 == 0:
        raise signals.SKIP("even")
    return x


def test_filter_task_drops_failed_mapped_children():
    with Flow("filter") as flow:
        inverses = invert.map([4, 0, 2, 0])
        kept = FilterTask()(inverses)
    state = flow.run()
    parent = state.result[inverses]
    assert type(parent) is Mapped
    assert [type(s) for s in parent.map_states] == [Success, Failed, Success, Failed]
    assert type(state.result[kept]) is Success
    assert state.result[kept].result == [0.25, 0.5]


def test_filter_task_keeps_skip_signals_and_falsy_values():
    """Prefect 1.4.1 gives [1, SKIP('even'), 3, SKIP('even')] and [0, '', False, []]: a child
    that raised SKIP has the signal as its result, and the default filter keeps it (only None
    and Exception instances go); pass a filter_func to drop skips too."""
    with Flow("skips") as flow:
        odd = only_odd.map([1, 2, 3, 4])
        kept = FilterTask()(odd)
        no_skips = FilterTask(filter_func=lambda r: not isinstance(r, signals.SKIP))(odd)
        zeros = FilterTask()([0, None, "", False, []])
    state = flow.run()
    assert [type(s) for s in state.result[odd].map_states] == [Success, Skipped, Success, Skipped]
    assert [repr(r) for r in state.result[kept].result] == ["1", "SKIP('even')", "3", "SKIP('even')"]
    assert state.result[no_skips].result == [1, 3]
    assert state.result[zeros].result == [0, "", False, []]


def test_filter_task_custom_function_and_log():
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("perfect_nb.evens")
    logger.addHandler(handler)
    try:
        evens = FilterTask(
            filter_func=lambda x: x % 2 == 0,
            log_func=lambda kept: "kept " + ", ".join(map(str, kept)),
            name="evens",
        )
        with Flow("custom") as flow:
            plus_one = task(lambda x: x + 1, name="plus_one").map([-1, 0, 1, 2, 3])
            result = evens(plus_one)
        state = flow.run()
    finally:
        logger.removeHandler(handler)
    assert state.result[result].result == [0, 2, 4]
    assert messages == ["kept 0, 2, 4"]


def test_filter_task_defaults_and_bad_arguments():
    f = FilterTask()
    assert f.trigger is all_finished
    assert f.skip_on_upstream_skip is False
    assert f.name == "FilterTask"
    assert FilterTask(trigger=not_all_skipped).trigger is not_all_skipped
    with pytest.raises(TypeError, match="filter_func must be a callable"):
        FilterTask(filter_func=3)
    with pytest.raises(TypeError, match="log_func must be a callable"):
        FilterTask(log_func="x")
    with pytest.raises(TypeError, match="needs a list of results"):
        f.run(5)


def test_filter_task_runs_after_an_upstream_failed_entirely():
    @task
    def fails():
        raise ValueError("nothing to map")

    with Flow("upstream failed") as flow:
        items = fails()
        mapped = invert.map(items)
        kept = FilterTask()(mapped)
    state = flow.run()
    assert type(state.result[items]) is Failed
    assert type(state.result[mapped]) is Failed
    assert state.result[mapped].message == "No upstream states can be mapped over."
    # all_finished lets the filter run; a mapped task that never mapped has no list to filter
    assert type(state.result[kept]) is Failed
    assert "needs a list of results" in state.result[kept].message
