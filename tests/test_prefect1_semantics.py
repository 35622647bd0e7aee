"""Semantics of issue 14 checked against Prefect 1.4.1: ``manual_only`` on a terminal, the
order mapped children are retried in, ``case``/``switch``/``ifelse`` on a plain value,
``ClientFailed``, the ``Runner`` base class and ``FilterTask``'s default filter.

Every expected value was read off Prefect 1.4.1 (bench/.prefect1-venv) running the same
flow; each test's docstring says what 1.4.1 did.
"""

from __future__ import annotations

import builtins
import datetime as dt
import sys

import pytest

from perfect_nb import Flow, Task, case, context, task, triggers
from perfect_nb.engine import signals
from perfect_nb.engine import state as st
from perfect_nb.engine.flow_runner import FlowRunner
from perfect_nb.engine.result import NoResult
from perfect_nb.engine.runner import Runner
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.tasks.control_flow import FilterTask, ifelse, switch
from perfect_nb.tasks.control_flow.conditional import CompareValue


# --- manual_only: a prompt on a terminal, a pause otherwise ------------------------------------

class _Stdin:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _approval_flow(seen: list, ids: list) -> tuple:
    def record(t, old, new):
        seen.append(f"{t.name}: {old.type} -> {new.type}")

    @task(state_handlers=[record])
    def a():
        ids.append(context.flow_run_id)
        return 1

    @task(trigger=triggers.manual_only, state_handlers=[record])
    def b(x):
        ids.append(context.flow_run_id)
        return x + 1

    @task(state_handlers=[record])
    def c(x):
        return x + 1

    with Flow("approval") as flow:
        last = c(b(a()))
    return flow, last


def test_manual_only_prompts_on_a_terminal_until_y(monkeypatch):
    """1.4.1 (run under `script -qc`, answers n then y): flow.run() prints
    "<Task: b> is currently Paused; enter 'y' to resume:" after each pass, runs again after
    'n' (b stays Paused), and after 'y' b goes Resume -> Running -> Success and c runs; the
    flow ends Success and b's handlers saw Pending -> Paused, Resume -> Running, Running -> Success.
    Both passes are one flow run (one flow_run_id)."""
    seen, ids, prompts = [], [], []
    answers = iter(["n", "Y "])
    monkeypatch.setattr(sys, "stdin", _Stdin(True))
    monkeypatch.setattr(builtins, "input", lambda prompt: prompts.append(prompt) or next(answers))
    flow, last = _approval_flow(seen, ids)
    state = flow.run()
    assert prompts == ["<Task: b> is currently Paused; enter 'y' to resume:\n"] * 2
    assert repr(state) == '<Success: "All reference tasks succeeded.">'
    assert state.result[last].result == 3
    assert [s for s in seen if s.startswith("b:")] == ["b: Pending -> Paused", "b: Resume -> Running", "b: Running -> Success"]
    assert len(ids) == 2 and len(set(ids)) == 1


def test_manual_only_pauses_without_a_terminal(monkeypatch):
    """1.4.1 calls input() whatever stdin is (EOFError when it is closed, a piped 'y' resumes);
    the README lists our difference: without a terminal (a notebook, a pipe, a service) nothing
    is asked and flow.run() returns Running with b Paused and c Pending, as
    FlowRunner(flow).run() does on 1.4.1 (<Running: "Running flow.">, b
    <Paused: "Trigger function is "manual_only"">, c <Pending>)."""
    monkeypatch.setattr(sys, "stdin", _Stdin(False))
    monkeypatch.setattr(builtins, "input", lambda prompt: pytest.fail("asked without a terminal"))
    flow, last = _approval_flow([], [])
    state = flow.run()
    assert repr(state) == '<Running: "Running flow.">'
    paused = [s for s in state.result.values() if type(s) is st.Paused]
    assert [repr(s) for s in paused] == ['<Paused: "Trigger function is "manual_only"">']
    assert repr(state.result[last]) == "<Pending>"


# --- the order mapped children are retried in -----------------------------------------------------

def test_mapped_children_are_retried_in_index_order():
    """1.4.1, flaky.map(range(5)) with max_retries=2 and one retry_delay, children 0, 2, 4
    failing twice and 3 once: the runs of flaky are (0,1) (1,1) (2,1) (3,1) (4,1), then
    (0,2) (2,2) (3,2) (4,2), then (0,3) (2,3) (4,3) (child, task_run_count): each retry pass
    in index order. (Where the downstream child of a success runs is our depth-first order,
    listed in the README.) Each failing child's states: Running, Failed, Retrying, ... Success."""
    runs, kinds = [], {}

    def record(t, old, new):
        kinds.setdefault(context.get("map_index"), []).append(new.type)

    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0.2), state_handlers=[record])
    def flaky(x):
        n = context.task_run_count
        runs.append((x, n))
        if (x % 2 == 0 and n < 3) or (x == 3 and n < 2):
            raise ValueError(f"x={x} run {n}")
        return x * 10

    @task
    def after(y):
        return y

    with Flow("retries") as flow:
        ys = flaky.map(list(range(5)))
        zs = after.map(ys)
    state = flow.run()
    assert state.is_successful()
    assert runs == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (0, 2), (2, 2), (3, 2), (4, 2), (0, 3), (2, 3), (4, 3)]
    assert kinds[0] == ["Running", "Failed", "Retrying", "Running", "Failed", "Retrying", "Running", "Success"]
    assert kinds[3] == ["Running", "Failed", "Retrying", "Running", "Success"]
    assert state.result[zs].result == [0, 10, 20, 30, 40]


# --- case / switch / ifelse on a plain value --------------------------------------------------------

@task
def label(text):
    return text


@pytest.mark.parametrize("condition, value, runs", [(True, True, True), (True, False, False), ("a", "a", True), ([1], [1], True)])
def test_case_takes_a_plain_value(condition, value, runs):
    """1.4.1: `with case(True, True):` is accepted; the condition task is
    CompareValue named 'case(True)' with the value folded in as a constant (no Constant
    task, one edge to the block); case(True, False) is Skipped with 'Provided value "True"
    did not match "False"' and the block with it; case("a", "a") is named 'case(a)'."""
    with Flow("plain case") as flow:
        with case(condition, value):
            inside = label("in")
        label("out")
    compare = flow.get_tasks(task_type=CompareValue)
    assert [t.name for t in compare] == [f"case({value})"]
    assert flow.constants[compare[0]] == {"value": condition}
    assert len(flow.tasks) == 3 and len(flow.edges) == 1
    state = flow.run()
    if runs:
        assert state.result[inside].result == "in"
    else:
        assert repr(state.result[compare[0]]) == f'<Skipped: "Provided value "{condition}" did not match "{value}"">'
        assert type(state.result[inside]) is st.Skipped


def test_case_is_named_with_str_of_its_value():
    """1.4.1: case(pick(), "a") is named 'case(a)' (str, not repr)."""
    with Flow("named") as flow:
        with case(label("a"), "a"):
            label("in")
    assert {t.name for t in flow.get_tasks(task_type=CompareValue)} == {"case(a)"}


def test_switch_and_ifelse_take_a_plain_value():
    """1.4.1: ifelse(True, a, b) runs a and skips b (tasks as_bool, CompareValue: "True"/"False");
    switch("x", {"x": a, "y": b}) runs a and skips b."""
    with Flow("plain branches") as flow:
        a, b = label("a"), label("b")
        ifelse(True, a, b)
        c, d = label("c"), label("d")
        switch("x", {"x": c, "y": d})
    state = flow.run()
    assert [state.result[t].type for t in (a, b, c, d)] == ["Success", "Skipped", "Success", "Skipped"]
    assert sorted(t.name for t in flow.get_tasks(task_type=CompareValue)) == [
        'CompareValue: "False"', 'CompareValue: "True"', 'CompareValue: "x"', 'CompareValue: "y"']


# --- ClientFailed and Runner ---------------------------------------------------------------------

def test_client_failed():
    """1.4.1: prefect.engine.state.ClientFailed(_MetaState) wraps the state the client could
    not set; color '#eb0000'; is_meta_state() True, is_failed() and is_finished() False;
    ClientFailed.parents() == [State]; State.children() lists it before Submitted."""
    cf = st.ClientFailed(state=st.Failed("boom"))
    assert st.ClientFailed.__bases__ == (st.MetaState,) and st._MetaState is st.MetaState
    assert repr(cf) == "<ClientFailed>" and repr(cf.state) == '<Failed: "boom">'
    assert (cf.is_meta_state(), cf.is_failed(), cf.is_finished(), cf.is_pending()) == (True, False, False, False)
    assert st.ClientFailed.color == "#eb0000"
    assert st.ClientFailed.parents() == [st.State]
    names = [c.__name__ for c in st.State.children()]
    assert names.index("ClientFailed") == names.index("Submitted") - 1
    assert "ClientFailed" in st.__all__


def test_runner_base_class():
    """1.4.1: FlowRunner and TaskRunner subclass prefect.engine.runner.Runner.
    Runner(state_handlers=[h]).handle_state_change(Pending(), Running()) calls h(runner, old,
    new) and returns <Running>; initialize_run(None, {}) == (<Pending>, {}); a handler that
    raises ValueError('x') gives ENDRUN(<Failed: "Unexpected error while calling state
    handlers: ValueError('x')">); SKIP/FAIL give the signal's state; PAUSE and ENDRUN are
    raised; a non-iterable state_handlers is TypeError('state_handlers should be iterable.')."""
    assert issubclass(TaskRunner, Runner) and issubclass(FlowRunner, Runner)
    calls = []
    runner = Runner(state_handlers=[lambda r, old, new: calls.append((type(r).__name__, old.type, new.type))])
    assert repr(runner.handle_state_change(st.Pending(), st.Running())) == "<Running>"
    assert calls == [("Runner", "Pending", "Running")]
    assert runner.initialize_run(None, {}) == (st.Pending(), {})

    def raising(exc):
        def handler(r, old, new):
            raise exc
        return Runner(state_handlers=[handler])

    with pytest.raises(ENDRUN) as end:
        raising(ValueError("x")).handle_state_change(st.Pending(), st.Running())
    assert repr(end.value.state) == "<Failed: \"Unexpected error while calling state handlers: ValueError('x')\">"
    assert repr(raising(signals.SKIP("s")).handle_state_change(st.Pending(), st.Running())) == '<Skipped: "s">'
    assert repr(raising(signals.FAIL("f")).handle_state_change(st.Pending(), st.Running())) == '<Failed: "f">'
    with pytest.raises(signals.PAUSE):
        raising(signals.PAUSE("p")).handle_state_change(st.Pending(), st.Running())
    for make in (Runner, lambda handlers: TaskRunner(Task(), state_handlers=handlers), lambda handlers: FlowRunner(Flow("f"), state_handlers=handlers)):
        with pytest.raises(TypeError, match="state_handlers should be iterable."):
            make(lambda *a: None)


def test_call_runner_target_handlers_calls_the_targets_handlers():
    """1.4.1: TaskRunner(t, state_handlers=[rh]).call_runner_target_handlers(Pending(), Failed())
    calls the task's handler and on_failure only; handle_state_change calls those, then rh.
    The same for FlowRunner with the flow's handlers and on_failure."""
    calls = []
    t = Task(state_handlers=[lambda t, o, n: calls.append("task")], on_failure=lambda t, s: calls.append("on_failure"))
    f = Flow("f", state_handlers=[lambda f, o, n: calls.append("flow")], on_failure=lambda f, s: calls.append("flow on_failure"))
    runner_handler = [lambda r, o, n: calls.append(type(r).__name__)]
    for runner, target in [(TaskRunner(t, state_handlers=runner_handler), ["task", "on_failure"]),
                           (FlowRunner(f, state_handlers=runner_handler), ["flow", "flow on_failure"])]:
        calls.clear()
        assert type(runner.call_runner_target_handlers(st.Pending(), st.Failed())) is st.Failed
        assert calls == target
        calls.clear()
        assert type(runner.handle_state_change(st.Pending(), st.Failed())) is st.Failed
        assert calls == [*target, type(runner).__name__]


# --- FilterTask's default filter -------------------------------------------------------------------

@task
def outcome(x):
    if x == 0:
        raise ValueError("zero")
    if x == 1:
        raise signals.SKIP("skip one")
    if x == 2:
        return None
    if x == 3:
        raise signals.FAIL("fail three")
    return x


def test_filter_task_default_drops_none_and_exceptions_only():
    """1.4.1: after outcome.map(range(5)) (ValueError, SKIP, None, FAIL, 4) the default
    FilterTask gives [SKIP('skip one'), FAIL('fail three'), 4]: a signal is not an Exception
    there, so it is kept; FilterTask().run([1, None, NoResult, ValueError('x')]) is
    [1, NoResult]; a child skipped by its upstream (result None) is dropped."""
    with Flow("filter") as flow:
        kept = FilterTask()(outcome.map(list(range(5))))
    result = flow.run().result[kept].result
    assert [repr(r) for r in result] == ["SKIP('skip one')", "FAIL('fail three')", "4"]
    assert FilterTask().run([1, None, NoResult, ValueError("x")]) == [1, NoResult]


# --- flatten() of what is not a list of lists ------------------------------------------------------

@pytest.mark.parametrize("value, items", [
    ([1, 2], [1, 2]),
    ([[1, 2], 3], [[1, 2], 3]),
    ([[1, [2, 3]], []], [1, [2, 3]]),
    (["ab", ["c"]], ["a", "b", "c"]),
])
def test_mapping_over_flatten_of_any_list(value, items):
    """1.4.1: ident.map(flatten(val(v))) maps over v flattened when every item is iterable,
    else over v as it is: [1, 2] -> [1, 2], [[1, 2], 3] -> [[1, 2], 3], [[1, [2, 3]], []] ->
    [1, [2, 3]], ["ab", ["c"]] -> ["a", "b", "c"]; of a mapped upstream, children [[1, 2], 3]
    give [1, 2, 3]."""
    from perfect_nb.utilities.edges import flatten

    with Flow("flatten") as flow:
        mapped = label.map(flatten(label(value)))
        per_child = label.map(flatten(label.map([[1, 2], 3])))
    state = flow.run()
    assert state.result[mapped].result == items
    assert state.result[per_child].result == [1, 2, 3]


# --- Task defaults ------------------------------------------------------------------------------------

def test_a_task_without_a_trigger_has_all_successful():
    """1.4.1: Task().trigger and @task's are prefect.triggers.all_successful (never None);
    Task(trigger=None) too; cache_for is None."""
    assert Task().trigger is triggers.all_successful
    assert task(lambda: 1).trigger is triggers.all_successful
    assert Task(trigger=None).trigger is triggers.all_successful
    assert Task(trigger=triggers.all_finished).trigger is triggers.all_finished
    assert Task().cache_for is None


def test_a_task_without_a_cache_validator_has_prefect_1s_default():
    """1.4.1: Task().cache_validator is prefect.engine.cache_validators.never_use; with
    cache_for it is duration_only. The notebook cache still reuses such a task: only a
    never_use the user gave marks it as one that must always run."""
    import datetime as dt

    from perfect_nb.cache.runs import _never_use
    from perfect_nb.engine import cache_validators

    assert Task().cache_validator is cache_validators.never_use
    assert task(lambda: 1).cache_validator is cache_validators.never_use
    assert Task(cache_for=dt.timedelta(minutes=1)).cache_validator is cache_validators.duration_only
    assert Task(cache_validator=cache_validators.all_inputs).cache_validator is cache_validators.all_inputs
    assert not _never_use(task(lambda: 1)) and _never_use(task(lambda: 1, cache_validator=cache_validators.never_use))
