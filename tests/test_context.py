"""The run context (perfect_nb.core.context): access, nesting, lazy keys, thread isolation."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading

import pytest

from perfect_nb import Flow, context, task
from perfect_nb.core.context import Context


def in_fresh_context(fn):
    """Run ``fn`` in a copy of the current context, so what it sets does not leak into other tests."""
    return contextvars.copy_context().run(fn)


# --- access ----------------------------------------------------------------------------
def test_get_attribute_item_and_contains():
    with context(answer=42, name="x"):
        assert context.get("answer") == 42
        assert context.answer == 42
        assert context["name"] == "x"
        assert "answer" in context
    assert "answer" not in context
    assert context.get("answer") is None
    assert context.get("answer", "gone") == "gone"


def test_missing_keys():
    with pytest.raises(KeyError):
        context["missing"]
    with pytest.raises(AttributeError, match="no key 'missing'"):
        context.missing
    assert not hasattr(context, "missing")


def test_context_is_one_shared_object():
    assert isinstance(context, Context)
    from perfect_nb.core import context as module

    assert module.context is context


# --- nesting -----------------------------------------------------------------------------
def test_nested_blocks_override_and_restore():
    with context(a=1, b=1):
        with context(b=2, c=3):
            assert (context.a, context.b, context.c) == (1, 2, 3)
        assert (context.a, context.b) == (1, 1)
        assert "c" not in context
    assert "a" not in context and "b" not in context


def test_a_dict_argument_and_keywords_combine():
    with context({"a": 1, "b": 1}, b=2) as ctx:
        assert ctx is context
        assert (context.a, context.b) == (1, 2)


def test_values_are_restored_after_an_exception():
    with pytest.raises(RuntimeError):
        with context(a=1):
            raise RuntimeError("boom")
    assert "a" not in context


def test_update_setattr_and_setitem_last_for_the_rest_of_the_run():
    def body():
        context.update({"a": 1}, b=2)
        context.c = 3
        context["d"] = 4
        return {k: context.get(k) for k in "abcd"}

    assert in_fresh_context(body) == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert all(k not in context for k in "abcd")


def test_to_dict_keys_and_iteration_include_lazy_keys():
    with context(a=1):
        data = context.to_dict()
        assert data["a"] == 1
        assert {"today", "yesterday", "tomorrow", "date", "logger"} <= set(data)
        assert set(context.keys()) == set(data)
        assert set(iter(context)) == set(data)
        assert "'a'" in repr(context)


# --- lazy keys -----------------------------------------------------------------------------
START = dt.datetime(2024, 3, 1, 6, 30, tzinfo=dt.timezone.utc)  # the day after 29 February


@pytest.mark.parametrize(
    "key, value",
    [
        ("today", "2024-03-01"),
        ("yesterday", "2024-02-29"),
        ("tomorrow", "2024-03-02"),
        ("today_nodash", "20240301"),
        ("yesterday_nodash", "20240229"),
        ("tomorrow_nodash", "20240302"),
        ("date", START),
    ],
)
def test_date_keys_follow_the_scheduled_start_time(key, value):
    with context(scheduled_start_time=START):
        assert context.get(key) == value
        assert context[key] == value
        assert getattr(context, key) == value
        assert key in context


def test_date_keys_default_to_now_in_utc():
    before = dt.datetime.now(dt.timezone.utc)
    today, date = context.today, context.date
    after = dt.datetime.now(dt.timezone.utc)
    assert before <= date <= after
    assert date.tzinfo is not None
    assert today in {before.strftime("%Y-%m-%d"), after.strftime("%Y-%m-%d")}


def test_explicit_values_win_over_lazy_ones():
    with context(today="someday", logger="mine"):
        assert context.today == "someday"
        assert context.logger == "mine"
        assert context.to_dict()["today"] == "someday"


@pytest.mark.parametrize(
    "values, name",
    [
        ({}, "perfect_nb"),
        ({"flow_name": "etl"}, "perfect_nb.Flow: etl"),
        ({"flow_name": "etl", "task_name": "load"}, "perfect_nb.Task: load"),
    ],
)
def test_logger_is_named_after_the_run(values, name):
    with context(**values):
        logger = context.logger
    assert isinstance(logger, logging.Logger)
    assert logger.name == name


def test_tasks_read_the_context_of_their_run():
    @task
    def where():
        return context.flow_name, context.task_name, context.today, context.parameters, context.get("extra")

    with Flow("ctx") as flow:
        t = where()
    state = flow.run(context={"scheduled_start_time": START, "extra": "given"})
    assert state.result[t].result == ("ctx", "where", "2024-03-01", {}, "given")
    assert "flow_name" not in context


# --- threads ---------------------------------------------------------------------------------
def _in_thread(fn):
    box = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0]


def test_a_new_thread_does_not_see_the_callers_values():
    with context(secret=1):
        assert _in_thread(lambda: context.get("secret")) is None
        assert context.secret == 1


def test_values_set_in_a_thread_stay_in_that_thread():
    def body():
        context.update(mine="thread")
        with context(block="thread"):
            pass
        return context.get("mine"), context.get("block")

    assert _in_thread(body) == ("thread", None)
    assert "mine" not in context


def test_concurrent_threads_each_see_their_own_values():
    barrier = threading.Barrier(4)
    seen = {}

    def worker(i):
        with context(who=i):
            barrier.wait()  # every thread is inside its block at the same time
            seen[i] = context.who

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {0: 0, 1: 1, 2: 2, 3: 3}
