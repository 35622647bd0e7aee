"""The per-cell cache: only what an edit affects runs again; reasons; re-running one task."""

import logging
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfect_nb.notebook import caches, config, views

TASKS = """
from perfect_nb import task, Parameter
ran = []

def helper(x):
    return x + 1

@task
def extract(n):
    ran.append("extract")
    return list(range(n))

@task
def transform(x):
    ran.append("transform")
    return helper(x)

@task
def load(xs):
    ran.append("load")
    return sum(xs)

@task
def report(total, label):
    ran.append("report")
    return f"{label}: {total}"
"""

BODY = """
n = Parameter("n", default=3)
rows = extract(n)
total = load(transform.map(rows))
text = report(total, "sum")
"""


def run_flow(ip, line="etl", body=BODY):
    """Run a %%perfect_flow cell; return (sorted task bodies that ran, {slug: (state, reason, detail)})."""
    ip.user_ns["ran"].clear()
    ip.run_cell_magic("perfect_flow", line, body)
    state = ip.user_ns[line.split()[0]].last_run
    info = {t.slug: (s.type, s.context.get("cache_reason"), s.context.get("cache_detail")) for t, s in state.result.items()}
    return sorted(ip.user_ns["ran"]), info


@pytest.fixture
def nb(ip, run_cell):
    run_cell(TASKS)
    return ip


def test_unchanged_cell_runs_no_task_bodies(nb):
    ran, _ = run_flow(nb)
    assert ran == ["extract", "load", "report", "transform", "transform", "transform"]
    first = nb.user_ns["etl"].last_run
    ran, info = run_flow(nb)
    assert ran == []
    assert {kind for kind, _, _ in info.values()} == {"Cached", "Mapped"}
    assert all(reason == "cached" for _, reason, _ in info.values())
    second = nb.user_ns["etl"].last_run
    before = {t.slug: s.result for t, s in first.result.items()}
    assert {t.slug: s.result for t, s in second.result.items()} == before
    assert views["etl"].states["load"] == "Cached"


def test_editing_one_task_reruns_it_and_its_downstream(nb, run_cell):
    run_flow(nb)
    run_cell('@task\ndef load(xs):\n    ran.append("load")\n    return sum(xs) * 10\n')
    ran, info = run_flow(nb)
    assert ran == ["load", "report"]
    assert info["load"][1:] == ("code", None)
    assert info["report"][1:] == ("input", "total")
    assert info["extract"][1] == "cached"


def test_formatting_and_comments_do_not_count(nb, run_cell):
    run_flow(nb)
    run_cell('@task\ndef load(xs):   # the same code, written differently\n    ran.append( "load" )\n\n    return sum(xs)\n')
    assert run_flow(nb)[0] == []


def test_editing_a_helper_in_another_cell_reruns_its_callers(nb, run_cell):
    run_flow(nb)
    run_cell("def helper(x):\n    return x + 100\n")
    ran, info = run_flow(nb)
    assert ran == ["load", "report", "transform", "transform", "transform"]
    assert info["transform"][1] == "code"
    assert nb.user_ns["etl"].last_run.result[nb.user_ns["total"]].result == 303


def test_changing_a_parameter_reruns_only_its_downstream(nb):
    run_flow(nb)
    ran, info = run_flow(nb, "etl --param n=4")
    assert "report" in ran and "extract" in ran
    assert info["n"][1:] == ("parameter", "n")
    assert info["extract"][1:] == ("parameter", "n")
    assert info["load"][1:] == ("input", "xs")


def test_changing_a_parameter_in_the_form_reruns_its_downstream(nb):
    run_flow(nb)
    nb.user_ns["ran"].clear()
    view = views["etl"]
    view.form.values = {"n": 2}
    view.form.click_run()
    assert sorted(nb.user_ns["ran"]) == ["extract", "load", "report", "transform", "transform"]
    assert nb.user_ns["etl"].last_run.result[nb.user_ns["total"]].result == 3


def test_a_value_without_a_deterministic_token_is_never_a_hit(nb, run_cell):
    run_cell("import threading\nlock = threading.Lock()\n@task\ndef use(l):\n    ran.append('use')\n    return 1\n")
    body = "u = use(lock)\n"
    assert run_flow(nb, "locked", body)[0] == ["use"]
    ran, info = run_flow(nb, "locked", body)
    assert ran == ["use"] and info["use"][1] != "cached"


def test_rerun_one_task_and_its_downstream(nb):
    from perfect_nb.notebook import rerun

    run_flow(nb)
    nb.user_ns["ran"].clear()
    state = rerun(nb.user_ns["etl"], "load")
    assert sorted(nb.user_ns["ran"]) == ["load", "report"]
    reasons = {t.slug: s.context.get("cache_reason") for t, s in state.result.items()}
    assert reasons["load"] == "forced" and reasons["report"] == "forced" and reasons["extract"] == "cached"


def test_rerun_only_one_task_with_the_magic(nb):
    run_flow(nb)
    nb.user_ns["ran"].clear()
    nb.run_line_magic("perfect_rerun", "etl load --only")
    assert nb.user_ns["ran"] == ["load"]
    assert views["etl"].states["report"] == "Cached"


def test_rerun_computes_a_missing_upstream_first(nb):
    run_flow(nb)
    nb.run_line_magic("perfect_cache", "clear etl extract")
    nb.user_ns["ran"].clear()
    state = views["etl"].rerun("load", downstream=False)
    assert sorted(nb.user_ns["ran"]) == ["extract", "load"]
    assert state.result[nb.user_ns["rows"]].context["cache_reason"] == "missing"
    assert "extract (not in cache)" in views["etl"].summary.value


def test_rerun_of_an_unknown_task_is_a_usage_error(nb):
    from IPython.core.error import UsageError

    run_flow(nb)
    with pytest.raises(UsageError, match="no task 'nope'"):
        nb.run_line_magic("perfect_rerun", "etl nope")
    with pytest.raises(UsageError, match="No %%perfect_flow cell named 'other'"):
        nb.run_line_magic("perfect_rerun", "other load")


def test_no_cache_forces_a_full_run(nb):
    run_flow(nb)
    ran, info = run_flow(nb, "etl --no-cache")
    assert len(ran) == 6
    assert {reason for _, reason, _ in info.values()} == {"forced"}


def test_cache_info_and_clear(nb):
    run_flow(nb)
    run_flow(nb)
    report = nb.run_line_magic("perfect_cache", "info etl")
    assert report["etl"]["entries"] == 7  # n, extract, 3 transform children, load, report
    assert report["etl"]["hits"] == 7
    assert "etl" in repr(report)
    nb.run_line_magic("perfect_cache", "clear etl")
    assert nb.run_line_magic("perfect_cache", "info etl")["etl"]["entries"] == 0
    assert len(run_flow(nb)[0]) == 6


def test_memory_is_bounded_least_recently_used_first(nb, monkeypatch):
    monkeypatch.setattr(config, "max_bytes", 2_000)
    run_cell_body = "big = extract(300)\n"
    run_flow(nb, "bounded", run_cell_body)
    assert caches["bounded"].store.info()["bytes"] <= 2_000


def test_persisted_results_survive_a_restart(nb, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_flow(nb, "etl --persist")
    assert list((tmp_path / ".perfect_cache" / "etl").glob("*.pkl"))
    caches.clear()  # what a kernel restart loses
    ran, info = run_flow(nb, "etl --persist")
    assert ran == []
    assert all(reason == "cached" for _, reason, _ in info.values())


def test_a_corrupt_entry_is_a_miss_with_a_warning(nb, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    run_flow(nb, "etl --persist")
    caches.clear()
    for path in (tmp_path / ".perfect_cache" / "etl").glob("*.pkl"):
        path.write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING, logger="perfect_nb.cache"):
        ran, _ = run_flow(nb, "etl --persist")
    assert len(ran) == 6
    assert "unreadable" in caplog.text


def test_unpicklable_results_stay_in_memory_with_one_warning(nb, run_cell, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    run_cell("import threading\n@task\ndef make_lock(i):\n    ran.append('lock')\n    return threading.Lock()\n")
    with caplog.at_level(logging.WARNING, logger="perfect_nb.cache"):
        run_flow(nb, "locks --persist", "locks_made = make_lock.map([1, 2, 3])\n")
    assert caplog.text.count("cannot be pickled") == 1
    assert run_flow(nb, "locks --persist", "locks_made = make_lock.map([1, 2, 3])\n")[0] == []


KEY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from perfect_nb import Flow, Parameter, task
    from perfect_nb.cache.runs import FlowCache

    def helper(x):
        return [x, x]

    @task
    def double(x, factor):
        return helper(x) * factor

    values = json.loads(sys.argv[1])
    keys = []
    for value in values:
        with Flow("keys") as flow:
            double(Parameter("p", default=1), value)
        plan = FlowCache().plan(flow, {"p": 7})
        keys.append(sorted(plan.keys[t] for t in flow.tasks))
    print(json.dumps(keys))
    """
)


def _keys_in_a_new_process(values):
    import json

    out = subprocess.run([sys.executable, "-c", KEY_SCRIPT, json.dumps(values)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3), max_leaves=6)


@settings(max_examples=5, deadline=None)
@given(st.lists(json_values, min_size=2, max_size=6, unique_by=lambda v: repr(v)))
def test_keys_are_deterministic_across_processes_and_follow_inputs(values):
    first = _keys_in_a_new_process(values)
    second = _keys_in_a_new_process(values)
    assert first == second
    distinct = {tuple(k) for k in first}
    assert len(distinct) == len(values)  # a different constant input gives a different key


@settings(max_examples=25, deadline=None)
@given(st.integers(), st.integers())
def test_keys_change_with_parameters(a, b):
    from perfect_nb import Flow, Parameter, task
    from perfect_nb.cache.runs import FlowCache

    @task
    def use(p):
        return p

    with Flow("params") as flow:
        used = use(Parameter("p", default=0))
    cache = FlowCache()
    key_a = cache.plan(flow, {"p": a}).keys[used]
    key_b = cache.plan(flow, {"p": b}).keys[used]
    assert (key_a == key_b) == (a == b)


def test_keys_change_with_code(tmp_path):
    base = KEY_SCRIPT
    changed = KEY_SCRIPT.replace("return [x, x]", "return [x, x, x]")
    keys = []
    for script in (base, changed):
        out = subprocess.run([sys.executable, "-c", script, "[1]"], capture_output=True, text=True, check=True)
        keys.append(out.stdout)
    assert keys[0] != keys[1]


def test_one_object_held_by_several_tasks_is_counted_once():
    from perfect_nb.cache.store import ResultStore

    big = bytearray(10_000)
    store = ResultStore(max_bytes=15_000)
    for key in ("a", "b", "c"):
        store.put(key, big)  # a chain of tasks passing the same object along
    assert all(store.get(key)[0] for key in ("a", "b", "c"))
    assert store.info()["bytes"] < 15_000
    store.drop(["a"])
    assert store.info()["bytes"] >= 10_000  # still held by b and c
    store.drop(["b", "c"])
    assert store.info()["bytes"] == 0


def test_the_cache_works_with_the_threads_executor(nb):
    assert len(run_flow(nb, "etl --executor threads")[0]) == 6
    ran, info = run_flow(nb, "etl --executor threads")
    assert ran == [] and all(reason == "cached" for _, reason, _ in info.values())


def test_clearing_a_task_drops_the_results_of_every_parameter_value(nb):
    run_flow(nb, "etl --param n=2")
    run_flow(nb, "etl --param n=3")
    nb.run_line_magic("perfect_cache", "clear etl extract")
    ran, _ = run_flow(nb, "etl --param n=2")
    assert "extract" in ran  # the n=2 result went too, not only the latest
