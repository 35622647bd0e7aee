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
from perfect_nb.executors._pickling import CallPickler, call_pickled, dump_record, dumps_call


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
    assert pickle.loads(first[1:])[0] == pickle.loads(second[1:])[0]  # one token for both
    assert pickle.loads(call_pickled(first)).result == 42
    assert pickle.loads(call_pickled(second)).result == 2


def test_any_call_round_trips():
    assert pickle.loads(call_pickled(dumps_call(divmod, (7, 2), {}))) == (3, 1)


def test_unpicklable_inputs_and_results_raise_serialization_errors_naming_the_task():
    with Flow("f"):
        bad = task(lambda: threading.Lock(), name="makes_a_lock")()
    runner = TaskRunner(bad)
    payload = CallPickler().dumps(runner.run, (Pending(), {}), {"base_context": BASE})
    with pytest.raises(SerializationError, match="result of task 'makes_a_lock'.*could not be pickled"):
        call_pickled(payload)
    with pytest.raises(SerializationError, match="inputs of task 'makes_a_lock' could not be pickled"):
        CallPickler().dumps(runner.run, (Pending(), {}), {"base_context": {"lock": threading.Lock()}})


def test_an_event_whose_state_cannot_be_pickled_travels_without_its_result():
    new = Success("done", result=threading.Lock())
    record = pickle.loads(dump_record(("slug", "run", None, Running(), new, 1.0)))
    assert record[4].type == "Success" and record[4].message == "done" and record[4].result is None
    big = pickle.loads(dump_record(("slug", "run", 0, Running(), Success(result=b"x" * 200_000), 2.0)))
    assert big[4].result is None and big[5] == 2.0
