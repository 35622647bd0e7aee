"""Prefect-1 caching in real flows: ``cache_for``, ``cache_validator``, ``cache_key``.

A hit goes Pending -> Cached without entering Running; a miss runs and ends
Success then Cached. Each task body appends to a list, so the tests can tell
whether it ran.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import threading
import time

import pandas as pd
import pytest

from perfect_nb import Flow, Parameter, task
from perfect_nb.engine.cache_validators import (
    all_inputs, all_parameters, duration_only, never_use, partial_inputs_only,
)
from perfect_nb.engine.state import Cached, Failed, Mapped
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.executors import Executor

MINUTE = dt.timedelta(minutes=1)
MISS = [("Pending", "Running"), ("Running", "Success"), ("Success", "Cached")]
HIT = [("Pending", "Cached")]
STALE_WARNING = "reused a cached result computed from different inputs"


pytestmark = pytest.mark.usefixtures("fresh_cache_for_caches")



def run(flow, **kwargs):
    """Run ``flow``; return its state and its events as a list."""
    events: list = []
    state = flow.run(listeners=[events.append], **kwargs)
    return state, events


def transitions(events, t, index=None) -> list[tuple[str, str]]:
    return [(e.old_state.type, e.new_state.type) for e in events if e.task is t and e.map_index == index]


def stale_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if STALE_WARNING in r.getMessage()]


# --- miss, then hit --------------------------------------------------------

def test_miss_runs_and_ends_cached_then_hit_skips_running():
    calls = []

    @task(cache_for=MINUTE)
    def expensive():
        calls.append(1)
        return len(calls) * 10

    with Flow("cache") as flow:
        out = expensive()

    state, events = run(flow)
    assert transitions(events, out) == MISS
    final = state.result[out]
    assert isinstance(final, Cached) and final.result == 10
    assert final.message == "Task run succeeded."  # 1.4.1: the Success's message, on the run that cached and on each reuse
    expiration = final.cached_result_expiration
    assert dt.timedelta(seconds=55) < expiration - dt.datetime.now(dt.timezone.utc) <= MINUTE

    state, events = run(flow)
    assert transitions(events, out) == HIT
    assert "Running" not in [e.new_state.type for e in events if e.task is out]
    assert calls == [1]
    hit = state.result[out]
    assert type(hit) is Cached and hit.result == 10 and hit.message == "Task run succeeded." and state.is_successful()
    assert hit.cached_result_expiration == expiration


def test_downstream_receives_the_cached_value():
    calls = []

    @task(cache_for=MINUTE)
    def source():
        calls.append(1)
        return {"n": 41}

    @task
    def plus_one(d):
        return d["n"] + 1

    with Flow("downstream") as flow:
        out = plus_one(source())

    assert run(flow)[0].result[out].result == 42
    state, _ = run(flow)
    assert state.result[out].result == 42 and calls == [1]


def test_failure_is_never_cached():
    calls = []

    @task(cache_for=MINUTE)
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first time")
        return "ok"

    with Flow("flaky") as flow:
        out = flaky()

    state, events = run(flow)
    assert type(state.result[out]) is Failed
    assert ("Running", "Cached") not in transitions(events, out)
    state, events = run(flow)
    assert transitions(events, out) == MISS and state.result[out].result == "ok"
    state, events = run(flow)
    assert transitions(events, out) == HIT and calls == [1, 1]


def test_task_without_caching_options_has_no_hooks():
    @task
    def plain(x):
        return x

    assert TaskRunner(plain).hooks == []
    with Flow("plain") as flow:
        out = plain(1)
    state, events = run(flow)
    assert transitions(events, out) == [("Pending", "Running"), ("Running", "Success")]


def test_never_use_always_runs():
    calls = []

    @task(cache_for=MINUTE, cache_validator=never_use)
    def always():
        calls.append(1)
        return 1

    with Flow("never") as flow:
        out = always()
    for _ in range(3):
        _, events = run(flow)
        assert transitions(events, out) == MISS
    assert calls == [1, 1, 1]


# --- cache_key shared across flows ---------------------------------------

def test_cache_key_is_shared_between_two_different_flows():
    calls = []

    @task(cache_for=MINUTE, cache_key="shared-load")
    def load_a():
        calls.append("a")
        return "from a"

    @task(cache_for=MINUTE, cache_key="shared-load")
    def load_b():
        calls.append("b")
        return "from b"

    with Flow("first") as first:
        a = load_a()
    with Flow("second") as second:
        b = load_b()

    run(first)
    state, events = run(second)
    assert transitions(events, b) == HIT
    assert state.result[b].result == "from a" and calls == ["a"]


def test_different_cache_keys_do_not_share():
    calls = []

    @task(cache_for=MINUTE, cache_key="one")
    def one():
        calls.append(1)
        return 1

    @task(cache_for=MINUTE, cache_key="two")
    def two():
        calls.append(2)
        return 2

    with Flow("one") as f1:
        one()
    with Flow("two") as f2:
        out = two()
    run(f1)
    state, events = run(f2)
    assert transitions(events, out) == MISS and state.result[out].result == 2 and calls == [1, 2]


# --- expiry ---------------------------------------------------------------

def test_expired_result_runs_again():
    calls = []

    @task(cache_for=dt.timedelta(seconds=0.2))
    def short_lived():
        calls.append(1)
        return len(calls)

    with Flow("expiry") as flow:
        out = short_lived()

    run(flow)
    state, events = run(flow)
    assert transitions(events, out) == HIT and state.result[out].result == 1
    time.sleep(0.3)
    state, events = run(flow)
    assert transitions(events, out) == MISS
    assert state.result[out].result == 2 and calls == [1, 1]


# --- validators in flows --------------------------------------------------

def test_all_inputs_reruns_when_inputs_change_and_keeps_older_results():
    calls = []

    @task(cache_for=MINUTE, cache_validator=all_inputs)
    def square(x):
        calls.append(x)
        return x * x

    with Flow("inputs") as flow:
        x = Parameter("x")
        out = square(x)

    results = []
    for value in (2, 2, 3, 2, 3):
        state, events = run(flow, parameters={"x": value})
        results.append((state.result[out].result, transitions(events, out) == HIT))
    assert results == [(4, False), (4, True), (9, False), (4, True), (9, True)]
    assert calls == [2, 3]


def test_all_inputs_compares_dataframes_by_content():
    calls = []

    @task(cache_for=MINUTE, cache_validator="all_inputs")
    def total(df):
        calls.append(1)
        return int(df["a"].sum())

    with Flow("frames") as flow:
        df = Parameter("df")
        out = total(df)

    run(flow, parameters={"df": pd.DataFrame({"a": [1, 2]})})
    state, events = run(flow, parameters={"df": pd.DataFrame({"a": [1, 2]})})  # equal, not identical
    assert transitions(events, out) == HIT and calls == [1]
    state, events = run(flow, parameters={"df": pd.DataFrame({"a": [1, 5]})})
    assert transitions(events, out) == MISS and state.result[out].result == 6


def test_all_inputs_sees_a_value_mutated_in_place_between_runs():
    # A notebook user changes a list in place and runs again: the cached inputs were
    # that same object, so comparing values would say "same" and reuse a stale result.
    calls = []
    data = [1, 2]

    @task(cache_for=MINUTE, cache_validator=all_inputs)
    def total(xs):
        calls.append(list(xs))
        return sum(xs)

    with Flow("mutation") as flow:
        out = total(data)

    assert run(flow)[0].result[out].result == 3
    data.append(10)
    state, events = run(flow)
    assert transitions(events, out) == MISS and state.result[out].result == 13


def test_all_parameters_reruns_when_any_parameter_changes():
    calls = []

    @task(cache_for=MINUTE, cache_validator=all_parameters)
    def report(x):
        calls.append(x)
        return x

    with Flow("params") as flow:
        x = Parameter("x", default=1)
        Parameter("label", default="a")  # not an input of the task
        out = report(x)

    run(flow)
    _, events = run(flow)
    assert transitions(events, out) == HIT
    _, events = run(flow, parameters={"label": "b"})
    assert transitions(events, out) == MISS and calls == [1, 1]


def test_partial_inputs_only_ignores_other_inputs():
    calls = []

    @task(cache_for=MINUTE, cache_validator=partial_inputs_only(["key"]))
    def fetch(key, verbose):
        calls.append((key, verbose))
        return key.upper()

    with Flow("partial") as flow:
        key = Parameter("key")
        verbose = Parameter("verbose")
        out = fetch(key, verbose)

    run(flow, parameters={"key": "a", "verbose": True})
    _, events = run(flow, parameters={"key": "a", "verbose": False})
    assert transitions(events, out) == HIT
    state, events = run(flow, parameters={"key": "b", "verbose": False})
    assert transitions(events, out) == MISS and state.result[out].result == "B"
    assert calls == [("a", True), ("b", False)]


def test_an_unhashable_input_never_gives_a_hit():
    calls = []
    lock = threading.Lock()

    @task(cache_for=MINUTE, cache_validator=all_inputs)
    def use(resource):
        calls.append(1)
        return 1

    with Flow("lock") as flow:
        out = use(lock)
    run(flow)
    _, events = run(flow)
    assert transitions(events, out) == MISS and calls == [1, 1]


def test_an_uncalled_partial_factory_fails_before_any_task_runs():
    calls = []

    @task
    def side_effect():
        calls.append(1)

    @task(cache_for=MINUTE, cache_validator=partial_inputs_only)
    def wrong(x):
        return x

    with Flow("factory") as flow:
        side_effect()
        wrong(1)
    with pytest.raises(ValueError, match=r"partial_inputs_only\(\['x'\]\)"):
        flow.run()
    assert calls == []


# --- the Prefect 1 trap: cache_for alone ignores inputs --------------------

def test_cache_for_without_validator_warns_once_when_inputs_change(perfect_nb_log):
    calls = []

    @task(cache_for=MINUTE)
    def double(x):
        calls.append(x)
        return 2 * x

    with Flow("trap") as flow:
        x = Parameter("x")
        out = double(x)

    run(flow, parameters={"x": 1})
    assert stale_warnings(perfect_nb_log) == []
    results = [run(flow, parameters={"x": v})[0].result[out].result for v in (2, 3, 4)]
    assert results == [2, 2, 2]  # duration_only: the stale value, as in Prefect 1
    assert calls == [1]
    warnings = stale_warnings(perfect_nb_log)
    assert len(warnings) == 1
    assert "'double'" in warnings[0] and "cache_validator=all_inputs" in warnings[0]


def test_no_warning_when_inputs_are_unchanged_or_validator_is_explicit(perfect_nb_log):
    @task(cache_for=MINUTE)
    def implicit(x):
        return x

    @task(cache_for=MINUTE, cache_validator=duration_only)
    def explicit(x):
        return x

    with Flow("quiet") as flow:
        x = Parameter("x")
        implicit(1)
        explicit(x)

    for value in (1, 2, 3):
        run(flow, parameters={"x": value})
    assert stale_warnings(perfect_nb_log) == []


def test_trap_warning_is_once_per_task_for_mapped_children(perfect_nb_log):
    @task(cache_for=MINUTE)
    def inc(x):
        return x + 1

    with Flow("mapped-trap") as flow:
        xs = Parameter("xs")
        out = inc.map(xs)

    run(flow, parameters={"xs": [1, 2, 3]})
    state, _ = run(flow, parameters={"xs": [10, 20, 30]})
    assert state.result[out].result == [2, 3, 4]
    assert len(stale_warnings(perfect_nb_log)) == 1


# --- mapping -----------------------------------------------------------------

def test_mapped_children_are_cached_per_child():
    calls = []

    @task(cache_for=MINUTE, cache_validator=all_inputs)
    def square(x):
        calls.append(x)
        return x * x

    with Flow("mapped") as flow:
        xs = Parameter("xs")
        out = square.map(xs)

    state, events = run(flow, parameters={"xs": [1, 2, 3]})
    assert state.result[out].result == [1, 4, 9]
    assert all(transitions(events, out, i) == MISS for i in range(3))
    assert all(type(s) is Cached for s in state.result[out].map_states)

    state, events = run(flow, parameters={"xs": [1, 2, 3]})
    assert type(state.result[out]) is Mapped and state.result[out].result == [1, 4, 9]
    assert [transitions(events, out, i) for i in range(3)] == [HIT] * 3
    assert sorted(calls) == [1, 2, 3]

    state, events = run(flow, parameters={"xs": [1, 5, 3, 4]})
    assert state.result[out].result == [1, 25, 9, 16]
    assert [transitions(events, out, i) == HIT for i in range(4)] == [True, False, True, False]
    assert sorted(calls) == [1, 2, 3, 4, 5]


class ThreadPoolExecutor(Executor):
    """Task bodies on a thread pool: the cache is used from several threads at once."""

    def __init__(self, workers: int = 8) -> None:
        self.workers = workers
        self.pool = None

    @contextlib.contextmanager
    def start(self):
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            self.pool = pool
            yield

    def submit(self, fn, *args, **kwargs):
        return self.pool.submit(fn, *args, **kwargs)


def test_cache_works_from_several_threads():
    calls = []
    lock = threading.Lock()

    @task(cache_for=MINUTE, cache_validator=all_inputs)
    def slow(x):
        with lock:
            calls.append(x)
        time.sleep(0.01)
        return -x

    with Flow("threads") as flow:
        out = slow.map(list(range(20)))

    first = flow.run(executor=ThreadPoolExecutor()).result[out].result
    state, events = run(flow, executor=ThreadPoolExecutor())
    assert first == state.result[out].result == [-x for x in range(20)]
    assert sorted(calls) == list(range(20))
    assert all(transitions(events, out, i) == HIT for i in range(20))
