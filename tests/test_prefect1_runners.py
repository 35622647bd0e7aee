"""FlowRunner / TaskRunner as Prefect 1.4.1 has them: the public step methods, what
``FlowRunner(flow).run()`` returns while a retry waits, and ``flow.run(state=...,
task_states=..., task_contexts=...)``.

Every expected value below was read off Prefect 1.4.1 (bench/.prefect1-venv) running
the same calls; each test's docstring says what 1.4.1 gave.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from perfect_nb import Flow, Task, context, task
from perfect_nb.core.edge import Edge
from perfect_nb.engine.flow_runner import FlowRunner
from perfect_nb.engine.result import Result
from perfect_nb.engine.signals import ENDRUN, TRIGGERFAIL
from perfect_nb.engine.state import (
    Failed, Looped, Mapped, Pending, Resume, Retrying, Running, Scheduled, Skipped, Success, TriggerFailed,
)
from perfect_nb.engine.steps import FlowRunnerInitializeResult, TaskRunnerInitializeResult
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.executors import LocalExecutor

LATER = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
EARLIER = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)


def outcome(step, *args):
    """('ok', state) or ('ENDRUN', state), as the probe script printed them for 1.4.1."""
    try:
        return "ok", step(*args)
    except ENDRUN as end:
        return "ENDRUN", end.state


@task(max_retries=1, retry_delay=dt.timedelta(seconds=10))
def inc(x):
    return x + 1


UP = Task(name="up")
EDGE = Edge(UP, inc, key="x")


# --- TaskRunner steps ---------------------------------------------------------------------

def test_initialize_run_gives_the_state_and_the_task_context():
    """1.4.1: TaskRunnerInitializeResult(<Pending>, context with task_name, task_tags,
    task_run_count=1); a Retrying(run_count=2) gives task_run_count 3; a Resume gives resume=True."""
    runner = TaskRunner(inc)
    init = runner.initialize_run(None, {})
    assert isinstance(init, TaskRunnerInitializeResult) and type(init.state) is Pending
    assert init.context["task_name"] == "inc" and init.context["task_run_count"] == 1 and "task_tags" in init.context
    assert runner.initialize_run(Retrying(run_count=2), {}).context["task_run_count"] == 3
    assert runner.initialize_run(Resume(), {}).context["resume"] is True


def test_readiness_and_start_time_checks():
    """1.4.1: check_task_is_ready ends the run for Success and Running, lets Pending and a
    future Scheduled through; check_task_reached_start_time stops the future Scheduled only."""
    runner = TaskRunner(inc)
    assert outcome(runner.check_task_is_ready, Success())[0] == "ENDRUN"
    assert outcome(runner.check_task_is_ready, Running())[0] == "ENDRUN"
    assert outcome(runner.check_task_is_ready, Pending())[0] == "ok"
    assert outcome(runner.check_task_is_ready, Scheduled(start_time=LATER))[0] == "ok"
    assert outcome(runner.check_task_reached_start_time, Scheduled(start_time=LATER))[0] == "ENDRUN"
    assert outcome(runner.check_task_reached_start_time, Scheduled(start_time=EARLIER))[0] == "ok"


def test_upstream_checks_and_the_trigger():
    """1.4.1: a Running upstream ends the run in the same Pending; a Skipped one ends it Skipped
    with the "Upstream task was skipped; ..." message; a Failed one fails the all_successful
    trigger: TriggerFailed('Trigger was "all_successful" but some of the upstream tasks failed.')
    whose result is the TRIGGERFAIL; a Success upstream lets the state through."""
    runner = TaskRunner(inc)
    pending = Pending()
    assert outcome(runner.check_upstream_finished, pending, {EDGE: Running()}) == ("ENDRUN", pending)
    assert outcome(runner.check_upstream_finished, pending, {EDGE: Success()}) == ("ok", pending)
    kind, skipped = outcome(runner.check_upstream_skipped, Pending(), {EDGE: Skipped()})
    assert kind == "ENDRUN" and type(skipped) is Skipped and skipped.message.startswith("Upstream task was skipped")
    kind, failed = outcome(runner.check_task_trigger, Pending(), {EDGE: Failed()})
    assert kind == "ENDRUN" and type(failed) is TriggerFailed
    assert failed.message == 'Trigger was "all_successful" but some of the upstream tasks failed.'
    assert isinstance(failed.result, TRIGGERFAIL)
    assert outcome(runner.check_task_trigger, pending, {EDGE: Success()}) == ("ok", pending)


def test_inputs_are_results_and_the_task_runs_from_running():
    """1.4.1: get_task_inputs gives {'x': <Result: 1>}; set_task_to_running gives
    <Running: "Starting task run."> (ENDRUN from Running); get_task_run_state from Running gives
    <Success: "Task run succeeded."> with result 2, and ENDRUN from Pending."""
    runner = TaskRunner(inc)
    inputs = runner.get_task_inputs(Pending(), {EDGE: Success(result=1)})
    assert list(inputs) == ["x"] and type(inputs["x"]) is Result and inputs["x"].value == 1
    kind, running = outcome(runner.set_task_to_running, Pending(), inputs)
    assert kind == "ok" and type(running) is Running and running.message == "Starting task run."
    assert outcome(runner.set_task_to_running, Running(), inputs)[0] == "ENDRUN"
    kind, done = outcome(runner.get_task_run_state, Running(), inputs)
    assert kind == "ok" and type(done) is Success and done.message == "Task run succeeded." and done.result == 2
    assert outcome(runner.get_task_run_state, Pending(), inputs)[0] == "ENDRUN"


def test_check_for_retry_uses_the_run_count_in_context():
    """1.4.1 (max_retries=1): with task_run_count=1 a Failed becomes
    <Retrying: "Retrying Task (after attempt 1 of 2)">; with task_run_count=2 it stays Failed;
    a Success is returned as it is."""
    runner = TaskRunner(inc)
    with context(task_run_count=1):
        retry = runner.check_for_retry(Failed("x", result=ValueError()), {"x": Result(1)})
    assert type(retry) is Retrying and retry.message == "Retrying Task (after attempt 1 of 2)"
    with context(task_run_count=2):
        assert type(runner.check_for_retry(Failed("x"), {})) is Failed
    success = Success()
    assert runner.check_for_retry(success, {}) is success


def test_check_task_ready_to_map():
    """1.4.1: no successful mapped upstream: ENDRUN(<Failed: "No upstream states can be mapped
    over.">); an int to map over: ENDRUN(<Failed: "At least one upstream state has an unmappable
    result.">); a list: ENDRUN(<Mapped: "Ready to proceed with mapping.">)."""
    mapped = Task(name="m")
    edge = Edge(UP, mapped, key="x", mapped=True)
    runner = TaskRunner(mapped)
    kind, state = outcome(runner.check_task_ready_to_map, Pending(), {edge: Failed()})
    assert (kind, type(state), state.message) == ("ENDRUN", Failed, "No upstream states can be mapped over.")
    kind, state = outcome(runner.check_task_ready_to_map, Pending(), {edge: Success(result=3)})
    assert (kind, type(state), state.message) == ("ENDRUN", Failed, "At least one upstream state has an unmappable result.")
    kind, state = outcome(runner.check_task_ready_to_map, Pending(), {edge: Success(result=[1, 2])})
    assert (kind, type(state), state.message) == ("ENDRUN", Mapped, "Ready to proceed with mapping.")


def test_run_as_a_mapped_parent():
    """1.4.1: TaskRunner(inc).run(upstream_states={mapped edge: Success(result=[1, 2])},
    is_mapped_parent=True) gives <Mapped: "Ready to proceed with mapping.">; with a Failed upstream
    <Failed: "No upstream states can be mapped over.">; without is_mapped_parent the body runs on
    the whole list (TypeError -> Failed)."""
    @task
    def plus(x):
        return x + 1

    edge = Edge(UP, plus, key="x", mapped=True)
    mapped = TaskRunner(plus).run(upstream_states={edge: Success(result=[1, 2])}, is_mapped_parent=True)
    assert type(mapped) is Mapped and mapped.message == "Ready to proceed with mapping."
    failed = TaskRunner(plus).run(upstream_states={edge: Failed()}, is_mapped_parent=True)
    assert type(failed) is Failed and failed.message == "No upstream states can be mapped over."
    whole = TaskRunner(plus).run(upstream_states={edge: Success(result=[1, 2])})
    assert type(whole) is Failed and isinstance(whole.result, TypeError)


def test_handle_state_change_calls_the_task_handlers():
    """1.4.1: TaskRunner(t).handle_state_change(Pending(), Running()) returns <Running> and the
    task's handler saw (<Pending>, <Running>)."""
    seen = []

    @task(state_handlers=[lambda t, old, new: seen.append((type(old), type(new)))])
    def handled():
        return 1

    assert type(TaskRunner(handled).handle_state_change(Pending(), Running())) is Running
    assert seen == [(Pending, Running)]


def test_check_task_is_looping_runs_again_with_the_loop_count():
    """1.4.1: for a Looped state (loop_count=2, result "last") the step asks for the next
    iteration: Pending("Looping task (on loop index 2)") with task_loop_count 3 and
    task_loop_result "last" in context (1.4.1 raises its internal RecursiveCall for its own
    run() to make that call; here the step makes it and returns the iteration's state)."""
    @task
    def counter():
        return context.get("task_loop_count"), context.get("task_loop_result")

    state = TaskRunner(counter).check_task_is_looping(Looped(result="last", loop_count=2), {}, {}, {})
    assert type(state) is Success and state.result == (3, "last")


# --- FlowRunner steps -----------------------------------------------------------------------

def _flow():
    @task
    def seq():
        return 3

    with Flow("f") as flow:
        out = inc(seq())
    return flow, out


def test_flow_runner_checks():
    """1.4.1: check_flow_is_pending_or_running ends the run for Success, lets Pending through;
    check_flow_reached_start_time stops a Scheduled an hour ahead; set_flow_to_running gives
    <Running: "Running flow."> from Pending, keeps a Running as it is, ends the run for Success."""
    runner = FlowRunner(_flow()[0])
    assert outcome(runner.check_flow_is_pending_or_running, Success())[0] == "ENDRUN"
    assert outcome(runner.check_flow_is_pending_or_running, Pending())[0] == "ok"
    assert outcome(runner.check_flow_reached_start_time, Scheduled(start_time=LATER))[0] == "ENDRUN"
    kind, running = outcome(runner.set_flow_to_running, Pending())
    assert kind == "ok" and type(running) is Running and running.message == "Running flow."
    given = Running("r")
    assert outcome(runner.set_flow_to_running, given) == ("ok", given)
    assert outcome(runner.set_flow_to_running, Success())[0] == "ENDRUN"


def test_flow_runner_initialize_and_get_flow_run_state():
    """1.4.1: initialize_run(None, {}, {}, {}, {}) gives FlowRunnerInitializeResult(<Pending>, ...)
    whose context has flow_name, parameters, scheduled_start_time, date; get_flow_run_state on a
    Pending flow ends the run; on a Running one it runs the tasks:
    <Success: "All reference tasks succeeded."> with every return task's state."""
    flow, out = _flow()
    runner = FlowRunner(flow)
    init = runner.initialize_run(None, {}, {}, {}, {})
    assert isinstance(init, FlowRunnerInitializeResult) and type(init.state) is Pending and init.task_states == {}
    assert {"flow_name", "parameters", "scheduled_start_time", "date"} <= set(init.context)
    assert outcome(runner.get_flow_run_state, Pending(), {}, {}, set(), [], LocalExecutor())[0] == "ENDRUN"
    state = runner.get_flow_run_state(Running(), {}, {}, set(flow.tasks), [], LocalExecutor())
    assert type(state) is Success and state.message == "All reference tasks succeeded."
    assert set(state.result) == set(flow.tasks) and state.result[out].result == 4


def test_determine_final_state():
    """1.4.1: all Success -> <Success: "All reference tasks succeeded."> with the return states as
    result; a Failed key state -> <Failed: "Some reference tasks failed.">; an unfinished terminal
    state -> the Running state given; a Looped key state -> <Success: "No reference tasks failed.">."""
    runner = FlowRunner(_flow()[0])
    running = Running()
    ok = runner.determine_final_state(running, {Success()}, {}, {Success()})
    assert (type(ok), ok.message, ok.result) == (Success, "All reference tasks succeeded.", {})
    bad = runner.determine_final_state(running, {Failed()}, {"a": 1}, {Failed()})
    assert (type(bad), bad.message, bad.result) == (Failed, "Some reference tasks failed.", {"a": 1})
    assert runner.determine_final_state(running, {Success()}, {}, {Pending()}) is running
    assert runner.determine_final_state(running, {Looped()}, {}, {Looped()}).message == "No reference tasks failed."


def test_a_flow_state_handler_sees_the_task_states_on_the_final_state():
    """1.4.1: the handler called for Running -> Success gets a new state whose result already maps
    each task to its state."""
    seen = []
    flow, out = _flow()
    flow.state_handlers = [lambda f, old, new: seen.append(dict(new.result) if new.is_finished() else None)]
    flow.run()
    assert seen[-1][out].result == 4


# --- runs ----------------------------------------------------------------------------------

def _retry_flow(delay: float):
    calls = {"n": 0}

    @task(max_retries=2, retry_delay=dt.timedelta(seconds=delay))
    def flaky():
        calls["n"] += 1
        if calls["n"] < 2:
            raise ValueError("first")
        return calls["n"]

    @task
    def after(x):
        return x + 1

    with Flow("retry") as flow:
        a = after(flaky())
    return flow, a, calls


def test_the_flow_runner_returns_running_while_a_retry_waits():
    """1.4.1 (retry_delay 1 s): FlowRunner(flow).run(return_tasks=flow.tasks) returns
    <Running: "Running flow."> in 0.04 s with flaky <Retrying: "Retrying Task (after attempt 1 of
    3)"> (result None, context {'tags': [], 'task_run_count': 1}) and after <Pending>; the flow handler saw only Pending -> Running. Given the states back
    once the retry is due, the run ends Success."""
    flow, after, calls = _retry_flow(0.3)
    flaky = next(t for t in flow.tasks if t.name == "flaky")
    seen = []
    flow.state_handlers = [lambda f, old, new: seen.append((type(old), type(new)))]
    started = time.monotonic()
    first = FlowRunner(flow).run(return_tasks=flow.tasks)
    assert time.monotonic() - started < 0.25  # it did not wait for the retry
    assert type(first) is Running and first.message == "Running flow."
    assert type(first.result[flaky]) is Retrying and first.result[flaky].message == "Retrying Task (after attempt 1 of 3)"
    assert first.result[flaky].context == {"tags": [], "task_run_count": 1} and first.result[flaky].result is None
    assert type(first.result[after]) is Pending
    assert seen == [(Pending, Running)]
    time.sleep(0.35)
    second = FlowRunner(flow).run(state=first, task_states=first.result, return_tasks=flow.tasks)
    assert type(second) is Success and second.result[after].result == 3 and calls["n"] == 2


def test_flow_run_waits_for_the_retry():
    """1.4.1 (retry_delay 1 s): flow.run() took 1.05 s and gave Success, flaky and after Success;
    the flow handler saw Scheduled -> Running -> Success."""
    flow, after, calls = _retry_flow(0.2)
    seen = []
    flow.state_handlers = [lambda f, old, new: seen.append((type(old), type(new)))]
    state = flow.run()
    assert type(state) is Success and state.result[after].result == 3
    assert seen == [(Scheduled, Running), (Running, Success)]


def test_run_from_a_given_flow_state():
    """1.4.1: FlowRunner.run(state=Failed("nope")) returns that state, result None; a Scheduled an
    hour ahead is returned as it is; from Running("r") the tasks run and the handler sees
    Running -> Success; flow.run(state=Success("done already")) returns that same state, whose
    result maps every task to <Pending: "Task not run.">."""
    flow, out = _flow()
    given = Failed("nope")
    assert FlowRunner(flow).run(state=given, return_tasks=[out]) is given and given.result is None
    later = Scheduled(start_time=LATER)
    assert FlowRunner(flow).run(state=later) is later
    state = FlowRunner(flow).run(state=Running("r"), return_tasks=[out])
    assert type(state) is Success and state.result[out].result == 4
    done = Success("done already")
    state = flow.run(state=done)
    assert state is done and set(state.result) == set(flow.tasks)
    assert all(type(s) is Pending and s.message == "Task not run." for s in state.result.values())


def test_task_states_and_task_contexts():
    """1.4.1: task_states={two: Success(result=42)} keeps two's given state (result 42) while
    its upstream runs; task_contexts={t: {"special": 7}} reaches the task's context (7), as
    context={"special": 9} does for every task (9)."""
    flow, out = _flow()
    state = FlowRunner(flow).run(task_states={out: Success(result=42)}, return_tasks=flow.tasks)
    assert state.result[out].result == 42
    assert [s.result for t, s in state.result.items() if t is not out] == [3]

    @task
    def ctx_task():
        return context.get("special")

    with Flow("c") as g:
        c = ctx_task()
    assert g.run(task_contexts={c: {"special": 7}}).result[c].result == 7
    assert g.run(context={"special": 9}).result[c].result == 9


def test_flow_run_refuses_return_tasks():
    """1.4.1: flow.run(return_tasks=[...]) raises ValueError ("The `return_tasks` keyword cannot
    be provided to `flow.run()`; all task states are always returned...")."""
    flow, out = _flow()
    with pytest.raises(ValueError, match="cannot be provided to `flow.run"):
        flow.run(return_tasks=[out])


def test_a_scheduled_run_starts_from_scheduled_at_its_time():
    """1.4.1 (one interval clock event 1 s ahead): the flow handler saw <Scheduled> whose
    start_time is the event's time, then Running("Running flow.") and Success."""
    from perfect_nb.schedules import Schedule, clocks

    seen = []
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.1)
    clock = clocks.IntervalClock(dt.timedelta(seconds=1), start_date=start, end_date=start + dt.timedelta(seconds=0.5))
    with Flow("s", schedule=Schedule(clocks=[clock]), state_handlers=[lambda f, old, new: seen.append((old, new))]) as flow:
        task(lambda: 1, name="one")()
    assert type(flow.run()) is Success
    (old, new), (_, final) = seen
    assert type(old) is Scheduled and old.message is None and abs((old.start_time - start).total_seconds()) < 0.01
    assert (type(new), new.message, type(final)) == (Running, "Running flow.", Success)


def test_default_runner_classes_come_from_config():
    """1.4.1: prefect.engine.get_default_flow_runner_class() is FlowRunner (TaskRunner,
    LocalExecutor for the others); with engine.flow_runner.default_class = 'nope.Nope' it warns
    "Could not import nope.Nope; using ... instead." and gives FlowRunner; a class given is used
    as it is; flow.run() and FlowRunner use the configured classes."""
    from perfect_nb import engine
    from perfect_nb.utilities.configuration import set_temporary_config

    assert (engine.get_default_flow_runner_class(), engine.get_default_task_runner_class()) == (FlowRunner, TaskRunner)
    assert engine.get_default_executor_class() is LocalExecutor
    with set_temporary_config({"engine.flow_runner.default_class": "nope.Nope"}):
        with pytest.warns(UserWarning, match="Could not import nope.Nope"):
            assert engine.get_default_flow_runner_class() is FlowRunner

    class CountingRunner(TaskRunner):
        made = 0

        def __init__(self, *args, **kwargs):
            CountingRunner.made += 1
            super().__init__(*args, **kwargs)

    flow, out = _flow()
    with set_temporary_config({"engine.task_runner.default_class": CountingRunner}):
        assert FlowRunner(flow).task_runner_cls is CountingRunner
        assert flow.run().result[out].result == 4 and CountingRunner.made == 2
