"""Looping (LOOP), pausing (PAUSE, manual_only), resuming and re-running a flow from earlier states.

Each test runs a real flow, counts the executions of task bodies with side
effects and checks the exact states (and, for loops, the event sequence seen by
a listener).
"""

import collections
import datetime as dt

import pytest

from perfect_nb import Flow, Parameter, context, task, triggers
from perfect_nb.engine.signals import LOOP, PAUSE
from perfect_nb.engine.state import (
    Failed, Looped, Mapped, Paused, Pending, Resume, Running, Success, TriggerFailed,
)

MANUAL_ONLY = 'Trigger function is "manual_only"'
NOT_FINISHED = "Running flow."  # Prefect 1.4.1: a flow with a paused terminal task stays in its Running state


@pytest.fixture
def runs():
    """Counts executions of task bodies, by label."""
    return collections.Counter()


def events_of(flow_events, t):
    return [e for e in flow_events if e.task is t]


# --- LOOP ------------------------------------------------------------------------


@pytest.fixture
def accumulate(runs):
    """Adds ``x`` to the previous iteration's result until ``n`` iterations ran."""
    seen = []

    @task
    def accumulate(x, n):
        runs["accumulate"] += 1
        count, previous = context.task_loop_count, context.get("task_loop_result")
        seen.append((count, previous))
        total = x + (previous or 0)
        if count < n:
            raise LOOP(result=total)
        return total

    accumulate.seen = seen
    return accumulate


def test_loop_reruns_the_task_with_count_and_result_in_context(accumulate, runs):
    downstream = []
    with Flow("loop") as flow:
        total = accumulate(10, 4)
        after = task(lambda v: downstream.append(v) or v * 2, name="after")(total)
    state = flow.run()
    assert type(state) is Success
    assert accumulate.seen == [(1, None), (2, 10), (3, 20), (4, 30)]
    assert runs["accumulate"] == 4
    final = state.result[total]
    assert type(final) is Success
    assert final.result == 40
    assert final.message == "Task run succeeded."
    assert downstream == [40]  # downstream sees only the final result, once
    assert state.result[after].result == 80


def test_loop_count_starts_over_in_a_new_flow_run(accumulate):
    with Flow("again") as flow:
        total = accumulate(1, 2)
    assert flow.run().result[total].result == 2
    assert flow.run().result[total].result == 2
    assert accumulate.seen == [(1, None), (2, 1), (1, None), (2, 1)]


def test_looped_transitions_are_in_the_event_sequence(accumulate):
    handler_states = []
    with Flow("events") as flow:
        total = accumulate(5, 3, task_args={"state_handlers": [lambda t, old, new: handler_states.append(new)]})
    events = []
    state = flow.run(listeners=[events.append])
    assert state.result[total].result == 15

    mine = events_of(events, total)
    looped = [e.new_state for e in mine if type(e.new_state) is Looped]
    assert [s.loop_count for s in looped] == [1, 2]
    assert [s.result for s in looped] == [5, 10]
    # every iteration enters Running; the last one ends Success
    assert sum(type(e.new_state) is Running for e in mine) == 3
    assert type(mine[0].old_state) is Pending and type(mine[0].new_state) is Running
    assert type(mine[-1].new_state) is Success and mine[-1].new_state.result == 15
    # each event's old state is the previous event's new state: one unbroken chain
    for before, after in zip(mine, mine[1:]):
        assert after.old_state is before.new_state
    assert [e.new_state for e in mine] == handler_states
    # the flow's own events frame the task's
    assert events[0].task is None and type(events[0].new_state) is Running
    assert events[-1].task is None and type(events[-1].new_state) is Success


def test_loop_iterations_pass_through_pending_as_in_prefect_1(accumulate):
    with Flow("prefect 1 sequence") as flow:
        total = accumulate(5, 3)
    events = []
    flow.run(listeners=[events.append])
    types = [e.new_state.type for e in events_of(events, total)]
    assert types == ["Running", "Looped", "Pending", "Running", "Looped", "Pending", "Running", "Success"]
    pending = [e.new_state for e in events_of(events, total) if type(e.new_state) is Pending]
    assert [p.message for p in pending] == ["Looping task (on loop index 1)", "Looping task (on loop index 2)"]


def test_loop_message_and_default_result():
    @task
    def pages():
        page = context.task_loop_count
        if page < 3:
            raise LOOP(f"fetched page {page}", result={"page": page})
        return context.task_loop_result

    with Flow("pages") as flow:
        p = pages()
    events = []
    state = flow.run(listeners=[events.append])
    looped = [e.new_state for e in events_of(events, p) if type(e.new_state) is Looped]
    assert [s.message for s in looped] == ["fetched page 1", "fetched page 2"]
    assert state.result[p].result == {"page": 2}


def test_each_mapped_child_loops_on_its_own(runs):
    @task
    def count_up(limit):
        runs[(context.map_index, context.task_loop_count)] += 1
        if context.task_loop_count < limit:
            raise LOOP(result=context.task_loop_count)
        return (limit, context.get("task_loop_result"))

    with Flow("mapped loop") as flow:
        out = count_up.map([1, 3, 2])
    state = flow.run()
    parent = state.result[out]
    assert type(parent) is Mapped
    assert [type(s) for s in parent.map_states] == [Success, Success, Success]
    assert parent.result == [(1, None), (3, 2), (2, 1)]
    assert runs == {(0, 1): 1, (1, 1): 1, (1, 2): 1, (1, 3): 1, (2, 1): 1, (2, 2): 1}


def test_a_retried_loop_resumes_at_the_iteration_that_failed(runs):
    failed_once = []

    @task(max_retries=1, retry_delay=0)
    def flaky_loop():
        count = context.task_loop_count
        runs[count] += 1
        if count == 3 and not failed_once:
            failed_once.append(True)
            raise ConnectionError("lost the connection on iteration 3")
        if count < 4:
            raise LOOP(result=(context.get("task_loop_result") or 0) + count)
        return context.task_loop_result

    with Flow("retry loop") as flow:
        t = flaky_loop()
    state = flow.run()
    assert type(state.result[t]) is Success
    assert state.result[t].result == 1 + 2 + 3
    assert runs == {1: 1, 2: 1, 3: 2, 4: 1}


# --- PAUSE and manual_only ----------------------------------------------------------------


@pytest.fixture
def approval_flow(runs):
    @task
    def extract():
        runs["extract"] += 1
        return [1, 2, 3]

    @task(trigger=triggers.manual_only)
    def load(rows):
        runs["load"] += 1
        return len(rows)

    @task
    def report(n):
        runs["report"] += 1
        return f"loaded {n}"

    with Flow("approval") as flow:
        rows = extract()
        loaded = load(rows)
        done = report(loaded)
    return flow, rows, loaded, done


def test_manual_only_pauses_and_the_flow_stays_running(approval_flow, runs):
    flow, rows, loaded, done = approval_flow
    state = flow.run()
    assert type(state) is Running
    assert state.message == NOT_FINISHED
    assert type(state.result[rows]) is Success
    assert type(state.result[loaded]) is Paused
    assert state.result[loaded].message == MANUAL_ONLY
    assert type(state.result[done]) is Pending  # never got to run
    assert runs == {"extract": 1}


def test_resume_runs_the_paused_task_and_what_follows(approval_flow, runs):
    flow, rows, loaded, done = approval_flow
    first = flow.run()
    states = {rows: first.result[rows], loaded: Resume("approved")}
    events = []
    second = flow.run(task_states=states, listeners=[events.append])
    assert type(second) is Success
    assert runs == {"extract": 1, "load": 1, "report": 1}  # extract did not run again
    assert second.result[rows] is first.result[rows]
    assert second.result[loaded].result == 3
    assert second.result[done].result == "loaded 3"
    transitions = [(e.old_state.type, e.new_state.type) for e in events_of(events, loaded)]
    assert transitions == [("Resume", "Running"), ("Running", "Success")]
    assert events_of(events, rows) == []  # a finished state given to the run emits nothing


def test_a_paused_state_given_again_stays_paused(approval_flow, runs):
    flow, rows, loaded, done = approval_flow
    first = flow.run()
    second = flow.run(task_states=first.result)
    assert type(second) is Running
    assert type(second.result[loaded]) is Paused
    assert type(second.result[done]) is Pending
    assert runs == {"extract": 1}


def test_resume_with_all_previous_states_including_pending_downstream(approval_flow, runs):
    flow, rows, loaded, done = approval_flow
    states = dict(flow.run().result)
    states[loaded] = Resume()
    second = flow.run(task_states=states)
    assert type(second) is Success
    assert second.result[done].result == "loaded 3"
    assert runs == {"extract": 1, "load": 1, "report": 1}


@pytest.fixture
def pausing_flow(runs):
    @task
    def prepare():
        runs["prepare"] += 1
        return "draft"

    @task
    def publish(doc):
        runs["publish"] += 1
        if not context.get("resume"):
            raise PAUSE("waiting for sign-off")
        return f"published {doc}"

    @task
    def announce(msg):
        runs["announce"] += 1
        return msg.upper()

    with Flow("sign-off") as flow:
        doc = prepare()
        pub = publish(doc)
        ann = announce(pub)
    return flow, doc, pub, ann


def test_pause_signal_gives_paused_and_the_flow_stays_running(pausing_flow, runs):
    flow, doc, pub, ann = pausing_flow
    events = []
    state = flow.run(listeners=[events.append])
    assert type(state) is Running
    assert state.message == NOT_FINISHED
    assert type(state.result[pub]) is Paused
    assert state.result[pub].message == "waiting for sign-off"
    assert type(state.result[ann]) is Pending
    assert runs == {"prepare": 1, "publish": 1}
    assert [(e.old_state.type, e.new_state.type) for e in events_of(events, pub)] == [("Pending", "Running"), ("Running", "Paused")]
    flow_events = [(e.old_state.type, e.new_state.type) for e in events if e.task is None]
    assert flow_events == [("Scheduled", "Running")]  # Prefect 1.4.1: no transition out of Running while paused


def test_resume_lets_a_task_that_raised_pause_finish(pausing_flow, runs):
    flow, doc, pub, ann = pausing_flow
    first = flow.run()
    second = flow.run(task_states={doc: first.result[doc], pub: Resume()})
    assert type(second.result[pub]) is Success
    assert second.result[ann].result == "PUBLISHED DRAFT"
    assert type(second) is Success
    assert runs == {"prepare": 1, "publish": 2, "announce": 1}


def test_a_paused_task_with_a_future_start_time_does_not_run(runs):
    @task
    def later():
        runs["later"] += 1
        return 1

    with Flow("later") as flow:
        t = later()
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    state = flow.run(task_states={t: Paused("until tomorrow", start_time=tomorrow)})
    assert type(state.result[t]) is Paused
    assert type(state) is Running
    assert runs == {}


# --- re-running a failed flow from its states ----------------------------------------------


@pytest.fixture
def flaky_flow(runs):
    """extract -> transform -> load, plus a map whose item 2 fails on the first run only."""
    fail_next = {"transform": True, ("square", 2): True}

    @task
    def extract():
        runs["extract"] += 1
        return 3

    @task
    def transform(x):
        runs["transform"] += 1
        if fail_next.pop("transform", False):
            raise ValueError("flaky transform")
        return x + 1

    @task
    def load(x):
        runs["load"] += 1
        return x * 10

    @task
    def square(n):
        runs[("square", n)] += 1
        if fail_next.pop(("square", n), False):
            raise ValueError(f"flaky square {n}")
        return n * n

    with Flow("flaky") as flow:
        e = extract()
        t = transform(e)
        ld = load(t)
        sq = square.map(Parameter("ns", default=[1, 2, 3]))
    return flow, e, t, ld, sq


def test_first_run_of_the_flaky_flow_fails(flaky_flow, runs):
    flow, e, t, ld, sq = flaky_flow
    state = flow.run()
    assert type(state) is Failed
    assert [type(state.result[x]) for x in (e, t, ld)] == [Success, Failed, TriggerFailed]
    assert [type(s) for s in state.result[sq].map_states] == [Success, Failed, Success]
    assert runs == {"extract": 1, "transform": 1, ("square", 1): 1, ("square", 2): 1, ("square", 3): 1}


def test_rerun_with_the_successful_states_reruns_only_what_failed(flaky_flow, runs):
    flow, e, t, ld, sq = flaky_flow
    first = flow.run()
    succeeded = {x: s for x, s in first.result.items() if s.is_successful() and x is not sq}
    second = flow.run(task_states=succeeded)
    assert type(second.result[t]) is Success and second.result[t].result == 4
    assert second.result[ld].result == 40
    assert runs["extract"] == 1  # kept from the first run
    assert runs["transform"] == 2 and runs["load"] == 1
    assert second.result[e] is first.result[e]
    assert type(second) is Success
    assert second.result[sq].result == [1, 4, 9]


def test_rerun_of_a_mapped_task_runs_only_children_that_have_not_finished(flaky_flow, runs):
    flow, e, t, ld, sq = flaky_flow
    first = flow.run()
    children = list(first.result[sq].map_states)
    children[1] = Pending("retry this item")
    second = flow.run(task_states={**first.result, t: Pending(), ld: Pending(), sq: Mapped(map_states=children)})
    assert [type(s) for s in second.result[sq].map_states] == [Success, Success, Success]
    assert second.result[sq].result == [1, 4, 9]
    assert runs[("square", 1)] == 1 and runs[("square", 3)] == 1
    assert runs[("square", 2)] == 2
    assert type(second) is Success


def test_rerun_with_all_previous_states_reruns_only_what_did_not_succeed(flaky_flow, runs):
    flow, e, t, ld, sq = flaky_flow
    first = flow.run()
    second = flow.run(task_states=first.result)
    assert type(second) is Success
    assert second.result[ld].result == 40
    assert second.result[sq].result == [1, 4, 9]
    assert runs == {
        "extract": 1, "transform": 2, "load": 1,
        ("square", 1): 1, ("square", 2): 2, ("square", 3): 1,
    }
