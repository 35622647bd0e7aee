"""FlowRunner and flow.run(): the flow's states, task states, retries, listeners, context, interrupts, logging."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from perfect_nb import Flow, FlowRunner, Parameter, context, flatten, task, triggers
from perfect_nb.engine import signals
from perfect_nb.engine.events import StateChange
from perfect_nb.engine.state import (
    Cancelled, Failed, Looped, Paused, Pending, Resume, Retrying, Running, Skipped, Success,
    TriggerFailed,
)

ALL_SUCCESSFUL_FAILED = 'Trigger was "all_successful" but some of the upstream tasks failed.'
UPSTREAM_SKIPPED = (
    "Upstream task was skipped; if this was not the intended behavior, "
    "consider changing `skip_on_upstream_skip=False` for this task."
)


@task
def one():
    return 1


@task
def plus_one(x):
    return x + 1


@task
def fail(x=None):
    raise ValueError("broken")



def flow_events(events):
    return [(e.old_state.type, e.new_state.type, e.new_state.message) for e in events if e.task is None]


def task_events(events, t):
    return [(e.old_state.type, e.new_state.type) for e in events if e.task is t]


# --- the flow's own states --------------------------------------------------------

@pytest.mark.parametrize(
    "body, final, message",
    [
        (lambda: 1, Success, "All reference tasks succeeded."),
        (lambda: 1 / 0, Failed, "Some reference tasks failed."),
    ],
)
@pytest.mark.parametrize("how", ["flow.run", "FlowRunner"])
def test_flow_state_sequence(body, final, message, how):
    """Prefect 1.4.1: flow.run() starts from Scheduled (no message), FlowRunner(flow).run()
    from Pending; both then Running("Running flow.") and the final state; FlowRunner returns
    only the return_tasks' states."""
    handled, events = [], []
    with Flow("sequence", state_handlers=[lambda f, old, new: handled.append((old.type, new.type, new.message))]) as flow:
        t = task(body, name="body")()
    if how == "flow.run":
        state = flow.run(listeners=[events.append])
    else:
        state = FlowRunner(flow).run(listeners=[events.append], return_tasks=[t])
    start = "Scheduled" if how == "flow.run" else "Pending"
    expected = [(start, "Running", "Running flow."), ("Running", final.__name__, message)]
    assert type(state) is final and state.message == message
    assert handled == expected and flow_events(events) == expected
    assert set(state.result) == {t}


def test_result_maps_each_task_to_its_state_and_value():
    with Flow("values") as flow:
        a = one()
        b = plus_one(a)
        c = plus_one(b)
    state = flow.run()
    assert {t: (type(s), s.result) for t, s in state.result.items()} == {a: (Success, 1), b: (Success, 2), c: (Success, 3)}
    assert flow.last_run is state


def test_flow_runner_run_does_not_touch_last_run_but_flow_run_does():
    with Flow("last") as flow:
        one()
    state = FlowRunner(flow).run()
    assert flow.last_run is None
    assert flow.run() is flow.last_run and state is not flow.last_run


def test_return_tasks_limits_the_result():
    """Prefect 1.4.1: FlowRunner.run(return_tasks=[b]) returns only b's state (none without
    return_tasks); flow.run(return_tasks=...) raises ValueError (it always returns every task)."""
    with Flow("some") as flow:
        a = one()
        b = plus_one(a)
    assert list(FlowRunner(flow).run(return_tasks=[b]).result) == [b]
    assert FlowRunner(flow).run().result == {}
    with pytest.raises(ValueError, match="return_tasks"):
        flow.run(return_tasks=[b])


@pytest.mark.parametrize("reference, final", [("ok", Success), ("bad", Failed), ("both", Failed)])
def test_reference_tasks_decide_the_final_state(reference, final):
    with Flow("reference") as flow:
        ok = one()
        bad = fail()
    flow.set_reference_tasks({"ok": [ok], "bad": [bad], "both": [ok, bad]}[reference])
    assert type(flow.run()) is final


def test_terminal_tasks_are_the_default_reference_tasks():
    with Flow("terminal") as flow:
        bad = fail()
        cleanup = task(lambda: "cleaned", name="cleanup", trigger=triggers.always_run)(upstream_tasks=[bad])
    state = flow.run()
    assert type(state.result[cleanup]) is Success
    assert type(state) is Success, "only the terminal task (cleanup) is a reference task"


def test_the_flow_keeps_running_while_a_terminal_task_is_paused_even_if_references_succeeded():
    with Flow("paused terminal") as flow:
        a = one()
        task(lambda x: x, name="approve", trigger=triggers.manual_only)(a)
    flow.set_reference_tasks([a])
    state = flow.run()
    assert type(state) is Running
    assert state.message == "Running flow."  # Prefect 1.4.1: the Running state is returned as it is


def test_finished_reference_tasks_neither_successful_nor_failed_give_success():
    with Flow("looped reference") as flow:
        c = one()
    state = flow.run(task_states={c: Looped("left looping by an earlier run")})
    assert type(state) is Success and state.message == "No reference tasks failed."


def test_terminal_state_handler_sees_the_reference_states_with_mapped_children():
    seen = []

    def handler(flow, state, reference_states):
        seen.append((type(state), sorted(s.result for s in reference_states)))
        return Success("overridden") if isinstance(state, Failed) else None

    @task
    def maybe(x):
        if x == 2:
            raise signals.FAIL("two", result=-1)
        return x

    with Flow("terminal handler", terminal_state_handler=handler) as flow:
        maybe.map([1, 2, 3])
    state = flow.run()
    assert seen == [(Failed, [-1, 1, 3])]
    assert type(state) is Success and state.message == "overridden"


def test_downstream_of_a_failure_is_trigger_failed_through_a_chain():
    with Flow("chain") as flow:
        a = fail()
        b = plus_one(a)
        c = plus_one(b)
    state = flow.run()
    assert type(state.result[a]) is Failed
    for t in (b, c):
        assert type(state.result[t]) is TriggerFailed and state.result[t].message == ALL_SUCCESSFUL_FAILED
    assert type(state) is Failed


def test_skip_propagates_down_a_chain_and_the_flow_succeeds():
    calls = []

    @task
    def skipper():
        raise signals.SKIP("nothing new")

    @task
    def record(x=None):
        calls.append(x)

    with Flow("skips") as flow:
        a = skipper()
        b = record(a)
        c = record(b)
        d = task(lambda x: ("ran", x), name="runs", skip_on_upstream_skip=False)(c)
    state = flow.run()
    assert state.result[a].message == "nothing new"
    assert [type(state.result[t]) for t in (a, b, c)] == [Skipped] * 3
    assert state.result[b].message == UPSTREAM_SKIPPED and calls == []
    assert state.result[d].result == ("ran", None)
    assert type(state) is Success


def test_a_flow_state_handler_can_change_the_final_state():
    def forgive(flow, old, new):
        return Success("forgiven") if isinstance(new, Failed) else None

    with Flow("forgiving", state_handlers=[forgive]) as flow:
        fail()
    state = flow.run()
    assert type(state) is Success and state.message == "forgiven"


def test_flow_runner_handlers_get_the_runner_after_the_flows_handlers():
    owners = []
    with Flow("owners", state_handlers=[lambda owner, old, new: owners.append(("flow", owner, new.type))]) as flow:
        one()
    runner = FlowRunner(flow, state_handlers=[lambda owner, old, new: owners.append(("runner", owner, new.type))])
    runner.run()
    assert owners == [("flow", flow, "Running"), ("runner", runner, "Running"), ("flow", flow, "Success"), ("runner", runner, "Success")]
    assert repr(runner) == "<FlowRunner: owners>"


def test_task_runner_state_handlers_are_given_to_every_task_run():
    seen = []
    with Flow("runner handlers") as flow:
        a = one()
        b = plus_one(a)
    FlowRunner(flow).run(task_runner_state_handlers=[lambda runner, old, new: seen.append((runner.task, new.type))])
    assert seen == [(a, "Running"), (a, "Success"), (b, "Running"), (b, "Success")]


def test_flow_run_passes_task_runner_state_handlers_to_the_runner():
    seen = []
    with Flow("runner handlers via flow.run") as flow:
        one()
    flow.run(task_runner_state_handlers=[lambda runner, old, new: seen.append(new.type)])
    assert seen == ["Running", "Success"]


def test_a_flow_state_handler_raising_on_running_fails_the_flow_without_running_tasks(perfect_nb_log):
    calls, events = [], []

    def explode(flow, old, new):
        if type(new) is Running:
            raise RuntimeError("flow handler bug")

    with Flow("broken handler", state_handlers=[explode]) as flow:
        task(lambda: calls.append(1), name="never")()
    state = flow.run(listeners=[events.append])
    assert type(state) is Failed
    assert state.message == "Exception raised while calling state handlers: RuntimeError('flow handler bug')"
    assert calls == []
    assert [e.new_state.type for e in events] == ["Failed"]
    assert all(e.timestamp is not None for e in events)


def test_on_failure_of_the_flow_is_called_once():
    calls = []
    with Flow("notify", on_failure=lambda f, s: calls.append((f, s))) as flow:
        fail()
    state = flow.run()
    assert calls == [(flow, state)]


def test_a_finished_flow_state_is_returned_without_running():
    calls = []
    with Flow("done") as flow:
        task(lambda: calls.append(1), name="never")()
    given = Success("already done")
    assert FlowRunner(flow).run(state=given) is given and calls == []


# --- retries in a flow -------------------------------------------------------------

def test_retries_keep_the_task_run_id_and_count_runs():
    seen = []

    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0.2))
    def flaky():
        seen.append((context.task_run_id, context.task_run_count))
        if context.task_run_count < 3:
            raise ValueError("not yet")
        return "third time"

    with Flow("retries") as flow:
        t = flaky()
    events = []
    start = time.monotonic()
    state = flow.run(listeners=[events.append])
    elapsed = time.monotonic() - start
    assert state.result[t].result == "third time" and type(state) is Success
    assert [count for _, count in seen] == [1, 2, 3]
    assert len({run_id for run_id, _ in seen}) == 1 and seen[0][0] is not None
    assert 0.4 <= elapsed < 2.0
    assert task_events(events, t) == [
        ("Pending", "Running"), ("Running", "Failed"), ("Failed", "Retrying"),
        ("Retrying", "Running"), ("Running", "Failed"), ("Failed", "Retrying"),
        ("Retrying", "Running"), ("Running", "Success"),
    ]
    assert {e.task_run_id for e in events if e.task is t} == {seen[0][0]}
    messages = [e.new_state.message for e in events if e.task is t and type(e.new_state) is Retrying]
    assert messages == ["Retrying Task (after attempt 1 of 3)", "Retrying Task (after attempt 2 of 3)"]


def test_retry_delay_is_honoured_between_attempts():
    stamps = []

    @task(max_retries=1, retry_delay=dt.timedelta(seconds=0.2))
    def flaky():
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            raise ValueError("first")

    with Flow("delay") as flow:
        flaky()
    flow.run()
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= 0.19


def test_other_tasks_run_while_a_task_waits_to_retry():
    order = []

    @task(max_retries=1, retry_delay=dt.timedelta(seconds=0.2))
    def flaky():
        order.append(("flaky", context.task_run_count))
        if context.task_run_count == 1:
            raise ValueError("first")

    @task
    def other():
        order.append(("other", 1))

    with Flow("overlap") as flow:
        flaky()
        other()
    flow.run()
    assert order.index(("other", 1)) < order.index(("flaky", 2))


def test_retries_exhausted_fail_the_flow_and_downstream():
    @task(max_retries=1, retry_delay=0)
    def always_fails():
        raise ValueError("again")

    with Flow("exhausted") as flow:
        a = always_fails()
        b = plus_one(a)
    state = flow.run()
    assert type(state.result[a]) is Failed and type(state.result[b]) is TriggerFailed
    assert type(state) is Failed


def test_a_downstream_task_waits_for_its_upstream_retries():
    @task(max_retries=1, retry_delay=0.05)
    def flaky():
        if context.task_run_count == 1:
            raise ValueError("first")
        return 41

    with Flow("waits") as flow:
        b = plus_one(flaky())
    assert flow.run().result[b].result == 42


# --- listeners -------------------------------------------------------------------

def test_listeners_see_every_transition_in_the_callers_thread():
    events, threads = [], []

    def listener(event):
        events.append(event)
        threads.append(threading.get_ident())

    @task(timeout=5)
    def in_a_thread(x):
        return threading.get_ident()

    with Flow("listened") as flow:
        a = one()
        b = in_a_thread(a)
    state = flow.run(listeners=[listener])
    assert state.result[b].result != threading.get_ident(), "a task with a timeout runs in its own thread"
    assert set(threads) == {threading.get_ident()}
    assert all(isinstance(e, StateChange) for e in events)
    assert [(e.task, e.old_state.type, e.new_state.type) for e in events] == [
        (None, "Scheduled", "Running"),
        (a, "Pending", "Running"), (a, "Running", "Success"),
        (b, "Pending", "Running"), (b, "Running", "Success"),
        (None, "Running", "Success"),
    ]
    flow_run_ids = {e.flow_run_id for e in events}
    assert len(flow_run_ids) == 1 and None not in flow_run_ids
    assert all(e.map_index is None for e in events)
    assert [e.task_run_id is None for e in events] == [True, False, False, False, False, True]
    assert len({e.task_run_id for e in events if e.task is a} | {e.task_run_id for e in events if e.task is b}) == 2
    assert events[-1].new_state is state
    assert events[2].new_state is state.result[a]
    assert events[1].task_slug == a.slug and events[0].task_slug is None


def test_event_timestamps_are_monotonic_and_match_the_states():
    events = []
    with Flow("stamps") as flow:
        x = one()
        for _ in range(20):
            x = plus_one(x)
    before = time.time()
    flow.run(listeners=[events.append])
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= time.time()
    assert all(e.timestamp == e.new_state._timestamp for e in events)  # Prefect 1 states have no public timestamp


def test_a_listener_that_raises_is_logged_and_changes_nothing(perfect_nb_log):
    good = []

    def broken(event):
        raise RuntimeError("listener bug")

    with Flow("robust") as flow:
        a = one()
        b = plus_one(a)
    state = flow.run(listeners=[broken, good.append])
    assert type(state) is Success and state.result[b].result == 2
    assert len(good) == 6
    failures = [r for r in perfect_nb_log.records if r.name == "perfect_nb.events"]
    assert len(failures) == 6 and all(r.levelno == logging.ERROR for r in failures)
    assert "listener bug" in (failures[0].exc_text or "")


def test_event_repr_names_the_task_and_states():
    events = []
    with Flow("repr") as flow:
        one()
    flow.run(listeners=[events.append])
    assert repr(events[0]) == "<StateChange flow: Scheduled -> Running>"
    assert repr(events[1]) == "<StateChange one: Pending -> Running>"


# --- task_states and resuming --------------------------------------------------------

def test_a_task_given_success_is_not_rerun_and_feeds_downstream():
    calls = []

    @task
    def expensive():
        calls.append(1)
        return 1

    with Flow("given") as flow:
        a = expensive()
        b = plus_one(a)
    state = flow.run(task_states={a: Success(result=10)})
    assert calls == [] and state.result[b].result == 11
    assert state.result[a].result == 10


def test_paused_tasks_leave_the_flow_running_and_resume_continues():
    calls = []

    @task(trigger=triggers.manual_only)
    def approve(x):
        calls.append(x)
        return x * 2

    with Flow("approval") as flow:
        a = one()
        b = approve(a)
        c = plus_one(b)
    first = flow.run()
    assert type(first) is Running
    assert type(first.result[b]) is Paused and type(first.result[c]) is Pending and calls == []
    second = flow.run(task_states={a: first.result[a], b: Resume()})
    assert type(second) is Success and calls == [1]
    assert second.result[c].result == 3


def test_a_pause_signal_pauses_the_task():
    @task
    def wait_for_me():
        raise signals.PAUSE("waiting for approval")

    with Flow("pause") as flow:
        p = wait_for_me()
    state = flow.run()
    assert type(state) is Running and type(state.result[p]) is Paused


def test_a_retrying_task_state_given_to_a_run_waits_for_its_start_time():
    ran = []

    @task(max_retries=1, retry_delay=0)
    def resumed():
        ran.append(context.task_run_count)

    with Flow("given retry") as flow:
        t = resumed()
    start_time = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.2)
    before = time.monotonic()
    state = flow.run(task_states={t: Retrying(start_time=start_time, run_count=1)})
    assert type(state) is Success and ran == [2]
    assert time.monotonic() - before >= 0.15


# --- context ---------------------------------------------------------------------------

def test_context_given_to_the_run_is_seen_by_tasks():
    @task
    def read():
        return context.get("team"), context.get("flow_name")

    with Flow("ctx") as flow:
        r = read()
    assert flow.run(context={"team": "data"}).result[r].result == ("data", "ctx")
    assert "team" not in context


def test_task_contexts_are_per_task():
    @task
    def read():
        return context.get("only_me")

    with Flow("per task") as flow:
        a = read()
        b = read()
    state = flow.run(task_contexts={a: {"only_me": "a"}})
    assert (state.result[a].result, state.result[b].result) == ("a", None)


def test_context_keys_inside_tasks(perfect_nb_log):
    @task(name="reader", tags=["etl"])
    def reader(n):
        keys = ["flow_name", "flow_run_id", "task_name", "task_full_name", "task_slug", "task_run_id",
                "task_run_count", "map_index", "parameters", "today", "yesterday", "tomorrow",
                "scheduled_start_time", "task_tags"]
        context.get("logger").info("logged from the task")
        return {k: context.get(k) for k in keys}

    events = []
    with Flow("context keys") as flow:
        n = Parameter("n", default=3)
        r = reader(n)
    state = flow.run(n=5, listeners=[events.append])
    ctx = state.result[r].result
    start = ctx["scheduled_start_time"]
    assert start.tzinfo is not None and abs((dt.datetime.now(dt.timezone.utc) - start).total_seconds()) < 60
    assert ctx["today"] == start.strftime("%Y-%m-%d")
    assert ctx["yesterday"] == (start - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert ctx["tomorrow"] == (start + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert ctx["flow_name"] == "context keys"
    assert ctx["flow_run_id"] == events[0].flow_run_id
    assert (ctx["task_name"], ctx["task_full_name"], ctx["task_slug"]) == ("reader", "reader", r.slug)
    assert ctx["task_run_id"] == next(e.task_run_id for e in events if e.task is r)
    assert (ctx["task_run_count"], ctx["map_index"]) == (1, None)
    assert ctx["parameters"] == {"n": 5}
    assert ctx["task_tags"] == {"etl"}
    logged = [r_ for r_ in perfect_nb_log.records if r_.getMessage() == "logged from the task"]
    assert [r_.name for r_ in logged] == ["perfect_nb.reader"]


def test_each_flow_run_gets_its_own_flow_run_id():
    @task
    def run_id():
        return context.flow_run_id

    with Flow("ids") as flow:
        r = run_id()
    assert flow.run().result[r].result != flow.run().result[r].result


def test_date_in_context_sets_the_dates_and_scheduled_start_time_does_not():
    """Prefect 1.4.1: flow.run(context={"date": ...}) gives today/yesterday from that date (an
    ISO string is parsed); scheduled_start_time is kept as given but the dates stay today's."""
    @task
    def day():
        return context.today, context.yesterday, context.scheduled_start_time

    with Flow("dates") as flow:
        d = day()
    when = dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)
    assert flow.run(context={"date": when}).result[d].result[:2] == ("2024-03-01", "2024-02-29")
    assert flow.run(context={"date": "2024-03-01T12:00:00"}).result[d].result[:2] == ("2024-03-01", "2024-02-29")
    today, _, start = flow.run(context={"scheduled_start_time": when}).result[d].result
    assert start == when and today == dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


# --- interrupts -------------------------------------------------------------------------

def test_a_keyboard_interrupt_cancels_the_run_and_keeps_finished_results():
    events = []

    @task
    def interrupted(x):
        raise KeyboardInterrupt

    with Flow("interrupted") as flow:
        a = one()
        b = interrupted(a)
        c = plus_one(b)
        other = plus_one(a)
    state = flow.run(listeners=[events.append])
    assert type(state) is Cancelled
    assert flow.last_run is state
    assert type(state.result[a]) is Success and state.result[a].result == 1
    assert type(state.result[b]) is Cancelled and type(state.result[c]) is Cancelled
    assert type(state.result[other]) in (Success, Cancelled)
    assert flow_events(events)[-1][:2] == ("Running", "Cancelled")
    cancelled = {e.task for e in events if type(e.new_state) is Cancelled and e.task is not None}
    assert {b, c} <= cancelled and a not in cancelled
    assert all(e.task_run_id is not None for e in events if e.task is not None)
    assert state.result[c].message == "Flow run was interrupted before this task finished."
    assert state.message == "Flow run was interrupted; finished task results were kept."


def test_an_interrupt_while_waiting_for_a_retry_cancels_the_retrying_task():
    @task(max_retries=3, retry_delay=60)
    def flaky():
        raise ValueError("x")

    @task
    def interrupt():
        raise KeyboardInterrupt

    with Flow("interrupt during retry") as flow:
        f = flaky()
        waiting = plus_one(f)
        interrupt()
    start = time.monotonic()
    state = flow.run()
    assert time.monotonic() - start < 10, "an interrupt must not wait for the retry"
    assert type(state) is Cancelled
    assert type(state.result[f]) is Cancelled and type(state.result[waiting]) is Cancelled


# --- errors around tasks ------------------------------------------------------------------

def test_an_error_of_the_task_runner_itself_fails_that_task_only():
    from perfect_nb.engine.task_runner import TaskRunner

    class BrokenRunner(TaskRunner):
        def run(self, *args, **kwargs):
            if self.task.name == "plus_one":
                raise RuntimeError("runner bug")
            return super().run(*args, **kwargs)

    events = []
    with Flow("runner bug") as flow:
        a = one()
        b = plus_one(a)
    state = FlowRunner(flow, task_runner_cls=BrokenRunner).run(listeners=[events.append], return_tasks=flow.tasks)
    assert type(state) is Failed and type(state.result[a]) is Success
    failed = state.result[b]
    assert type(failed) is Failed and failed.message == "The executor could not run this task: RuntimeError: runner bug"
    assert [(e.old_state.type, e.new_state.type) for e in events if e.task is b] == [("Pending", "Failed")]


def test_local_executor_futures_hold_errors_and_let_interrupts_through():
    from perfect_nb.executors import LocalExecutor

    executor = LocalExecutor()
    assert executor.submit(sum, [1, 2]).result() == 3
    future = executor.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result()
    done = []
    executor.submit_then(done.append, lambda: 1 / 0)
    assert len(done) == 1 and done[0].done()

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        executor.submit(interrupt)


def test_flatten_passes_a_value_that_is_not_a_list_of_lists_as_it_is():
    """Prefect 1.4.1: collect(flatten(scalar())) gets 5 and collect(flatten(flat())) gets
    [1, 2] (flatten leaves a value that is not a list of lists unchanged), while a mapped
    upstream's children are flattened one by one: [5, [6, 7], "ab"] gives [5, 6, 7, "a", "b"]."""
    @task
    def scalar():
        return 5

    @task
    def flat():
        return [1, 2]

    collect = task(lambda xs: xs, name="collect")
    with Flow("flatten as Prefect 1") as flow:
        a = collect(flatten(scalar()))
        b = collect(flatten(flat()))
        c = collect(flatten(collect.map([5, [6, 7], "ab"])))
    state = flow.run()
    assert [state.result[t].result for t in (a, b, c)] == [5, [1, 2], [5, 6, 7, "a", "b"]]
    assert type(state) is Success


# --- parameters ---------------------------------------------------------------------------

def test_parameters_reach_tasks_and_defaults_apply():
    with Flow("params") as flow:
        n = Parameter("n", default=1)
        r = plus_one(n)
    assert flow.run().result[r].result == 2
    assert flow.run(n=41).result[r].result == 42
    assert flow.run(parameters={"n": 9}).result[r].result == 10


# --- logging ------------------------------------------------------------------------------

def test_a_successful_run_logs_no_per_task_lines_at_info(perfect_nb_log):
    with Flow("quiet") as flow:
        x = one()
        for _ in range(5):
            x = plus_one(x)
    flow.run()
    assert perfect_nb_log.records == [], "at INFO a successful run logs nothing (see utilities/logging.py)"


def test_a_failing_task_logs_one_error_line(perfect_nb_log):
    with Flow("loud") as flow:
        plus_one(fail())
    flow.run()
    errors = [r for r in perfect_nb_log.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].name == "perfect_nb.fail"
    assert "ValueError: broken" in errors[0].getMessage()


SCRIPT = textwrap.dedent(
    """
    from perfect_nb import Flow, task

    @task
    def step(x=0):
        return x + 1

    @task
    def broken():
        raise ValueError("bad")

    with Flow("ok") as ok:
        step(step())
    with Flow("bad") as bad:
        broken()
    ok.run()
    bad.run()
    """
)


@pytest.mark.parametrize(
    "level, info_lines, step_lines",
    [("WARNING", False, 0), ("INFO", True, 0), ("DEBUG", True, 4)],  # INFO: the failed flow's end line
)
def test_perfect_nb_logging_level_configures_the_output(level, info_lines, step_lines):
    env = {**os.environ, "PERFECT_NB_LOGGING_LEVEL": level}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert sum("perfect_nb.step" in line for line in lines) == step_lines
    assert sum("ERROR - perfect_nb.broken" in line for line in lines) == 1
    assert any(" INFO - " in line for line in lines) is info_lines
    assert not any(" DEBUG - " in line for line in lines) or level == "DEBUG"
    if level == "DEBUG":
        assert sum("perfect_nb.FlowRunner" in line and "Beginning flow run" in line for line in lines) == 2


class _CountingThreads:
    """A one-thread executor that records how many runs were in flight at each submission."""

    def __init__(self, max_inflight, refill_at):
        from perfect_nb.executors import LocalDaskExecutor

        self.inner = LocalDaskExecutor("threads", num_workers=1)
        self.max_inflight, self.refill_at = max_inflight, refill_at
        self.runs_inline, self.inflight, self.seen, self.lock = False, 0, [], threading.Lock()

    def start(self):
        return self.inner.start()

    def event_sink(self, emit):
        return emit

    def submit_then(self, callback, fn, *args, **kwargs):
        with self.lock:
            self.seen.append(self.inflight)
            self.inflight += 1

        def done(future):
            with self.lock:
                self.inflight -= 1
            callback(future)

        self.inner.submit_then(done, fn, *args, **kwargs)


@task
def nap_5ms(x):
    time.sleep(0.005)
    return x


@pytest.mark.parametrize("refill_at", [None, 2])
def test_with_refill_at_new_runs_go_out_in_batches(refill_at):
    executor = _CountingThreads(max_inflight=4, refill_at=refill_at)
    with Flow("batches") as flow:
        out = nap_5ms.map(list(range(30)))
    state = flow.run(executor=executor)
    assert state.result[out].result == list(range(30))
    assert max(executor.seen) == 3  # never more than the cap in flight
    pairs = list(zip(executor.seen, executor.seen[1:]))
    if refill_at is None:  # one in, one out
        assert (3, 3) in pairs
    else:  # a burst starts only once at most two are in flight, then fills to the cap
        assert (3, 3) not in pairs and pairs.count((2, 3)) >= 5
