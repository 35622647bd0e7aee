"""Property: a cached run gives exactly what a fresh run gives, whatever was edited.

Hypothesis (fixed seed) draws sequences of edits to what the tasks of one
``%%perfect_flow`` cell depend on: task code, helper functions, closures,
defaults, globals, partials, bound methods and their instances, an inherited
``run()``, module attributes, a module file edited and reloaded, and a task
that changes its input in place. After each edit the cell runs with its cache;
the same flow then runs with an empty cache; every task's state and result must
be the same. Small edit values make edits come back to earlier versions, so
runs mix hits on old entries with runs.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfect_nb.cache.runs import FlowCache
from perfect_nb.notebook import caches, views

pytestmark = pytest.mark.timeout(120)

MODULE = "pnb_prop_mod"

SETUP = f"""
import functools, importlib, pathlib
from perfect_nb import Task, task
import {MODULE}
importlib.reload({MODULE})
G = 1

def helper(x):
    return x * G

def make_adder(k):
    def add(x):
        return x + k
    return add

adder = make_adder(1)

def wrap(a, b):
    return a * 10 + b + {MODULE}.OFFSET

class Scaler:
    def __init__(self, k):
        self.k = k

    def scale(self, x):
        return x * self.k

scaler = Scaler(2)

class Base(Task):
    def run(self, x):
        return x + 1

class Child(Base):
    pass

@task
def source(n=3):
    return list(range(n))

@task
def grow(xs):
    xs.append({MODULE}.RATE)
    return len(xs)

@task
def total(xs):
    return sum(helper(x) for x in xs)

@task
def add_it(t):
    return adder(t)

t_partial = task(functools.partial(wrap, 2), name="t_partial")
t_method = task(scaler.scale, name="t_method")
child = Child(name="child")
"""

BODY = """
xs = source()
g = grow(xs)
t = total(xs)
a = add_it(t)
p = t_partial(g)
s = t_method(a)
c = child(s)
"""

EDITS = {
    "code": "@task\ndef total(xs):\n    return sum(helper(x) for x in xs) + {k}\n",
    "helper": "def helper(x):\n    return x * G + {k}\n",
    "global": "G = {k}\n",
    "closure": "adder = make_adder({k})\n",
    "default": "@task\ndef source(n={k} + 1):\n    return list(range(n))\n",
    "partial": "t_partial = task(functools.partial(wrap, {k}), name='t_partial')\n",
    "instance": "scaler.k = {k}\n",
    "method": "def scale(self, x):\n    return x * self.k + {k}\nScaler.scale = scale\nt_method = task(scaler.scale, name='t_method')\n",
    "base": "def run(self, x):\n    return x + {k}\nBase.run = run\n",
    "module_attribute": f"{MODULE}.RATE = {{k}}\n",
    "module_file": f"pathlib.Path(MODULE_FILE).write_text('OFFSET = {{k}}\\nRATE = 5\\n')\nimportlib.reload({MODULE})\n",
    "in_place": f"@task\ndef grow(xs):\n    xs.extend([{MODULE}.RATE] * {{k}})\n    xs.sort()\n    return len(xs)\n",
    "nothing": "\n",
}

edits = st.lists(st.tuples(st.sampled_from(sorted(EDITS)), st.integers(0, 2)), min_size=1, max_size=6)


def _outcome(flow_state) -> dict:
    """slug -> (kind of end, result); a hit counts as the success it stands for."""
    return {t.slug: ("Success" if s.type == "Cached" else s.type, s.result) for t, s in flow_state.result.items()}


@pytest.fixture
def module_file(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path = tmp_path / f"{MODULE}.py"
    yield path
    sys.modules.pop(MODULE, None)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits)
def test_every_cached_run_equals_a_fresh_run(ip, run_cell, module_file, sequence):
    caches.clear()
    views.clear()
    module_file.write_text(textwrap.dedent("OFFSET = 0\nRATE = 5\n"))
    ip.user_ns["MODULE_FILE"] = str(module_file)
    run_cell(SETUP)
    differences = []
    for step, (name, k) in enumerate([("nothing", 0)] + sequence):
        run_cell(EDITS[name].format(k=k))
        ip.run_cell_magic("perfect_flow", "prop", BODY)
        flow = ip.user_ns["prop"]
        cached = _outcome(flow.last_run)
        fresh = _outcome(flow.run(cache=FlowCache().plan(flow)))  # an empty cache: every task runs
        reasons = {t.slug: s.context.get("cache_reason") for t, s in flow.last_run.result.items()}
        for slug in fresh:
            if cached.get(slug) != fresh[slug]:
                differences.append((step, name, k, slug, cached.get(slug), fresh[slug], reasons.get(slug)))
    assert differences == []
