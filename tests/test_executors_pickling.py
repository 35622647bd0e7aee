"""executors._pickling: task-run calls pickled once per task, results and events back."""

from __future__ import annotations

import pickle
import threading

import pytest

from perfect_nb import Flow, task
from perfect_nb.core.edge import Edge
from perfect_nb.engine.state import Pending, Running, Success
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.errors import SerializationError
from perfect_nb.executors._pickling import CallPickler, StaticCache, call_pickled, dump_record, dumps_call


@task
def add(x, y):
    return x + y


def _call(pickler, runner, edge, value, index):
    upstream = {edge: Success(result=value)}
    return pickler.dumps(runner.run, (Pending(), upstream), {"inputs": {"y": 1}, "map_index": index, "base_context": BASE})


BASE = {"flow_name": "f", "parameters": {}}


def test_a_task_run_round_trips_and_shares_its_static_part_between_calls():
    with Flow("f"):
        up = task(lambda: 1, name="up")()
        down = add(up, 1)
    runner = TaskRunner(down)
    edge = Edge(up, down, key="x")
    pickler = CallPickler()
    first, second = _call(pickler, runner, edge, 41, 0), _call(pickler, runner, edge, 1, 1)
    assert first.token == second.token and first.static is second.static  # pickled once
    assert pickle.loads(call_pickled(first.payload())).result == 42
    # a worker that has the static part gets the call without it
    assert len(second.payload(with_static=False)) < len(second.payload()) - len(second.static) // 2
    assert pickle.loads(call_pickled(second.payload(with_static=False))).result == 2


def test_a_static_part_sent_apart_is_used_and_a_missing_one_is_named():
    with Flow("f"):
        up = task(lambda: 1, name="up")()
        down = add(up, 1)
    call = _call(CallPickler(), TaskRunner(down), Edge(up, down, key="x"), 9, 0)
    assert pickle.loads(call_pickled(call.payload(with_static=False), call.static)).result == 10
    fresh = _call(CallPickler(), TaskRunner(down), Edge(up, down, key="x"), 9, 0)  # a new token
    with pytest.raises(RuntimeError, match="static part .* was not sent to this worker"):
        call_pickled(fresh.payload(with_static=False))


def test_the_senders_mirror_tracks_a_workers_least_recently_used_static_parts():
    worker, mirror = StaticCache(size=2), StaticCache(size=2)
    for token in ["a", "b", "a", "c", "b", "a"]:
        if mirror.needs(token):
            assert worker.get(token) is None
            worker.put(token, token.upper())
        else:
            assert worker.get(token) == token.upper()
    assert list(worker.entries) == list(mirror.entries) == ["b", "a"]


def test_any_call_round_trips():
    assert pickle.loads(call_pickled(dumps_call(divmod, (7, 2), {}))) == (3, 1)


def test_unpicklable_inputs_and_results_raise_serialization_errors_naming_the_task():
    with Flow("f"):
        bad = task(lambda: threading.Lock(), name="makes_a_lock")()
    runner = TaskRunner(bad)
    call = CallPickler().dumps(runner.run, (Pending(), {}), {"base_context": BASE})
    with pytest.raises(SerializationError, match="result of task 'makes_a_lock'.*could not be pickled"):
        call_pickled(call.payload())
    with pytest.raises(SerializationError, match="inputs of task 'makes_a_lock' could not be pickled"):
        CallPickler().dumps(runner.run, (Pending(), {}), {"base_context": {"lock": threading.Lock()}})


def test_an_event_whose_state_cannot_be_pickled_travels_without_its_result():
    new = Success("done", result=threading.Lock())
    record = pickle.loads(dump_record(("slug", "run", None, Running(), new, 1.0)))
    assert record[4].type == "Success" and record[4].message == "done" and record[4].result is None
    big = pickle.loads(dump_record(("slug", "run", 0, Running(), Success(result=b"x" * 200_000), 2.0)))
    assert big[4].result is None and big[5] == 2.0
