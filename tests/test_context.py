"""perfect_nb.context against Prefect 1.4.1's prefect.context.

Each test's docstring says what Prefect 1.4.1 does; that was run on 1.4.1 (bench/.prefect1-venv)
with the same code, ``prefect`` in place of ``perfect_nb``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading

import pytest

from perfect_nb import Flow, Parameter, config, context, task
from perfect_nb.core.context import Context
from perfect_nb.engine.results import LocalResult
from perfect_nb.engine.task_runner import TaskRunner

DAY = dt.datetime(2024, 3, 1, 6, 30, tzinfo=dt.timezone.utc)  # the day after 29 February


def in_fresh_context(fn):
    """Run ``fn`` in a copy of the current context, so what it sets does not leak into other tests."""
    return contextvars.copy_context().run(fn)


def run_task(fn, **run_kwargs):
    """Run ``fn`` as the only task of a flow; its result."""
    with Flow("ctx") as flow:
        t = task(fn, name="probe")()
    return flow.run(**run_kwargs).result[t].result


# --- outside a run -------------------------------------------------------------------------
def test_outside_a_run_there_is_config_and_logger_and_no_dates():
    """1.4.1 outside a flow run: sorted(prefect.context.keys()) is ['caches', 'config', 'logger'];
    context.get("today") is None, "date" in context is False, context.today raises AttributeError
    and context["today"] KeyError."""
    keys = set(context.keys())
    assert {"config", "logger"} <= keys and not keys & {"today", "date", "flow_name", "task_name"}
    assert context.config is config
    assert isinstance(context.get("logger"), logging.Logger)
    assert context.get("today") is None and "date" not in context and "today" not in context
    with pytest.raises(AttributeError):
        context.today
    with pytest.raises(KeyError):
        context["today"]


def test_context_is_one_shared_mapping():
    """1.4.1: prefect.context is one Context object, a MutableMapping (a DotDict)."""
    from collections.abc import MutableMapping

    from perfect_nb.core import context as module

    assert isinstance(context, Context) and isinstance(context, MutableMapping)
    assert module.context is context


# --- access and nesting ------------------------------------------------------------------------
def test_get_attribute_item_contains_and_missing():
    """1.4.1: inside `with context(answer=42)`, context.answer, context.get("answer") and
    context["answer"] are 42 and "answer" in context; after the block get gives None (or the
    default), [] raises KeyError and attribute access AttributeError."""
    with context(answer=42, name="x"):
        assert (context.get("answer"), context.answer, context["name"]) == (42, 42, "x")
        assert "answer" in context
    assert "answer" not in context
    assert context.get("answer") is None and context.get("answer", "gone") == "gone"
    with pytest.raises(KeyError):
        context["answer"]
    with pytest.raises(AttributeError, match="no key 'answer'"):
        context.answer
    assert not hasattr(context, "answer")


def test_nested_blocks_a_dict_and_keywords_and_restore_after_an_exception():
    """1.4.1: `with context({"b": 2}, c=3)` inside `with context(a=1)` sees a, b and c; after the
    inner block b is gone; a block left by an exception removes its keys too."""
    with context(a=1, b=1):
        with context({"b": 2}, c=3) as ctx:
            assert ctx is context
            assert (context.a, context.b, context.c) == (1, 2, 3)
        assert (context.a, context.b) == (1, 1) and "c" not in context
    assert "a" not in context
    with pytest.raises(RuntimeError):
        with context(a=1):
            raise RuntimeError("boom")
    assert "a" not in context


def test_update_setattr_setitem_and_delete():
    """1.4.1: context.update(z=9), context.zz = 5 and context["k"] = v set keys; del context["zz"]
    removes one; to_dict() is a plain dict."""
    def body():
        context.update({"a": 1}, b=2)
        context.c = 3
        context["d"] = 4
        got = {k: context.get(k) for k in "abcd"}
        del context["d"]
        return got, "d" in context, type(context.to_dict())

    assert in_fresh_context(body) == ({"a": 1, "b": 2, "c": 3, "d": 4}, False, dict)
    assert all(k not in context for k in "abcd")


def test_explicit_values_win_over_computed_ones():
    """1.4.1: flow.run(context={"today": "TODAY"}) gives context.today == "TODAY" in the task."""
    assert run_task(lambda: (context.today, context.tomorrow), context={"today": "someday", "date": DAY}) == ("someday", "2024-03-02")


# --- inside a flow run ------------------------------------------------------------------------
def test_the_keys_and_types_a_task_sees():
    """1.4.1, a task of flow "ctxflow" with Parameter p=3: the context has checkpointing (False),
    config, date (a pendulum DateTime in UTC), flow_id ("ctxflow"), flow_name, flow_run_id,
    flow_run_name (a uuid), logger, map_index (None), parameters ({"p": 3}), scheduled_start_time
    (UTC), task_full_name, task_id, task_name, task_run_count (1), task_run_id, task_slug,
    task_tags (a set) and today / yesterday / tomorrow and their *_nodash strings."""
    @task
    def show(p):
        return context.to_dict()

    with Flow("ctxflow") as flow:
        out = show(Parameter("p", default=3))
    ctx = flow.run().result[out].result
    expected = {"checkpointing", "config", "date", "flow_id", "flow_name", "flow_run_id", "flow_run_name", "logger",
                "map_index", "parameters", "scheduled_start_time", "task_full_name", "task_id", "task_name",
                "task_run_count", "task_run_id", "task_slug", "task_tags", "today", "today_nodash", "tomorrow",
                "tomorrow_nodash", "yesterday", "yesterday_nodash"}
    assert expected <= set(ctx)
    assert ctx["checkpointing"] is False and ctx["config"] is config
    assert (ctx["flow_name"], ctx["flow_id"], ctx["task_name"], ctx["task_full_name"]) == ("ctxflow", "ctxflow", "show", "show")
    assert ctx["task_id"] == ctx["task_slug"] == out.slug
    assert (ctx["map_index"], ctx["task_run_count"], ctx["parameters"], ctx["task_tags"]) == (None, 1, {"p": 3}, set())
    assert isinstance(ctx["flow_run_name"], str) and ctx["flow_run_name"] != ctx["flow_run_id"]
    date, start = ctx["date"], ctx["scheduled_start_time"]
    assert isinstance(date, dt.datetime) and date.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - date).total_seconds()) < 60 and start.tzinfo is not None
    assert ctx["today"] == date.strftime("%Y-%m-%d") and ctx["today_nodash"] == date.strftime("%Y%m%d")
    assert ctx["yesterday"] == (date - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert ctx["tomorrow_nodash"] == (date + dt.timedelta(days=1)).strftime("%Y%m%d")
    assert isinstance(ctx["logger"], logging.Logger)
    assert "flow_name" not in context  # nothing leaks out of the run


@pytest.mark.parametrize(
    "key, value",
    [("today", "2024-03-01"), ("yesterday", "2024-02-29"), ("tomorrow", "2024-03-02"),
     ("today_nodash", "20240301"), ("yesterday_nodash", "20240229"), ("tomorrow_nodash", "20240302"), ("date", DAY)],
)
def test_the_date_keys_follow_a_date_given_in_the_context(key, value):
    """1.4.1: flow.run(context={"date": <DateTime 2024-03-01 06:30 UTC>}) gives today
    "2024-03-01", yesterday "2024-02-29" (a leap year), tomorrow "2024-03-02", and the same
    without dashes."""
    assert run_task(lambda: context.get(key), context={"date": DAY}) == value


def test_a_date_string_is_parsed_and_scheduled_start_time_does_not_move_the_dates():
    """1.4.1: context={"date": "2024-03-01T12:00:00"} gives date 2024-03-01 12:00 UTC (a naive
    string read as UTC; "+02:00" kept); context={"scheduled_start_time": <2020-01-31>} keeps that
    scheduled_start_time but date and today stay now's."""
    assert run_task(lambda: context.date, context={"date": "2024-03-01T12:00:00"}) == dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)
    plus_two = run_task(lambda: context.date, context={"date": "2024-03-01T12:00:00+02:00"})
    assert plus_two.utcoffset() == dt.timedelta(hours=2)
    old = dt.datetime(2020, 1, 31, 23, 30, tzinfo=dt.timezone.utc)
    start, today = run_task(lambda: (context.scheduled_start_time, context.today), context={"scheduled_start_time": old})
    assert start == old and today == dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


def test_a_date_that_is_not_one_warns_and_the_dates_use_now(perfect_nb_log):
    """1.4.1: context={"date": "not a date"} logs a WARNING from the FlowRunner saying `date`
    could not be parsed and that today/tomorrow use the current time."""
    today = run_task(lambda: context.today, context={"date": "not a date"})
    assert today == dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    assert any("`date` was set in the context" in r.getMessage() and r.levelno == logging.WARNING for r in perfect_nb_log.records)


def test_map_index_task_full_name_and_task_run_count_across_retries():
    """1.4.1, flaky.map([1, 2]) with max_retries=2 where child 1 fails twice: the task sees
    (x, map_index, task_run_count, task_full_name) = (1, 0, 1, 'flaky[0]'), (2, 1, 1, 'flaky[1]'),
    (2, 1, 2, 'flaky[1]'), (2, 1, 3, 'flaky[1]')."""
    seen = []

    @task(max_retries=2, retry_delay=dt.timedelta(seconds=0))
    def flaky(x):
        seen.append((x, context.map_index, context.task_run_count, context.task_full_name))
        if x == 2 and context.task_run_count < 3:
            raise ValueError("again")
        return x

    with Flow("m") as flow:
        flaky.map([1, 2])
    assert flow.run().is_successful()
    assert sorted(seen) == [(1, 0, 1, "flaky[0]"), (2, 1, 1, "flaky[1]"), (2, 1, 2, "flaky[1]"), (2, 1, 3, "flaky[1]")]


def test_values_given_to_flow_run_and_an_enclosing_block_reach_the_task():
    """1.4.1: flow.run(context={"extra": "given"}) and `with prefect.context(outer=1): flow.run()`
    both put their keys in the task's context; neither is left behind after the run."""
    with context(outer=1):
        got = run_task(lambda: (context.get("extra"), context.get("outer")), context={"extra": "given"})
    assert got == ("given", 1) and "extra" not in context


def test_a_task_run_on_its_own_has_no_flow_keys():
    """1.4.1: TaskRunner(task).run() alone gives the task checkpointing, config, logger, map_index,
    task_full_name, task_name, task_run_count and task_tags, but no date, today or flow_name."""
    @task
    def keys():
        return set(context.keys())

    got = TaskRunner(keys).run().result
    assert {"checkpointing", "config", "logger", "map_index", "task_full_name", "task_name", "task_run_count", "task_tags"} <= got
    assert not got & {"date", "today", "flow_name"}


# --- templates ------------------------------------------------------------------------------------
def test_task_run_name_and_target_format_from_the_same_keys(tmp_path):
    """1.4.1 (checkpointing on, Parameter "today" = "PARAM", run on Monday 2026-12-07): task_run_name
    "{today}|{x}|{date:%Y}" becomes "2026-12-07|PARAM|2026" (the context's today wins over a
    parameter of that name; the input x is the parameter) and target "{today}-{map_index}-{date:%A}.txt"
    writes "2026-12-07-None-Monday.txt". Here the same with date 2024-03-01 (a Friday) given."""
    @task(target="{today}-{map_index}-{date:%A}.txt", result=LocalResult(dir=tmp_path), task_run_name="{today}|{x}|{date:%Y}")
    def t(x):
        return context.task_run_name

    with Flow("f") as flow:
        r = t(Parameter("today", default="PARAM"))
    state = flow.run(context={"checkpointing": True, "date": DAY})
    assert state.result[r].result == "2024-03-01|PARAM|2024"
    assert os.listdir(tmp_path) == ["2024-03-01-None-Friday.txt"]


def test_a_result_location_formats_from_the_same_keys(tmp_path):
    """1.4.1 (checkpointing on, date 2024-03-01): LocalResult(location="{date:%A}-{task_name}-{flow_name}.out")
    writes "Friday-t-f.out"."""
    @task(result=LocalResult(dir=tmp_path, location="{date:%A}-{task_name}-{flow_name}.out"))
    def t():
        return 1

    with Flow("f") as flow:
        t()
    flow.run(context={"checkpointing": True, "date": DAY})
    assert os.listdir(tmp_path) == ["Friday-t-f.out"]


def test_a_callable_task_run_name_gets_the_date_keys():
    """1.4.1: a callable task_run_name is called with the context and the inputs as keywords,
    date and today included."""
    @task(task_run_name=lambda **kw: f"{kw['date']:%A} {kw['today']} {kw['x']}")
    def named(x):
        return context.task_run_name

    with Flow("n") as flow:
        out = named(1)
    assert flow.run(context={"date": DAY}).result[out].result == "Friday 2024-03-01 1"


# --- configured keys --------------------------------------------------------------------------------
def _in_new_python(code: str, env: dict) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PERFECT_NB__", "PREFECT__"))}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_context_keys_from_config_file_and_environment(tmp_path):
    """1.4.1 with PREFECT__CONTEXT__FOO=3, PREFECT__CONTEXT__BAR="[1,2]" and a user config.toml
    holding [context] team = "data": prefect.context.foo == 3, .bar == [1, 2], .team == "data",
    outside any run and inside a task; PREFECT__CONTEXT__TEAM=env wins over the file."""
    (tmp_path / "config.toml").write_text('[context]\nteam = "data"\nwhere = "x"\n')
    code = (
        "import json, perfect_nb\n"
        "from perfect_nb import Flow, task, context\n"
        "with Flow('f') as f:\n"
        "    t = task(lambda: [context.foo, context.bar, context.team, context.where, context.mine])()\n"
        "print(json.dumps([context.foo, context.bar, context.team, f.run().result[t].result]))\n"
    )
    env = {"PERFECT_NB_HOME": str(tmp_path), "PREFECT__CONTEXT__FOO": "3", "PREFECT__CONTEXT__BAR": "[1,2]",
           "PREFECT__CONTEXT__TEAM": "env", "PERFECT_NB__CONTEXT__MINE": "ours"}
    assert _in_new_python(code, env) == [3, [1, 2], "env", [3, [1, 2], "env", "x", "ours"]]


# --- threads ---------------------------------------------------------------------------------------
def _in_thread(fn):
    box = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0]


def test_a_new_thread_starts_from_the_configured_keys_only():
    """1.4.1: inside `with context(a=1)`, a new thread sees context.get("a") is None and its
    keys are ['config'] (the configured keys, not the caller's)."""
    with context(secret=1):
        keys, value = _in_thread(lambda: (set(context.keys()), context.get("secret")))
        assert value is None and "config" in keys and "secret" not in keys
        assert context.secret == 1


def test_values_set_in_a_thread_stay_in_that_thread():
    """1.4.1: the context is a threading.local, so what a thread sets is not seen elsewhere."""
    def body():
        context.update(mine="thread")
        with context(block="thread"):
            pass
        return context.get("mine"), context.get("block")

    assert _in_thread(body) == ("thread", None)
    assert "mine" not in context


def test_concurrent_threads_each_see_their_own_values():
    """1.4.1: four threads each inside their own `with context(who=i)` each read their own i."""
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


def test_tasks_on_threads_each_read_their_own_run():
    """1.4.1 on LocalDaskExecutor(threads): each mapped child reads its own map_index."""
    from perfect_nb.executors import LocalDaskExecutor

    @task
    def where(x):
        return context.map_index, context.task_name

    with Flow("threads") as flow:
        out = where.map(list(range(8)))
    state = flow.run(executor=LocalDaskExecutor(scheduler="threads", num_workers=4))
    assert state.result[out].result == [(i, "where") for i in range(8)]
