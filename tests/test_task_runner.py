"""TaskRunner on its own: one task, given upstream states and context, through its states.

Every transition is recorded twice, through a state handler and through the
``emit`` callback the flow runner uses for events; both must see the same
sequence.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from perfect_nb import Task, context, task
from perfect_nb.core.edge import Edge
from perfect_nb.engine import signals
from perfect_nb.engine.state import (
    Cancelled, Failed, Looped, Mapped, Paused, Pending, Resume, Retrying, Running,
    Scheduled, Skipped, Success, TimedOut, TriggerFailed, ValidationFailed,
)
from perfect_nb.engine.task_runner import TaskRunner, TaskTimeoutError
from perfect_nb.triggers import all_failed, any_failed, manual_only

UPSTREAM_SKIPPED = (
    "Upstream task was skipped; if this was not the intended behavior, "
    "consider changing `skip_on_upstream_skip=False` for this task."
)
ALL_SUCCESSFUL_FAILED = 'Trigger was "all_successful" but some of the upstream tasks failed.'
STARTED = ("Pending", "Running", "Starting task run.")


class Recorder:
    """Collects transitions as (old type, new type, new message) from a handler and from emit."""

    def __init__(self) -> None:
        self.handled: list[tuple] = []
        self.emitted: list[tuple] = []
        self.emitted_states: list = []

    def handler(self, task, old, new):
        self.handled.append((old.type, new.type, new.message))

    def emit(self, old, new):
        self.emitted.append((old.type, new.type, new.message))
        self.emitted_states.append(new)

    @property
    def sequence(self) -> list[tuple]:
        assert self.handled == self.emitted, "state handlers and events saw different transitions"
        return self.handled


def run(task_, rec: Recorder | None = None, **kwargs):
    """Run ``task_`` standalone with a recording handler and emit."""
    rec = rec if rec is not None else Recorder()
    return TaskRunner(task_, state_handlers=[rec.handler]).run(emit=rec.emit, **kwargs), rec


def edge_into(task_, key=None, name="up"):
    return Edge(Task(name=name), task_, key=key)



# --- success and failure ----------------------------------------------------

def test_success_transitions_and_result():
    @task
    def add(x, y):
        return x + y

    state, rec = run(add, inputs={"x": 1, "y": 2})
    assert type(state) is Success and state.result == 3
    assert rec.sequence == [STARTED, ("Running", "Success", "Task run succeeded.")]


def test_each_emitted_state_gets_a_timestamp_in_order():
    before = time.time()
    state, rec = run(task(lambda: 1, name="one"))
    stamps = [s._timestamp for s in rec.emitted_states]  # private: Prefect 1 states have no timestamp
    assert all(s is not None for s in stamps)
    assert before <= stamps[0] <= stamps[1] <= time.time()


def test_failure_message_and_exception_result():
    error = ValueError("no data")

    @task
    def fails():
        raise error

    state, rec = run(fails)
    assert type(state) is Failed
    assert state.message == "Error during execution of task: ValueError('no data')"
    assert state.result is error
    assert rec.sequence == [STARTED, ("Running", "Failed", state.message)]


def test_failure_is_logged_once_at_error(perfect_nb_log):
    @task
    def broken():
        raise KeyError("k")

    run(broken)
    errors = [r for r in perfect_nb_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "KeyError" in errors[0].getMessage()


def test_upstream_results_are_passed_by_edge_key():
    @task
    def add(x, y):
        return x + y

    up = {edge_into(add, "x"): Success(result=40), edge_into(add, "y", "other"): Success(result=2)}
    state, _ = run(add, upstream_states=up)
    assert state.result == 42


def test_mapped_upstream_on_an_unmapped_edge_gives_the_list_of_child_results():
    @task
    def total(xs):
        return sum(xs)

    mapped = Mapped(map_states=[Success(result=1), Success(result=2)])
    state, _ = run(total, upstream_states={edge_into(total, "xs"): mapped})
    assert state.result == 3


# --- signals ----------------------------------------------------------------

@pytest.mark.parametrize(
    "signal, state_type",
    [
        (signals.FAIL, Failed),
        (signals.SUCCESS, Success),
        (signals.SKIP, Skipped),
        (signals.RETRY, Retrying),
        (signals.PAUSE, Paused),
        (signals.TRIGGERFAIL, TriggerFailed),
        (signals.VALIDATIONFAIL, ValidationFailed),
    ],
)
def test_a_signal_raised_in_the_task_chooses_its_state(signal, state_type):
    @task
    def signalling():
        raise signal("chosen by the task")

    state, rec = run(signalling)
    assert type(state) is state_type
    assert state.message == "chosen by the task"
    assert rec.sequence == [STARTED, ("Running", state_type.__name__, "chosen by the task")]


@pytest.mark.parametrize("signal", [signals.FAIL, signals.TRIGGERFAIL, signals.VALIDATIONFAIL, signals.PAUSE])
def test_failing_signals_carry_the_signal_as_result(signal):
    raised = signal("why")

    @task
    def signalling():
        raise raised

    state, _ = run(signalling)
    assert state.result is raised


@pytest.mark.parametrize("signal", [signals.SUCCESS, signals.SKIP])
def test_success_and_skip_signals_carry_the_given_result(signal):
    @task
    def signalling():
        raise signal("done early", result={"rows": 0})

    state, _ = run(signalling)
    assert state.result == {"rows": 0}


def test_retry_signal_retries_even_without_max_retries():
    """Prefect 1.4.1: RETRY("not yet") gives Retrying at once (start_time now, retry_delay is for
    failures), run_count 1, result the RETRY itself."""
    @task(retry_delay=dt.timedelta(seconds=30))
    def again():
        raise signals.RETRY("not yet")

    before = dt.datetime.now(dt.timezone.utc)
    state, _ = run(again)
    assert type(state) is Retrying and state.run_count == 1 and isinstance(state.result, signals.RETRY)
    assert before <= state.start_time <= dt.datetime.now(dt.timezone.utc)


def test_loop_signal_reruns_with_loop_count_and_result_in_context():
    seen = []

    @task
    def countdown():
        n, previous = context.task_loop_count, context.get("task_loop_result")
        seen.append((n, previous))
        if n < 3:
            raise signals.LOOP(result=(previous or 0) + 10)
        return previous

    state, rec = run(countdown)
    assert type(state) is Success and state.result == 20
    assert seen == [(1, None), (2, 10), (3, 20)]
    assert [(old, new) for old, new, _ in rec.sequence] == [
        ("Pending", "Running"), ("Running", "Looped"), ("Looped", "Pending"),
        ("Pending", "Running"), ("Running", "Looped"), ("Looped", "Pending"),
        ("Pending", "Running"), ("Running", "Success"),
    ]
    pending = [message for _, new, message in rec.sequence[1:] if new == "Pending"]
    assert pending == ["Looping task (on loop index 1)", "Looping task (on loop index 2)"]
    looped = [s for s in rec.emitted_states if type(s) is Looped]
    assert [s.loop_count for s in looped] == [1, 2] and [s.result for s in looped] == [10, 20]
    assert [s.message for s in looped] == ["Task is looping (1)", "Task is looping (2)"]


def test_a_looping_task_that_retries_resumes_at_the_failed_iteration():
    seen = []

    @task(max_retries=1, retry_delay=0)
    def flaky_loop():
        n, previous = context.task_loop_count, context.get("task_loop_result")
        seen.append((context.task_run_count, n, previous))
        if n == 2 and context.task_run_count == 1:
            raise ConnectionError("lost it")
        if n < 3:
            raise signals.LOOP(result=(previous or 0) + n)
        return previous

    state, _ = run(flaky_loop)
    assert type(state) is Retrying
    state, _ = run(flaky_loop, state=state)
    assert type(state) is Success and state.result == 3
    assert seen == [(1, 1, None), (1, 2, 1), (2, 2, 1), (2, 3, 3)]


def test_resume_sets_resume_in_context():
    @task
    def needs_approval():
        if not context.get("resume"):
            raise signals.PAUSE("approve me")
        return "approved"

    paused, _ = run(needs_approval)
    assert type(paused) is Paused
    resumed, _ = run(needs_approval, state=Resume())
    assert type(resumed) is Success and resumed.result == "approved"


# --- upstream states and triggers ----------------------------------------------

@pytest.mark.parametrize("upstream", [Pending(), Running(), Scheduled(), Retrying(), Paused()])
def test_an_unfinished_upstream_leaves_the_task_pending(upstream):
    calls = []
    t = task(lambda: calls.append(1), name="waits")
    state, rec = run(t, upstream_states={edge_into(t): upstream})
    assert type(state) is Pending and rec.sequence == [] and calls == []


def test_an_unfinished_child_of_a_mapped_upstream_leaves_a_reduce_pending():
    t = task(lambda xs: xs, name="reduce")
    mapped = Mapped(map_states=[Success(result=1), Pending()])
    state, rec = run(t, upstream_states={edge_into(t, "xs"): mapped})
    assert type(state) is Pending and rec.sequence == []


def test_trigger_failure_uses_prefects_message():
    t = task(lambda: 1, name="downstream")
    failed = Failed("upstream broke")
    state, rec = run(t, upstream_states={edge_into(t): failed, edge_into(t, name="ok"): Success()})
    assert type(state) is TriggerFailed and state.message == ALL_SUCCESSFUL_FAILED
    assert rec.sequence == [("Pending", "TriggerFailed", ALL_SUCCESSFUL_FAILED)]


def test_a_trigger_returning_false_fails_with_trigger_failed():
    t = task(lambda: 1, name="picky", trigger=lambda upstream: False)
    state, _ = run(t, upstream_states={edge_into(t): Success()})
    assert type(state) is TriggerFailed and state.message == "Trigger failed"


def test_a_trigger_raising_an_error_ends_trigger_failed_with_the_error():
    error = ZeroDivisionError("bad trigger")

    def trigger(upstream):
        raise error

    t = task(lambda: 1, name="picky", trigger=trigger)
    state, _ = run(t, upstream_states={edge_into(t): Success()})
    assert type(state) is TriggerFailed and state.result is error
    assert state.message == "Unexpected error while checking task trigger: ZeroDivisionError('bad trigger')"


@pytest.mark.parametrize(
    "trigger, upstream, runs",
    [
        (all_failed, Failed(), True),
        (all_failed, Success(), False),
        (any_failed, Failed(), True),
    ],
)
def test_other_triggers_decide_from_upstream_states(trigger, upstream, runs):
    t = task(lambda: "ran", name="handler", trigger=trigger)
    state, _ = run(t, upstream_states={edge_into(t): upstream})
    assert (type(state) is Success) is runs
    if not runs:
        assert type(state) is TriggerFailed


def test_manual_only_pauses_then_resume_runs_past_the_trigger():
    t = task(lambda: "resumed", name="approve", trigger=manual_only)
    upstream = {edge_into(t): Success()}
    paused, rec = run(t, upstream_states=upstream)
    assert type(paused) is Paused
    assert rec.sequence == [("Pending", "Paused", 'Trigger function is "manual_only"')]
    again, _ = run(t, state=paused, upstream_states=upstream)
    assert again is paused
    resumed, rec = run(t, state=Resume(), upstream_states=upstream)
    assert type(resumed) is Success and resumed.result == "resumed"
    assert rec.sequence[0][:2] == ("Resume", "Running")


def test_an_upstream_skip_skips_the_task():
    calls = []
    t = task(lambda: calls.append(1), name="after_skip")
    state, rec = run(t, upstream_states={edge_into(t): Skipped("nothing to do")})
    assert type(state) is Skipped and state.message == UPSTREAM_SKIPPED and calls == []
    assert rec.sequence == [("Pending", "Skipped", UPSTREAM_SKIPPED)]


def test_a_skipped_child_of_a_mapped_upstream_skips_a_reduce():
    t = task(lambda xs: xs, name="reduce")
    mapped = Mapped(map_states=[Success(result=1), Skipped()])
    state, _ = run(t, upstream_states={edge_into(t, "xs"): mapped})
    assert type(state) is Skipped and state.message == UPSTREAM_SKIPPED


def test_skip_on_upstream_skip_false_runs_with_the_skipped_result():
    t = task(lambda x: ("ran", x), name="runs_anyway", skip_on_upstream_skip=False)
    state, _ = run(t, upstream_states={edge_into(t, "x"): Skipped(result=None)})
    assert type(state) is Success and state.result == ("ran", None)


# --- states that do not run ---------------------------------------------------

@pytest.mark.parametrize("given", [Success(result=1), Failed(), Running(), Cancelled(), Paused()])
def test_a_task_not_pending_is_returned_unchanged(given):
    calls = []
    state, rec = run(task(lambda: calls.append(1), name="done"), state=given)
    assert state is given and rec.sequence == [] and calls == []


def test_a_scheduled_state_waits_for_its_start_time():
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    t = task(lambda: 1, name="later")
    waiting = Scheduled(start_time=later)
    assert run(t, state=waiting)[0] is waiting
    due = Scheduled(start_time=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    assert type(run(t, state=due)[0]) is Success


# --- timeouts -----------------------------------------------------------------

def test_a_task_running_past_its_timeout_is_timed_out():
    @task(timeout=0.2)
    def slow():
        time.sleep(3)

    start = time.monotonic()
    state, rec = run(slow)
    assert time.monotonic() - start < 2
    assert type(state) is TimedOut and state.message.startswith("Task timed out during execution (timeout: 0.2 s).")
    assert "may still be running in this process" in state.message and "LocalDaskExecutor('processes')" in state.message
    assert isinstance(state.result, TaskTimeoutError)
    assert rec.sequence == [STARTED, ("Running", "TimedOut", state.message)]


def test_a_task_finishing_within_its_timeout_succeeds_with_its_context():
    @task(timeout=5)
    def quick(x):
        return x, context.task_name

    state, _ = run(quick, inputs={"x": 7})
    assert type(state) is Success and state.result == (7, "quick")


def test_an_error_inside_a_timed_task_is_a_plain_failure():
    @task(timeout=5)
    def broken():
        raise ValueError("inside")

    state, _ = run(broken)
    assert type(state) is Failed and isinstance(state.result, ValueError)


# --- retries ----------------------------------------------------------------

def test_a_failure_with_retries_left_becomes_retrying():
    @task(max_retries=2, retry_delay=dt.timedelta(seconds=10))
    def flaky():
        raise ValueError("x")

    before = dt.datetime.now(dt.timezone.utc)
    state, rec = run(flaky)
    assert type(state) is Retrying and state.run_count == 1
    assert state.message == "Retrying Task (after attempt 1 of 3)"
    assert state.result is None  # Prefect 1.4.1: the Retrying state holds no result (the Failed before it did)
    assert before + dt.timedelta(seconds=10) <= state.start_time <= before + dt.timedelta(seconds=11)
    assert rec.sequence == [
        STARTED,
        ("Running", "Failed", "Error during execution of task: ValueError('x')"),
        ("Failed", "Retrying", "Retrying Task (after attempt 1 of 3)"),
    ]


def test_retries_count_runs_and_stop_after_max_retries():
    counts = []

    @task(max_retries=2, retry_delay=0)
    def flaky(x):
        counts.append((context.task_run_count, x))
        raise ValueError(x)

    state, _ = run(flaky, inputs={"x": "cached"})
    assert state.message == "Retrying Task (after attempt 1 of 3)"
    state, _ = run(flaky, state=state, inputs={"x": "ignored: cached inputs win"})
    assert type(state) is Retrying and state.run_count == 2
    assert state.message == "Retrying Task (after attempt 2 of 3)"
    state, rec = run(flaky, state=state)
    assert type(state) is Failed
    assert counts == [(1, "cached"), (2, "cached"), (3, "cached")]
    assert rec.sequence[0][:2] == ("Retrying", "Running")


def test_a_retrying_state_not_yet_due_does_not_run():
    calls = []
    t = task(lambda: calls.append(1), name="later", max_retries=1, retry_delay=60)
    waiting = Retrying(start_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1), run_count=1)
    state, rec = run(t, state=waiting)
    assert state is waiting and calls == [] and rec.sequence == []


@pytest.mark.parametrize(
    "raised, retry_on, retries",
    [
        (ValueError("v"), ValueError, True),
        (KeyError("k"), [ValueError, KeyError], True),
        (TypeError("t"), ValueError, False),
        (signals.FAIL("f"), ValueError, False),
        (signals.FAIL("f"), None, True),
    ],
)
def test_retry_on_filters_which_errors_retry(raised, retry_on, retries):
    @task(max_retries=1, retry_delay=0, retry_on=retry_on)
    def flaky():
        raise raised

    state, _ = run(flaky)
    assert (type(state) is Retrying) is retries
    if not retries:
        assert isinstance(state, Failed) and state.result is raised


@pytest.mark.parametrize("signal, state_type", [(signals.VALIDATIONFAIL, ValidationFailed), (signals.TRIGGERFAIL, TriggerFailed)])
def test_failed_subclasses_raised_by_the_task_are_retried_like_prefect(signal, state_type):
    @task(max_retries=1, retry_delay=0)
    def flaky():
        raise signal("bad output")

    state, rec = run(flaky)
    assert type(state) is Retrying
    assert rec.sequence[1][1] == state_type.__name__


def test_a_timed_out_task_is_retried():
    @task(timeout=0.1, max_retries=1, retry_delay=0)
    def slow():
        time.sleep(2)

    state, rec = run(slow)
    assert type(state) is Retrying
    assert [new for _, new, _ in rec.sequence] == ["Running", "TimedOut", "Retrying"]


# --- state handlers and on_failure ---------------------------------------------

def test_a_state_handler_can_replace_the_new_state():
    def rewrite(task_, old, new):
        if type(new) is Failed:
            return Success("forgiven", result="fallback")
        return None

    @task(state_handlers=[rewrite])
    def fails():
        raise ValueError("x")

    state, rec = run(fails)
    assert type(state) is Success and state.result == "fallback"
    assert state._timestamp is not None
    assert rec.sequence[-1] == ("Running", "Success", "forgiven")


def test_handlers_are_chained_task_handlers_first():
    seen = []

    def first(task_, old, new):
        seen.append(("task", new.type))
        return Success("from task handler", result=1) if new.is_successful() else None

    def second(task_, old, new):
        seen.append(("runner", new.message))

    t = task(lambda: 0, name="chained", state_handlers=[first])
    TaskRunner(t, state_handlers=[second]).run()
    assert seen == [("task", "Running"), ("runner", "Starting task run."), ("task", "Success"), ("runner", "from task handler")]


def test_runner_handlers_get_the_runner_and_task_handlers_get_the_task():
    owners = []
    t = task(lambda: 1, name="owned", state_handlers=[lambda owner, old, new: owners.append(("task", owner))])
    runner = TaskRunner(t, state_handlers=[lambda owner, old, new: owners.append(("runner", owner))])
    runner.run()
    assert owners == [("task", t), ("runner", runner)] * 2
    assert repr(runner) == "<TaskRunner: owned>"


def test_on_failure_runs_after_task_handlers_and_before_runner_handlers():
    order = []
    t = task(
        lambda: 1 / 0, name="ordered",
        state_handlers=[lambda t_, old, new: order.append("task") if new.is_failed() else None],
        on_failure=lambda t_, s: order.append("on_failure"),
    )
    TaskRunner(t, state_handlers=[lambda r, old, new: order.append("runner") if new.is_failed() else None]).run()
    assert order == ["task", "on_failure", "runner"]


def test_a_handler_raising_fails_the_run_without_running_the_task(perfect_nb_log):
    calls = []

    def explode(task_, old, new):
        if type(new) is Running:
            raise RuntimeError("handler bug")

    @task(state_handlers=[explode])
    def body():
        calls.append(1)

    state, rec = run(body)
    assert type(state) is Failed
    assert state.message == "Exception raised while calling state handlers: RuntimeError('handler bug')"
    assert isinstance(state.result, RuntimeError)
    assert calls == []
    assert rec.emitted == [("Pending", "Failed", state.message)]
    assert any("handler bug" in r.getMessage() or "handler bug" in (r.exc_text or "") for r in perfect_nb_log.records)


def test_a_handler_raising_on_success_turns_it_into_failed():
    def explode(task_, old, new):
        if type(new) is Success:
            raise RuntimeError("late")

    state, _ = run(task(lambda: 1, name="late", state_handlers=[explode]))
    assert type(state) is Failed and state._timestamp is not None
    assert state.message == "Exception raised while calling state handlers: RuntimeError('late')"


def test_a_handler_failure_ends_the_run_without_retrying():
    def explode(task_, old, new):
        if type(new) is Success:
            raise RuntimeError("late")

    @task(max_retries=2, retry_delay=0, state_handlers=[explode])
    def body():
        return 1

    state, rec = run(body)
    assert type(state) is Failed
    assert rec.emitted[-1] == ("Running", "Failed", "Exception raised while calling state handlers: RuntimeError('late')")


def test_a_handler_raising_a_signal_chooses_that_state():
    calls = []

    def skip_it(task_, old, new):
        if type(new) is Running:
            raise signals.SKIP("skipped by a handler")

    @task(state_handlers=[skip_it])
    def body():
        calls.append(1)

    state, rec = run(body)
    assert type(state) is Skipped and state.message == "skipped by a handler"
    assert calls == [] and rec.emitted == [("Pending", "Skipped", "skipped by a handler")]


def test_on_failure_is_called_once_with_the_failed_state():
    calls = []

    @task(on_failure=lambda t, s: calls.append((t, s)))
    def fails():
        raise ValueError("x")

    state, _ = run(fails)
    assert calls == [(fails, state)]


def test_on_failure_is_not_called_on_success_or_skip():
    calls = []

    def skips():
        raise signals.SKIP("nothing to do")

    for body in (lambda: 1, skips):
        run(task(body, name="fine", on_failure=lambda t, s: calls.append(s)))
    assert calls == []


# --- logging, names and context -----------------------------------------------

def test_log_stdout_sends_prints_to_the_task_logger(perfect_nb_log, capsys):
    @task(log_stdout=True)
    def chatty():
        print("first line")
        print("second", "line")
        return 1

    state, _ = run(chatty)
    assert state.result == 1
    lines = [(r.name, r.getMessage()) for r in perfect_nb_log.records]
    assert ("perfect_nb.chatty", "first line") in lines
    assert ("perfect_nb.chatty", "second line") in lines
    assert "first line" not in capsys.readouterr().out


def test_log_stdout_keeps_a_last_line_without_newline_and_drops_blank_lines(perfect_nb_log):
    @task(log_stdout=True)
    def chatty():
        print("a\n\n  \nb")
        print("no newline", end="")
        import sys

        assert not sys.stdout.isatty()

    state, _ = run(chatty)
    assert type(state) is Success
    assert [r.getMessage() for r in perfect_nb_log.records] == ["a", "b", "no newline"]


def test_without_log_stdout_prints_go_to_stdout(perfect_nb_log, capsys):
    run(task(lambda: print("plain print"), name="quiet"))
    assert "plain print" in capsys.readouterr().out
    assert not any("plain print" in r.getMessage() for r in perfect_nb_log.records)


def test_log_stdout_with_timeout_also_captures(perfect_nb_log):
    @task(log_stdout=True, timeout=5)
    def chatty():
        print("from the timeout thread")

    run(chatty)
    assert any(r.getMessage() == "from the timeout thread" for r in perfect_nb_log.records)


@pytest.mark.parametrize(
    "template, expected",
    [
        ("load-{x}", "load-7"),
        ("{task_name}-{x}-{map_index}", "named-7-None"),
        ("{day}", "monday"),
        (lambda x, **kw: f"callable-{x}", "callable-7"),
    ],
)
def test_task_run_name_is_formatted_from_inputs_and_context(template, expected):
    @task(name="named", task_run_name=template)
    def named(x):
        return context.get("task_run_name")

    state, _ = run(named, inputs={"x": 7}, context={"parameters": {"day": "monday"}})
    assert state.result == expected


def test_a_bad_task_run_name_fails_through_a_transition():
    @task(task_run_name="{missing}")
    def named():
        return 1

    state, rec = run(named)
    assert type(state) is Failed and "missing" in state.message
    assert rec.sequence == [("Pending", "Failed", state.message)]


def test_context_keys_in_a_standalone_run():
    @task(name="ctx", tags=["a"])
    def read():
        keys = ["task_name", "task_full_name", "task_tags", "map_index", "task_run_id", "task_run_count", "user_key"]
        return {k: context.get(k) for k in keys}

    read.slug = "ctx-slug"
    state, _ = run(read, context={"user_key": "given"}, map_index=2, task_run_id="run-1")
    assert state.result == {
        "task_name": "ctx", "task_full_name": "ctx[2]", "task_tags": {"a"}, "map_index": 2,
        "task_run_id": "run-1", "task_run_count": 1, "user_key": "given",
    }
    assert context.get("task_name") is None, "the run context must not leak out of run()"


def test_context_logger_is_the_task_logger(perfect_nb_log):
    @task
    def logs():
        context.get("logger").info("hello from the task")

    run(logs)
    assert [(r.name, r.getMessage()) for r in perfect_nb_log.records] == [("perfect_nb.logs", "hello from the task")]


def test_debug_level_logs_each_task_run(perfect_nb_log):
    perfect_nb_log.set_level(logging.DEBUG, logger="perfect_nb")
    run(task(lambda: 1, name="traced"))
    messages = [r.getMessage() for r in perfect_nb_log.records if r.name == "perfect_nb.traced"]
    assert any("Starting task run" in m for m in messages)
    assert any("Success" in m for m in messages)


def test_info_level_logs_nothing_for_a_successful_task(perfect_nb_log):
    run(task(lambda: 1, name="silent"))
    assert perfect_nb_log.records == []
