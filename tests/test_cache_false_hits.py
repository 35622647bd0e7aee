"""No false cache hits (issue 15 §1, issue 16 point 3).

Each test edits something a task depends on, runs the cell again with the
cache, then with ``--no-cache``, and checks that the cached run gave the fresh
run's values, with the reason the cache gave for running (or not running) the
task. Modules edited and reloaded are real files.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from perfect_nb.notebook import views

pytestmark = pytest.mark.timeout(120)


def run(ip, line: str, body: str) -> dict:
    """Run a %%perfect_flow cell; return {slug: state} of its run (``ran`` lists what ran)."""
    if isinstance(ip.user_ns.get("ran"), list):
        ip.user_ns["ran"].clear()  # a global the tasks read: the same before every run
    ip.run_cell_magic("perfect_flow", line, body)
    state = ip.user_ns[line.split()[0]].last_run
    return {t.slug: s for t, s in state.result.items()}


def cached_and_fresh(ip, name: str, body: str, slug: str):
    """The cached run's state of ``slug``, and the result a --no-cache run gives it."""
    cached = run(ip, name, body)[slug]
    fresh = run(ip, f"{name} --no-cache", body)[slug]
    return cached, fresh.result


def rerun(ip, line: str) -> dict:
    """``%perfect_rerun LINE`` (``ran`` cleared first, as in ``run``); {slug: state} of its run."""
    ip.user_ns["ran"].clear()
    ip.run_line_magic("perfect_rerun", line)
    return {t.slug: s for t, s in ip.user_ns[line.split()[0]].last_run.result.items()}


def reason(state) -> tuple:
    return state.context.get("cache_reason"), state.context.get("cache_detail")


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Write importable modules into tmp_path: ``modules("name", source)``; forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edit in the same second must not load a stale .pyc
    written: list[str] = []

    def write(name: str, source: str):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return tmp_path / f"{name}.py"

    yield write
    for name in written:
        sys.modules.pop(name, None)


# --- functools.partial -------------------------------------------------------

PARTIAL = """
import functools
from perfect_nb import task

def offset():
    return 0

def add(a, b):
    return a + b + offset()

inc = task(functools.partial(add, 1), name="inc")
"""


def test_a_partial_with_other_bound_arguments_runs_again(ip, run_cell):
    run_cell(PARTIAL)
    assert run(ip, "part", "out = inc(b=10)\n")["inc"].result == 11
    run_cell("inc = task(functools.partial(add, 5), name='inc')\n")
    cached, fresh = cached_and_fresh(ip, "part", "out = inc(b=10)\n", "inc")
    assert cached.result == fresh == 15
    assert reason(cached) == ("code", None)


def test_a_partial_whose_function_changed_runs_again(ip, run_cell):
    run_cell(PARTIAL)
    run(ip, "part", "out = inc(b=10)\n")
    run_cell("def offset():\n    return 100\n")  # the wrapped function's helper, the partial object unchanged
    cached, fresh = cached_and_fresh(ip, "part", "out = inc(b=10)\n", "inc")
    assert cached.result == fresh == 111
    assert reason(cached) == ("code", None)
    run_cell("def add(a, b):\n    return a * b\ninc = task(functools.partial(add, 1), name='inc')\n")
    cached, fresh = cached_and_fresh(ip, "part", "out = inc(b=10)\n", "inc")
    assert cached.result == fresh == 10
    assert reason(cached) == ("code", None)


# --- bound methods and callable objects ------------------------------------------

METHODS = """
from perfect_nb import task

class Scaler:
    def __init__(self, k):
        self.k = k

    def scale(self, x):
        return x * self.k

class Multiplier:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return x * self.k

scaler = Scaler(2)
scale = task(scaler.scale, name="scale")
multiplier = Multiplier(3)
multiply = task(multiplier, name="multiply")
"""
METHOD_BODY = "a = scale(10)\nb = multiply(10)\n"


def test_a_bound_method_whose_instance_changed_runs_again(ip, run_cell):
    run_cell(METHODS)
    run(ip, "meth", METHOD_BODY)
    run_cell("scaler.k = 7\n")  # the same object, changed in place
    cached, fresh = cached_and_fresh(ip, "meth", METHOD_BODY, "scale")
    assert cached.result == fresh == 70
    assert reason(cached) == ("code", None)


def test_a_bound_method_whose_code_changed_runs_again(ip, run_cell):
    run_cell(METHODS)
    run(ip, "meth", METHOD_BODY)
    run_cell("def scale_plus(self, x):\n    return x * self.k + 1\nScaler.scale = scale_plus\nscale = task(scaler.scale, name='scale')\n")
    cached, fresh = cached_and_fresh(ip, "meth", METHOD_BODY, "scale")
    assert cached.result == fresh == 21
    assert reason(cached) == ("code", None)


def test_a_callable_object_whose_state_changed_runs_again(ip, run_cell):
    run_cell(METHODS)
    run(ip, "meth", METHOD_BODY)
    run_cell("multiplier.k = 4\n")
    states = run(ip, "meth", METHOD_BODY)
    assert reason(states["scale"])[0] == "cached"
    assert reason(states["multiply"]) == ("code", None)
    assert states["multiply"].result == run(ip, "meth --no-cache", METHOD_BODY)["multiply"].result == 40


# --- a Task subclass with an inherited run() -----------------------------------------

SUBCLASS = """
from perfect_nb import Task

class Base(Task):
    def run(self, x):
        return x + 1

class Child(Base):
    pass

child = Child(name="child")
"""


def test_an_inherited_run_from_an_edited_base_class_runs_again(ip, run_cell):
    run_cell(SUBCLASS)
    assert run(ip, "sub", "out = child(1)\n")["child"].result == 2
    run_cell(SUBCLASS.replace("x + 1", "x + 100"))  # both cells run again: Child's own code is unchanged
    cached, fresh = cached_and_fresh(ip, "sub", "out = child(1)\n", "child")
    assert cached.result == fresh == 101
    assert reason(cached) == ("code", None)


def test_a_base_class_patched_in_place_runs_its_subclass_again(ip, run_cell):
    run_cell(SUBCLASS)
    run(ip, "sub", "out = child(1)\n")
    run_cell("def run(self, x):\n    return x - 1\nBase.run = run\n")
    cached, fresh = cached_and_fresh(ip, "sub", "out = child(1)\n", "child")
    assert cached.result == fresh == 0
    assert reason(cached) == ("code", None)


# --- names looked up at run time ------------------------------------------------------

DYNAMIC = """
from perfect_nb import task
from perfect_nb.engine.cache_validators import never_use
FACTOR = 2

@task
def pick():
    return globals()["FACTOR"] * 10

@task(cache_validator=never_use)
def clock_like():
    return FACTOR
"""


def test_a_task_reading_globals_dynamically_is_never_reused_and_says_how_to_mark_it(ip, run_cell, perfect_nb_log):
    run_cell(DYNAMIC)
    with perfect_nb_log.at_level(logging.WARNING, logger="perfect_nb.cache"):
        run(ip, "dyn", "out = pick()\n")
    warnings = [r.getMessage() for r in perfect_nb_log.records if "is not cached" in r.getMessage()]
    assert len(warnings) == 1
    assert "'pick'" in warnings[0] and "globals()" in warnings[0] and "cache_validator=never_use" in warnings[0]
    run_cell("FACTOR = 3\n")
    cached, fresh = cached_and_fresh(ip, "dyn", "out = pick()\n", "pick")
    assert cached.result == fresh == 30
    assert reason(cached)[0] == "volatile" and "globals()" in reason(cached)[1]


def test_a_task_marked_never_use_always_runs_and_its_unchanged_result_keeps_downstream(ip, run_cell, perfect_nb_log):
    run_cell(DYNAMIC + "ran = []\n@task\ndef after(x):\n    ran.append(x)\n    return x + 1\n")
    body = "v = clock_like()\nw = after(v)\n"
    with perfect_nb_log.at_level(logging.WARNING, logger="perfect_nb.cache"):
        run(ip, "marked", body)
        states = run(ip, "marked", body)
    assert reason(states["clock_like"]) == ("volatile", "marked cache_validator=never_use")
    assert reason(states["after"])[0] == "cached"  # the marked task gave the same value again
    assert not [r for r in perfect_nb_log.records if "is not cached" in r.getMessage()]  # marked: no warning
    assert ip.user_ns["ran"] == []  # cleared before the second run, in which `after` did not run


# --- modules ---------------------------------------------------------------------------

def test_a_module_attribute_set_from_the_notebook_runs_its_readers_again(ip, run_cell, modules):
    modules("pnb_settings", "RATE = 2\n")
    run_cell("import pnb_settings\nfrom perfect_nb import task\n@task\ndef bill(x):\n    return x * pnb_settings.RATE\n")
    run(ip, "mod", "out = bill(10)\n")
    run_cell("pnb_settings.RATE = 3\n")
    cached, fresh = cached_and_fresh(ip, "mod", "out = bill(10)\n", "bill")
    assert cached.result == fresh == 30
    assert reason(cached) == ("code", None)


def test_a_helper_in_an_edited_and_reloaded_module_runs_its_callers_again(ip, run_cell, modules):
    path = modules("pnb_helpers", "def f(x):\n    return x + 1\n")
    run_cell("import importlib, pnb_helpers\nfrom perfect_nb import task\n@task\ndef use(x):\n    return pnb_helpers.f(x)\n")
    assert run(ip, "reload", "out = use(1)\n")["use"].result == 2
    path.write_text("def f(x):\n    return x + 1000\n")
    run_cell("importlib.reload(pnb_helpers)\n")
    cached, fresh = cached_and_fresh(ip, "reload", "out = use(1)\n", "use")
    assert cached.result == fresh == 1001
    assert reason(cached) == ("code", None)


def test_a_function_imported_by_name_after_its_module_changed_runs_again(ip, run_cell, modules):
    path = modules("pnb_from", "def f(x):\n    return [x]\n")
    run_cell("import importlib, pnb_from\nfrom pnb_from import f\nfrom perfect_nb import task\n@task\ndef use(x):\n    return f(x)\n")
    run(ip, "fromimp", "out = use(1)\n")
    path.write_text("def f(x):\n    return [x, x]\n")
    run_cell("importlib.reload(pnb_from)\nfrom pnb_from import f\n")
    cached, fresh = cached_and_fresh(ip, "fromimp", "out = use(1)\n", "use")
    assert cached.result == fresh == [1, 1]
    assert reason(cached) == ("code", None)


KERNEL = textwrap.dedent(
    """
    import json, sys
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "perfect_nb")
    setup = "import pnb_persist\\nfrom perfect_nb import task\\nran = []\\n@task\\ndef use(x):\\n    ran.append(x)\\n    return pnb_persist.f(x)\\n"
    assert ip.run_cell(setup).success
    ip.run_cell_magic("perfect_flow", "persisted --persist", "out = use(1)\\n")
    state = ip.user_ns["persisted"].last_run.result[ip.user_ns["out"]]
    print(json.dumps({"ran": len(ip.user_ns["ran"]), "value": state.result, "reason": state.context["cache_reason"]}))
    """
)


def _new_kernel(folder) -> dict:
    path = os.pathsep.join([str(folder)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    out = subprocess.run([sys.executable, "-c", KERNEL], cwd=folder, capture_output=True, text=True, timeout=90,
                         env={**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_edited_module_is_seen_by_a_persisted_cache_in_a_new_kernel(tmp_path):
    (tmp_path / "pnb_persist.py").write_text("def f(x):\n    return x + 1\n")
    assert _new_kernel(tmp_path) == {"ran": 1, "value": 2, "reason": "missing"}
    assert _new_kernel(tmp_path) == {"ran": 0, "value": 2, "reason": "cached"}  # read from disk
    (tmp_path / "pnb_persist.py").write_text("def f(x):\n    return x + 50\n")
    assert _new_kernel(tmp_path) == {"ran": 1, "value": 51, "reason": "missing"}  # a new kernel: no earlier key to compare


# --- results changed in place ------------------------------------------------------------

MUTATING = """
from perfect_nb import task

@task
def make():
    return [1, 2, 3]

@task
def grow(xs):
    xs.append(4)
    return len(xs)

@task
def count(xs):
    return len(xs)
"""


def test_a_cached_result_changed_in_place_downstream_is_handed_on_unchanged(ip, run_cell):
    run_cell(MUTATING)
    body = "xs = make()\nn = grow(xs)\n"
    assert run(ip, "mut", body)["grow"].result == 4
    run_cell("@task\ndef grow(xs):\n    xs.append(4)\n    return len(xs) * 10\n")
    cached, fresh = cached_and_fresh(ip, "mut", body, "grow")
    assert reason(cached) == ("code", None)
    assert cached.result == fresh == 40  # not 50: make's cached [1, 2, 3] was not grown by the last run


def test_a_sibling_changing_a_shared_input_does_not_change_what_the_other_gets(ip, run_cell):
    run_cell(MUTATING)
    body = "xs = make()\nn = grow(xs)\nc = count(xs)\n"
    run(ip, "sib", body)
    run_cell("@task\ndef count(xs):\n    return len(xs) + 100\n")  # count runs, grow is reused
    cached, fresh = cached_and_fresh(ip, "sib", body, "count")
    assert cached.result == fresh == 103


def test_a_result_changed_in_the_notebook_does_not_change_the_cache(ip, run_cell):
    run_cell(MUTATING)
    states = run(ip, "nbmut", "xs = make()\n")
    states["make"].result.append("edited by hand")
    assert run(ip, "nbmut", "xs = make()\n")["make"].result == [1, 2, 3]


# --- re-running one task, clearing one task --------------------------------------------

READER = """
import pathlib
from perfect_nb import task
ran = []

@task
def read(path):
    ran.append("read")
    return int(pathlib.Path(path).read_text())

@task
def double(x):
    ran.append("double")
    return 2 * x

@task
def report(y):
    ran.append("report")
    return f"total {y}"
"""


def _reader(ip, run_cell, tmp_path, value="1"):
    data = tmp_path / "value.txt"
    data.write_text(value)
    run_cell(READER)
    ip.user_ns["DATA"] = str(data)
    return data, "x = read(DATA)\ny = double(x)\nz = report(y)\n"


def test_after_rerun_only_a_plain_run_does_not_serve_results_of_the_old_value(ip, run_cell, tmp_path):
    data, body = _reader(ip, run_cell, tmp_path)
    run(ip, "rd", body)
    data.write_text("5")
    states = rerun(ip, "rd read --only")
    assert ip.user_ns["ran"] == ["read"]  # only the task asked for ran
    assert states["read"].result == 5
    assert states["double"].type == "Skipped" and reason(states["double"])[0] == "held"  # not the old 2
    assert states["report"].type == "Skipped"
    assert "not run (--only)" in views["rd"].summary.value
    states = run(ip, "rd", body)
    assert reason(states["double"]) == ("input", "x") and states["double"].result == 10
    assert states["report"].result == run(ip, "rd --no-cache", body)["report"].result == "total 10"


def test_rerun_only_with_the_same_value_keeps_the_downstream_results(ip, run_cell, tmp_path):
    data, body = _reader(ip, run_cell, tmp_path)
    run(ip, "rd", body)
    states = rerun(ip, "rd read --only")
    assert ip.user_ns["ran"] == ["read"]
    assert states["double"].type == "Cached" and states["report"].result == "total 2"


def test_after_clearing_a_task_its_downstream_results_are_not_reused_against_a_new_value(ip, run_cell, tmp_path):
    data, body = _reader(ip, run_cell, tmp_path)
    run(ip, "rd", body)
    data.write_text("7")
    ip.run_line_magic("perfect_cache", "clear rd read")
    states = run(ip, "rd", body)
    assert reason(states["read"]) == ("missing", None)
    assert reason(states["double"]) == ("input", "x")
    assert states["report"].result == run(ip, "rd --no-cache", body)["report"].result == "total 14"


def test_rerun_only_of_a_task_that_now_fails_fails_its_downstream_and_the_flow(ip, run_cell, tmp_path):
    data, body = _reader(ip, run_cell, tmp_path)
    run(ip, "rd", body)
    data.unlink()
    states = rerun(ip, "rd read --only")
    flow_state = ip.user_ns["rd"].last_run
    assert states["read"].is_failed()
    assert states["double"].type == "TriggerFailed" and states["report"].type == "TriggerFailed"
    assert flow_state.is_failed()
    assert views["rd"].states["read"] == "Failed" and views["rd"].states["report"] == "TriggerFailed"
    states = run(ip, "rd", body)  # the failed re-run dropped the old result: no Cached 1
    assert states["read"].is_failed() and states["report"].type == "TriggerFailed"


def test_a_cached_task_gets_its_trigger_applied_as_a_run_one(ip, run_cell):
    run_cell("from perfect_nb import task\nfrom perfect_nb.triggers import always_run, any_failed\n@task\ndef up():\n    return 1\n@task(trigger=always_run)\ndef down(x):\n    return x + 1\n")
    body = "u = up()\nd = down(u)\n"
    run(ip, "trig", body)
    run_cell("down = down.copy(trigger=any_failed)\n")  # same code, a trigger that fails on a success upstream
    states = run(ip, "trig", body)
    assert states["down"].type == "TriggerFailed"
    assert ip.user_ns["trig"].last_run.is_failed()


def test_two_hits_of_equal_values_do_not_share_what_one_task_changes(ip, run_cell):
    run_cell(MUTATING + "@task\ndef make_again():\n    return [1, 2, 3]\n")
    body = "a = make()\nb = make_again()\nn = grow(b, upstream_tasks=[a])\nc = count(a, upstream_tasks=[b])\n"  # both hits first
    run(ip, "twins", body)
    run_cell("@task\ndef grow(xs):\n    xs.append(4)\n    return len(xs) * 10\n@task\ndef count(xs):\n    return len(xs) + 100\n")
    states = run(ip, "twins", body)
    assert states["make"].type == states["make_again"].type == "Cached"  # one copy of [1, 2, 3] for both
    fresh = run(ip, "twins --no-cache", body)
    assert (states["grow"].result, states["count"].result) == (fresh["grow"].result, fresh["count"].result) == (40, 103)
