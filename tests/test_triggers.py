"""Triggers (perfect_nb.engine.triggers): pure functions over upstream states, and in a flow."""

from __future__ import annotations

import pytest

from perfect_nb import Flow, context, task, triggers
from perfect_nb.core.edge import Edge
from perfect_nb.core.task import Task
from perfect_nb.engine import signals
from perfect_nb.engine.state import (
    Cancelled, Failed, Looped, Mapped, Paused, Pending, Retrying, Running, Skipped, Success,
    TimedOut, TriggerFailed,
)

RUN, FAIL, SKIP, PAUSE = "run", "TRIGGERFAIL", "SKIP", "PAUSE"


def upstream(*states):
    """One edge per state, each from its own upstream task."""
    down = Task(name="down")
    return {Edge(Task(name=f"up{i}"), down, key=None): s for i, s in enumerate(states)}


def outcome(trigger, states: dict) -> str:
    try:
        assert trigger(states) is True
        return RUN
    except signals.TRIGGERFAIL:
        return FAIL
    except signals.SKIP:
        return SKIP
    except signals.PAUSE:
        return PAUSE


S, F, K = Success, Failed, Skipped  # short names for the tables

TABLE = [
    # trigger, upstream states, outcome
    ("all_successful", [], RUN),
    ("all_successful", [S(), S()], RUN),
    ("all_successful", [S(), K()], RUN),
    ("all_successful", [S(), F()], FAIL),
    ("all_successful", [TriggerFailed()], FAIL),
    ("all_successful", [Cancelled()], FAIL),
    ("all_successful", [Mapped(map_states=[S(), S()])], RUN),
    ("all_successful", [Mapped(map_states=[S(), F()])], FAIL),
    ("all_finished", [S(), F(), K(), Cancelled(), Looped()], RUN),
    ("all_finished", [S(), Pending()], FAIL),
    ("all_finished", [Running()], FAIL),
    ("all_finished", [Mapped(map_states=[S(), Retrying()])], FAIL),
    ("always_run", [F(), TimedOut()], RUN),
    ("all_failed", [], RUN),
    ("all_failed", [F(), TriggerFailed(), TimedOut()], RUN),
    ("all_failed", [F(), S()], FAIL),
    ("all_failed", [F(), K()], FAIL),
    ("all_failed", [Mapped(map_states=[F(), F()])], RUN),
    ("all_failed", [Mapped(map_states=[F(), S()])], FAIL),
    ("any_successful", [], RUN),
    ("any_successful", [F(), S()], RUN),
    ("any_successful", [F(), K()], RUN),
    ("any_successful", [F(), F()], FAIL),
    ("any_successful", [F(), Mapped(map_states=[F(), S()])], RUN),
    ("any_successful", [Mapped(map_states=[F(), F()])], FAIL),
    ("any_failed", [], RUN),
    ("any_failed", [S(), F()], RUN),
    ("any_failed", [S(), K()], FAIL),
    ("any_failed", [Mapped(map_states=[S(), F()])], RUN),
    ("any_failed", [Mapped(map_states=[S(), S()])], FAIL),
    ("not_all_skipped", [K(), S()], RUN),
    ("not_all_skipped", [S()], RUN),
    ("not_all_skipped", [K(), K()], SKIP),
    ("not_all_skipped", [], SKIP),
    ("not_all_skipped", [K(), F()], FAIL),
    ("not_all_skipped", [Mapped(map_states=[K(), K()])], SKIP),
    ("not_all_skipped", [Mapped(map_states=[K(), S()])], RUN),
    ("manual_only", [], PAUSE),
    ("manual_only", [S()], PAUSE),
    ("manual_only", [F()], PAUSE),
]


@pytest.mark.parametrize(
    "name, states, expected", TABLE,
    ids=[f"{name}-{'+'.join(type(s).__name__ for s in states) or 'none'}" for name, states, _ in TABLE],
)
def test_trigger_table(name, states, expected):
    assert outcome(getattr(triggers, name), upstream(*states)) == expected


def test_always_run_is_all_finished():
    assert triggers.always_run is triggers.all_finished


def test_manual_only_runs_when_resumed_through_the_context():
    with context(resume=True):
        assert triggers.manual_only(upstream(S())) is True


def test_trigger_failure_messages_name_the_trigger():
    with pytest.raises(signals.TRIGGERFAIL, match='"all_failed"'):
        triggers.all_failed(upstream(S()))
    with pytest.raises(signals.TRIGGERFAIL, match=r'"some_successful" \(at_least=3'):
        triggers.some_successful(at_least=3)(upstream(S()))


def test_skip_from_not_all_skipped_carries_a_none_result():
    """Prefect 1.4.1: not_all_skipped raises SKIP('All upstreams were skipped') whose state's result is None."""
    with pytest.raises(signals.SKIP, match="All upstreams were skipped") as info:
        triggers.not_all_skipped(upstream(K()))
    assert info.value.state.result is None


# --- counting triggers --------------------------------------------------------
COUNTING = [
    # factory, kwargs, upstream states, outcome
    ("some_successful", {"at_least": 2}, [S(), S(), F()], RUN),
    ("some_successful", {"at_least": 3}, [S(), S(), F()], FAIL),
    ("some_successful", {"at_most": 1}, [S(), S(), F()], FAIL),
    ("some_successful", {"at_most": 2}, [S(), S(), F()], RUN),
    ("some_successful", {"at_least": 1, "at_most": 1}, [S(), F()], RUN),
    ("some_successful", {"at_least": 0.5}, [S(), F()], RUN),
    ("some_successful", {"at_least": 0.6}, [S(), F()], FAIL),
    ("some_successful", {"at_most": 0.5}, [S(), S(), F(), F()], RUN),
    ("some_successful", {"at_most": 0.25}, [S(), S(), F(), F()], FAIL),
    ("some_successful", {"at_least": 1}, [K(), F()], RUN),  # skips count as successes
    ("some_successful", {}, [F(), F()], RUN),
    ("some_successful", {"at_least": 5}, [], RUN),  # nothing upstream: runs
    ("some_successful", {"at_least": 3}, [Mapped(map_states=[S(), S()]), S()], RUN),
    ("some_successful", {"at_least": 0.5}, [Mapped(map_states=[F(), F(), F()]), S()], FAIL),
    ("some_failed", {"at_least": 1}, [S(), F()], RUN),
    ("some_failed", {"at_least": 2}, [S(), F()], FAIL),
    ("some_failed", {"at_most": 0}, [S(), F()], FAIL),
    ("some_failed", {"at_most": 0}, [S(), K()], RUN),
    ("some_failed", {"at_least": 0.5}, [S(), TriggerFailed()], RUN),
    ("some_failed", {"at_most": 0.5}, [F(), F(), S()], FAIL),
    ("some_failed", {"at_least": 2}, [Mapped(map_states=[F(), S(), F()])], RUN),
    ("some_failed", {"at_least": 1}, [], RUN),
]


@pytest.mark.parametrize(
    "factory, kwargs, states, expected", COUNTING,
    ids=[f"{f}-{k}-{'+'.join(type(s).__name__ for s in st) or 'none'}" for f, k, st, _ in COUNTING],
)
def test_counting_triggers(factory, kwargs, states, expected):
    trigger = getattr(triggers, factory)(**kwargs)
    assert trigger.__name__ == factory
    assert outcome(trigger, upstream(*states)) == expected


def test_one_upstream_task_on_several_edges_counts_once():
    up, down = Task(name="up"), Task(name="down")
    state = Success()
    # a data edge and an ordering edge from the same task carry the same state object
    shared = {Edge(up, down, key="x"): state, Edge(up, down): state}
    assert outcome(triggers.some_successful(at_least=2), shared) == FAIL
    assert outcome(triggers.some_successful(at_least=1, at_most=1), shared) == RUN


def test_mapped_children_count_one_by_one():
    children = [S(), F(), F(), S(), S()]
    states = upstream(Mapped(map_states=children))
    assert outcome(triggers.some_successful(at_least=3, at_most=3), states) == RUN
    assert outcome(triggers.some_failed(at_least=2, at_most=2), states) == RUN
    assert outcome(triggers.some_failed(at_most=0.3), states) == FAIL  # 2 of 5 > 1.5


# --- in a flow ----------------------------------------------------------------------
@task
def explode():
    raise ValueError("upstream broke")


@task
def fine():
    return "ok"


def _after(trigger, *upstream_tasks):
    @task(trigger=trigger)
    def after():
        return "ran"

    return after(upstream_tasks=list(upstream_tasks))


@pytest.mark.parametrize(
    "trigger, ups, expected",
    [
        (triggers.all_failed, "f", Success),
        (triggers.all_successful, "f", TriggerFailed),
        (None, "f", TriggerFailed),  # the default is all_successful
        (triggers.all_finished, "fs", Success),
        (triggers.any_failed, "fs", Success),
        (triggers.any_successful, "ff", TriggerFailed),
        (triggers.some_failed(at_least=2), "ffs", Success),
        (triggers.some_successful(at_least=2), "ffs", TriggerFailed),
        (triggers.manual_only, "s", Paused),
    ],
    ids=lambda v: getattr(v, "__name__", v if isinstance(v, str) else None),
)
def test_trigger_in_a_flow(trigger, ups, expected):
    with Flow("triggers") as flow:
        upstream_tasks = [explode() if kind == "f" else fine() for kind in ups]
        after = _after(trigger, *upstream_tasks)
    state = flow.run().result[after]
    assert type(state) is expected
    if expected is Success:
        assert state.result == "ran"
    if expected is TriggerFailed:
        assert "Trigger was" in state.message


def test_cleanup_after_failure_runs_and_reference_tasks_decide_the_flow():
    ran = []

    @task(trigger=triggers.always_run)
    def cleanup():
        ran.append("cleanup")

    with Flow("cleanup") as flow:
        work = explode()
        done = cleanup(upstream_tasks=[work])
    state = flow.run()
    assert ran == ["cleanup"]
    assert type(state.result[work]) is Failed
    assert type(state.result[done]) is Success
    assert state.is_successful()  # the terminal task succeeded
    flow.set_reference_tasks([work])
    assert flow.run().is_failed()
