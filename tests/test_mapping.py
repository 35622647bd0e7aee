"""Mapping: one child task run per item, Mapped parents, reduce, flatten, failures and order."""

from __future__ import annotations

import datetime as dt

import pytest

from perfect_nb import Flow, Parameter, context, flatten, task, triggers, unmapped
from perfect_nb.engine import signals
from perfect_nb.engine.state import (
    Cancelled, Failed, Mapped, Pending, Skipped, Success, TriggerFailed,
)

NOTHING_TO_MAP = "No upstream states can be mapped over."
ALL_SUCCESSFUL_FAILED = 'Trigger was "all_successful" but some of the upstream tasks failed.'


@task
def inc(x):
    return x + 1


@task
def add(x, y):
    return x + y


@task
def total(xs):
    return sum(xs)


@task
def collect(xs):
    return list(xs)


@task
def numbers():
    return [1, 2, 3]


def types(states):
    return [type(s) for s in states]


# --- what can be mapped over -------------------------------------------------------

def test_map_over_a_list():
    with Flow("list") as flow:
        m = inc.map([1, 2, 3])
    state = flow.run()
    parent = state.result[m]
    assert type(parent) is Mapped and parent.message == "Ready to proceed with mapping."
    assert parent.result == [2, 3, 4]
    assert types(parent.map_states) == [Success] * 3
    assert [s.result for s in parent.map_states] == [2, 3, 4]
    assert parent.n_map_states == 3


def test_map_over_a_parameter():
    with Flow("parameter") as flow:
        xs = Parameter("xs", default=[1])
        m = inc.map(xs)
    assert flow.run().result[m].result == [2]
    assert flow.run(xs=[10, 20, 30]).result[m].result == [11, 21, 31]


def test_map_over_another_tasks_result():
    with Flow("result") as flow:
        m = inc.map(numbers())
    assert flow.run().result[m].result == [2, 3, 4]


def test_map_over_several_arguments_zips_them_to_the_shortest():
    with Flow("zip") as flow:
        m = add.map(numbers(), [10, 20])
    assert flow.run().result[m].result == [11, 22]


@pytest.mark.parametrize("as_task", [False, True])
def test_unmapped_passes_the_whole_value_to_every_child(as_task):
    with Flow("unmapped") as flow:
        y = task(lambda: 100, name="hundred")() if as_task else 100
        m = add.map([1, 2], unmapped(y))
        whole = task(lambda x, ys: (x, ys), name="pair").map([1, 2], unmapped([7, 8]))
    state = flow.run()
    assert state.result[m].result == [101, 102]
    assert state.result[whole].result == [(1, [7, 8]), (2, [7, 8])]


def test_flatten_a_list_of_lists():
    @task
    def nested():
        return [[1, 2], [], [3]]

    with Flow("flatten") as flow:
        m = inc.map(flatten(nested()))
    assert flow.run().result[m].result == [2, 3, 4]


def test_flatten_a_mapped_task_returning_lists():
    @task
    def repeat(x):
        return [x] * x

    with Flow("flatten mapped") as flow:
        lists = repeat.map([1, 2, 3])
        m = inc.map(flatten(lists))
        whole = collect(flatten(lists))
    state = flow.run()
    assert state.result[lists].result == [[1], [2, 2], [3, 3, 3]]
    assert state.result[m].result == [2, 3, 3, 4, 4, 4]
    assert state.result[whole].result == [1, 2, 2, 3, 3, 3]


def test_map_over_an_empty_list():
    with Flow("empty") as flow:
        m = inc.map([])
        reduced = collect(m)
    state = flow.run()
    assert type(state.result[m]) is Mapped and state.result[m].map_states == []
    assert state.result[m].result == []
    assert state.result[reduced].result == []
    assert type(state) is Success


def test_map_over_a_non_iterable_fails_with_a_clear_message():
    """Prefect 1.4.1: Failed("At least one upstream state has an unmappable result."); ours
    goes on to say which task gave what."""
    @task
    def scalar():
        return 5

    with Flow("scalar") as flow:
        s = scalar()
        m = inc.map(s)
        after = total(m)
    state = flow.run()
    failed = state.result[m]
    assert type(failed) is Failed
    assert failed.message.startswith("At least one upstream state has an unmappable result: task 'scalar' gave int")
    assert "unmapped()" in failed.message
    assert type(state.result[after]) is TriggerFailed
    assert type(state) is Failed


# --- chains of maps, reduce, order ---------------------------------------------------

def test_chained_maps_run_depth_first():
    order = []

    @task
    def first(x):
        order.append(("first", x))
        return x

    @task
    def second(x):
        order.append(("second", x))
        return x * 10

    with Flow("depth first") as flow:
        a = first.map([1, 2, 3])
        b = second.map(a)
        r = collect(b)
    state = flow.run()
    assert order == [("first", 1), ("second", 1), ("first", 2), ("second", 2), ("first", 3), ("second", 3)]
    assert state.result[r].result == [10, 20, 30]


def test_map_of_a_map_of_a_map():
    with Flow("three deep") as flow:
        m = inc.map(inc.map(inc.map([0, 10])))
    assert flow.run().result[m].result == [3, 13]


def test_reduce_receives_the_list_of_child_results():
    with Flow("reduce") as flow:
        m = inc.map([1, 2, 3])
        s = total(m)
    state = flow.run()
    assert type(state.result[s]) is Success and state.result[s].result == 9


def test_children_see_their_name_and_map_index_in_context():
    @task(name="who")
    def who(x):
        return context.task_full_name, context.task_name, context.map_index, context.task_run_id

    events = []
    with Flow("names") as flow:
        m = who.map(["a", "b"])
    state = flow.run(listeners=[events.append])
    results = state.result[m].result
    assert [r[:3] for r in results] == [("who[0]", "who", 0), ("who[1]", "who", 1)]
    child_ids = [r[3] for r in results]
    assert len(set(child_ids)) == 2
    by_index = {e.map_index: e.task_run_id for e in events if e.task is m and e.map_index is not None}
    assert by_index == {0: child_ids[0], 1: child_ids[1]}


def test_parent_and_child_events():
    events = []
    with Flow("events") as flow:
        m = inc.map([1, 2])
    flow.run(listeners=[events.append])
    mine = [(e.map_index, e.old_state.type, e.new_state.type) for e in events if e.task is m]
    assert mine == [
        (None, "Pending", "Mapped"),
        (0, "Pending", "Running"), (0, "Running", "Success"),
        (1, "Pending", "Running"), (1, "Running", "Success"),
    ]
    parent_ids = {e.task_run_id for e in events if e.task is m and e.map_index is None}
    child_ids = {e.task_run_id for e in events if e.task is m and e.map_index is not None}
    assert len(parent_ids) == 1 and len(child_ids) == 2 and not parent_ids & child_ids


# --- failures and skips ----------------------------------------------------------------

def test_one_failing_child_does_not_stop_its_siblings():
    ran = []

    @task
    def maybe(x):
        ran.append(x)
        if x == 2:
            raise ValueError("two")
        return x

    with Flow("one fails") as flow:
        m = maybe.map([1, 2, 3])
        down = inc.map(m)
        reduced = total(m)
    state = flow.run()
    assert ran == [1, 2, 3]
    parent = state.result[m]
    assert type(parent) is Mapped
    assert types(parent.map_states) == [Success, Failed, Success]
    assert isinstance(parent.result[1], ValueError) and parent.result[::2] == [1, 3]
    assert types(state.result[down].map_states) == [Success, TriggerFailed, Success]
    assert state.result[down].map_states[1].message == ALL_SUCCESSFUL_FAILED
    assert [s.result for s in state.result[down].map_states[::2]] == [2, 4]
    assert type(state.result[reduced]) is TriggerFailed
    assert type(state) is Failed


def test_a_mapped_reference_task_with_a_failed_child_fails_the_flow():
    @task
    def maybe(x):
        if x:
            raise ValueError(x)

    with Flow("mapped reference") as flow:
        maybe.map([0, 1])
    assert type(flow.run()) is Failed


def test_a_failed_unmapped_upstream_gives_mapped_with_trigger_failed_children():
    @task
    def broken():
        raise ValueError("no list")

    with Flow("no list") as flow:
        m = add.map([1, 2], unmapped(broken()))
        after = total(m)
    state = flow.run()
    assert type(state.result[m]) is Mapped  # as Prefect 1: each child asks its trigger
    assert types(state.result[m].map_states) == [TriggerFailed, TriggerFailed]
    assert type(state.result[after]) is TriggerFailed and state.is_failed()


def test_a_failed_mapped_upstream_fails_the_mapped_task_whatever_its_trigger():
    @task
    def broken():
        raise ValueError("no list")

    @task(trigger=triggers.always_run)
    def anyway(x):
        return x

    with Flow("nothing to map") as flow:
        items = broken()
        m = inc.map(items)
        m_always = anyway.map(items)
        both = add.map([1, 2], items)  # one mapped upstream failed, one succeeded
    state = flow.run()
    for t in (m, m_always):
        assert type(state.result[t]) is Failed and state.result[t].message == NOTHING_TO_MAP
        assert not state.result[t].is_mapped()
    assert types(state.result[both].map_states) == [TriggerFailed, TriggerFailed]


def test_a_skipped_upstream_skips_the_mapped_task_without_children():
    ran = []

    @task
    def skipper():
        raise signals.SKIP("nothing to do")

    @task
    def child(x):
        ran.append(x)

    with Flow("skipped upstream") as flow:
        s = skipper()
        m = child.map([1, 2], upstream_tasks=[s])
        after = inc.map(m)
    state = flow.run()
    assert type(state.result[m]) is Skipped and ran == []
    assert type(state.result[after]) is Skipped
    assert type(state) is Success


def test_a_skipped_child_skips_only_its_index_downstream_and_skips_a_reduce():
    @task
    def skip_two(x):
        if x == 2:
            raise signals.SKIP("skip two")
        return x

    with Flow("skipped child") as flow:
        m = skip_two.map([1, 2, 3])
        down = inc.map(m)
        reduced = collect(m)
    state = flow.run()
    assert types(state.result[m].map_states) == [Success, Skipped, Success]
    assert types(state.result[down].map_states) == [Success, Skipped, Success]
    assert type(state.result[reduced]) is Skipped


def test_mapping_with_retries_on_one_child():
    runs = []

    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0.05))
    def flaky(x):
        runs.append((x, context.map_index, context.task_run_count))
        if x == 2 and context.task_run_count < 2:
            raise ValueError("transient")
        return x * 10

    events = []
    with Flow("mapped retries") as flow:
        m = flaky.map([1, 2, 3])
        s = total(m)
    state = flow.run(listeners=[events.append])
    assert type(state) is Success and state.result[s].result == 60
    assert sorted(runs) == [(1, 0, 1), (2, 1, 1), (2, 1, 2), (3, 2, 1)]
    retried = [(e.map_index, e.new_state.type) for e in events if e.task is m and e.map_index == 1]
    assert retried == [(1, "Running"), (1, "Failed"), (1, "Retrying"), (1, "Running"), (1, "Success")]
    assert len({e.task_run_id for e in events if e.task is m and e.map_index == 1}) == 1


def test_a_state_handler_replacing_mapped_ends_the_task_without_children():
    ran = []

    def refuse(t, old, new):
        if type(new) is Mapped:
            return Failed("mapping refused")

    @task(state_handlers=[refuse])
    def child(x):
        ran.append(x)

    with Flow("refused") as flow:
        m = child.map([1, 2])
        down = inc.map(m)
    state = flow.run()
    assert type(state.result[m]) is Failed and state.result[m].message == "mapping refused"
    assert ran == []
    assert type(state.result[down]) is Failed and state.result[down].message == NOTHING_TO_MAP


def test_a_state_handler_raising_on_mapped_fails_the_task_without_children():
    ran = []

    def explode(t, old, new):
        if type(new) is Mapped:
            raise RuntimeError("handler bug")

    @task(state_handlers=[explode])
    def child(x):
        ran.append(x)

    with Flow("handler raises on mapped") as flow:
        m = child.map([1, 2])
    state = flow.run()
    assert type(state.result[m]) is Failed and ran == []
    assert state.result[m].message == "Exception raised while calling state handlers: RuntimeError('handler bug')"


def test_an_interrupt_inside_a_child_keeps_finished_children():
    @task
    def child(x):
        if x == 2:
            raise KeyboardInterrupt
        return x

    with Flow("interrupted map") as flow:
        m = child.map([1, 2, 3])
        down = inc.map(m)
        reduced = total(m)
    state = flow.run()
    assert type(state) is Cancelled and flow.last_run is state
    parent = state.result[m]
    assert type(parent) is Mapped
    assert types(parent.map_states) == [Success, Cancelled, Cancelled]
    assert parent.result[0] == 1
    assert types(state.result[down].map_states) == [Success, Cancelled, Cancelled]
    assert type(state.result[reduced]) is Cancelled


def test_given_map_states_are_reused_by_a_rerun():
    calls = []

    @task
    def child(x):
        calls.append(x)
        return x

    with Flow("rerun") as flow:
        m = child.map([1, 2, 3])
    previous = Mapped(map_states=[Success(result="kept"), Pending(), Success(result="also kept")])
    state = flow.run(task_states={m: previous})
    assert calls == [2]
    assert state.result[m].result == ["kept", 2, "also kept"]


def test_a_map_that_cannot_start_emits_its_failure():
    events = []
    with Flow("unmappable") as flow:
        t = task(lambda x: x, name="t").map(5)
    state = flow.run(listeners=[events.append])
    assert state.result[t].message.startswith("At least one upstream state has an unmappable result")
    assert [(e.old_state.type, e.new_state.type) for e in events if e.task is t] == [("Pending", "Failed")]


def test_flatten_over_a_map_with_a_failed_child_gives_that_child_one_trigger_failed_item():
    @task
    def pair(x):
        if x == 2:
            raise ValueError("bad row")
        return [x, x]

    @task
    def keep(item):
        return item

    @task
    def scalar():
        return 7

    with Flow("flatten a failed child") as flow:
        kept = keep.map(flatten(pair.map([1, 2, 3])))
        bad = keep.map(flatten(scalar()))
    state = flow.run()
    assert types(state.result[kept].map_states) == [Success, Success, TriggerFailed, Success, Success]
    assert [s.result for s in state.result[kept].map_states if s.is_successful()] == [1, 1, 3, 3]
    assert type(state.result[bad]) is Failed
    # Prefect 1.4.1: flatten() of a value that is not iterable leaves it as it is: unmappable
    assert state.result[bad].message.startswith("At least one upstream state has an unmappable result: task 'scalar'")
