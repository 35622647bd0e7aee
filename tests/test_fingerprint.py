"""Code fingerprints (perfect_nb.cache.fingerprint): an edit gives a new one, a rewrite does not."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
import types

import pytest

from perfect_nb import Task, task
from perfect_nb.cache.fingerprint import _Hasher, fingerprint, task_fingerprint


def _function(source: str, name: str, scope: dict | None = None) -> types.FunctionType:
    scope = {} if scope is None else scope
    exec(textwrap.dedent(source), scope)
    return scope[name]


def test_an_edited_body_gives_a_new_fingerprint_and_a_comment_does_not():
    a = _function("def f(x):\n    return x + 1\n", "f")
    b = _function("def f(x):\n    # a comment\n    return x + 1\n", "f")
    c = _function("def f(x):\n    return x + 2\n", "f")
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert task_fingerprint(task(a)) == task_fingerprint(task(b)) != task_fingerprint(task(c))


def test_mutual_recursion_is_fingerprinted_completely_from_either_end():
    scope: dict = {}
    _function("def even(n):\n    return True if n == 0 else odd(n - 1)\n", "even", scope)
    _function("def odd(n):\n    return False if n == 0 else even(n - 1)\n", "odd", scope)
    hasher = _Hasher()
    even_first, odd_after = hasher.function(scope["even"]), hasher.function(scope["odd"])  # one hasher, as in a plan
    assert None not in (even_first, odd_after)
    _function("def even(n):\n    return n % 2 == 0\n", "even", scope)
    hasher = _Hasher()
    hasher.function(scope["even"])
    assert hasher.function(scope["odd"]) != odd_after  # odd's fingerprint, even when met second, covers the even it calls


def test_partials_methods_and_callable_objects_cover_what_they_hold():
    def add(a, b):
        return a + b

    assert fingerprint(functools.partial(add, 1)) != fingerprint(functools.partial(add, 2))
    assert fingerprint(functools.partial(add, b=1)) == fingerprint(functools.partial(add, b=1))

    class Counter:
        def __init__(self, start):
            self.start = start

        def __call__(self, x):
            return x + self.start

        def plus(self, x):
            return x + self.start

    one, two = Counter(1), Counter(2)
    assert fingerprint(one) != fingerprint(two)
    assert fingerprint(one.plus) != fingerprint(two.plus)
    assert task_fingerprint(task(one, name="c")) != task_fingerprint(task(two, name="c"))


def test_an_inherited_run_is_part_of_a_task_subclass():
    scope: dict = {"Task": Task, "__name__": "pnb_test_scope"}  # a module that is not imported: user code
    exec("class Base(Task):\n    def run(self, x):\n        return x\nclass Child(Base):\n    pass\n", scope)
    before = task_fingerprint(scope["Child"]())
    exec("class Base(Task):\n    def run(self, x):\n        return -x\nclass Child(Base):\n    pass\n", scope)
    assert task_fingerprint(scope["Child"]()) != before


def test_run_time_lookups_have_no_fingerprint_and_say_why():
    hasher = _Hasher()
    f = _function("def f():\n    return globals()['x']\n", "f")
    assert hasher.function(f) is None
    assert "globals()" in hasher.notes[0]
    method_named_globals = _function("def g(obj):\n    return obj.globals()\n", "g")
    assert fingerprint(method_named_globals) is not None  # an attribute called globals is not the builtin


def test_module_attributes_read_count(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "pnb_fp_settings.py").write_text("RATE = 1\n")
    import pnb_fp_settings

    try:
        f = _function("import pnb_fp_settings\ndef f(x):\n    return x * pnb_fp_settings.RATE\n", "f")
        before = fingerprint(f)
        pnb_fp_settings.RATE = 2
        assert fingerprint(f) != before
    finally:
        sys.modules.pop("pnb_fp_settings", None)


SCRIPT = "from perfect_nb.cache.fingerprint import fingerprint\ndef f(x):\n    return x in {'a', 'b', 'c', 'd'}\nprint(fingerprint(f))\n"


@pytest.mark.timeout(60)
def test_fingerprints_are_the_same_in_processes_with_other_hash_seeds():
    outs = {subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1 and "None" not in outs.pop()
