"""Operator tasks: what ``a + b``, ``a > 3``, ``a & b``, ``a[k]`` build between tasks,
at Prefect 1's path ``tasks.core.operators``.

>>> Add().run(2, 3), GetItem().run({"k": 1}, "k"), GetAttr(default=0).run(1 + 2j, "imag")
(5, 1, 2.0)
>>> And().run(1, 0), Or().run(0, "a")
(0, 'a')

``a | b`` is not an operator task: as in Prefect 1 it makes ``b`` run after ``a``.
"""

from __future__ import annotations

import enum
import operator as _op
from typing import Any

from perfect_nb.core.task import Task

__all__ = [
    "Add", "And", "Div", "Equal", "FloorDiv", "GetAttr", "GetItem", "GreaterThan",
    "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "Mod", "Mul", "NoDefault", "Not",
    "NotEqual", "Or", "Pow", "Sub",
]


class NoDefault(enum.Enum):
    """The marker for "no default given" (``NoDefault.value``, shown ``<no default>``), as in Prefect 1."""

    value = "no default"

    def __repr__(self) -> str:
        return "<no default>"


_NO_DEFAULT = NoDefault.value


class _Binary(Task):
    _fn = staticmethod(_op.add)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", type(self).__name__)
        super().__init__(**kwargs)

    def run(self, x: Any, y: Any) -> Any:
        return self._fn(x, y)


def _make(name: str, fn, text: str) -> type:
    return type(name, (_Binary,), {"_fn": staticmethod(fn), "__doc__": f"``{text}`` as a task.", "__module__": __name__})


Add = _make("Add", _op.add, "x + y")
Sub = _make("Sub", _op.sub, "x - y")
Mul = _make("Mul", _op.mul, "x * y")
Div = _make("Div", _op.truediv, "x / y")
FloorDiv = _make("FloorDiv", _op.floordiv, "x // y")
Mod = _make("Mod", _op.mod, "x % y")
Pow = _make("Pow", _op.pow, "x ** y")
And = _make("And", lambda x, y: x and y, "x and y")  # the operand, as Python's `and` (and Prefect 1)
Or = _make("Or", lambda x, y: x or y, "x or y")
Equal = _make("Equal", _op.eq, "x == y")
NotEqual = _make("NotEqual", _op.ne, "x != y")
GreaterThan = _make("GreaterThan", _op.gt, "x > y")
GreaterThanOrEqual = _make("GreaterThanOrEqual", _op.ge, "x >= y")
LessThan = _make("LessThan", _op.lt, "x < y")
LessThanOrEqual = _make("LessThanOrEqual", _op.le, "x <= y")


class GetItem(Task):
    """``task[key]`` as a task; with ``default=``, a missing key (KeyError, as in Prefect 1:
    an index out of range still fails) gives it instead of failing."""

    def __init__(self, default: Any = _NO_DEFAULT, **kwargs: Any) -> None:
        self.default = default
        kwargs.setdefault("name", "GetItem")
        super().__init__(**kwargs)

    def run(self, task_result: Any, key: Any) -> Any:
        if self.default is _NO_DEFAULT:
            return task_result[key]
        try:
            return task_result[key]
        except KeyError:
            return self.default


class GetAttr(Task):
    """``getattr(result, attr)`` as a task; ``attr`` may be dotted (``"a.b"``), and with
    ``default=`` a missing attribute gives it instead of failing."""

    def __init__(self, default: Any = _NO_DEFAULT, **kwargs: Any) -> None:
        self.default = default
        kwargs.setdefault("name", "GetAttr")
        super().__init__(**kwargs)

    def run(self, task_result: Any, attr: str) -> Any:
        if self.default is _NO_DEFAULT:
            return _op.attrgetter(attr)(task_result)
        try:
            return _op.attrgetter(attr)(task_result)
        except AttributeError:
            return self.default


class Not(Task):
    """``not x`` as a task."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Not")
        super().__init__(**kwargs)

    def run(self, x: Any) -> bool:
        return not x
