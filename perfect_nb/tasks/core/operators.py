"""Operator tasks: what ``a + b``, ``a > 3``, ``a[k]`` build between tasks.

>>> Add().run(2, 3), GetItem().run({"k": 1}, "k")
(5, 1)
"""

from __future__ import annotations

import operator as _op
from typing import Any

from perfect_nb.core.task import Task

__all__ = [
    "Add", "And", "Div", "Equal", "FloorDiv", "GetItem", "GreaterThan",
    "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "Mod", "Mul", "Not",
    "NotEqual", "Or", "Pow", "Sub",
]


class _Binary(Task):
    _fn = staticmethod(_op.add)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", type(self).__name__)
        super().__init__(**kwargs)

    def run(self, x: Any, y: Any) -> Any:
        return self._fn(x, y)


def _make(name: str, fn) -> type:
    return type(name, (_Binary,), {"_fn": staticmethod(fn), "__doc__": f"``x {name} y`` as a task.", "__module__": __name__})


Add = _make("Add", _op.add)
Sub = _make("Sub", _op.sub)
Mul = _make("Mul", _op.mul)
Div = _make("Div", _op.truediv)
FloorDiv = _make("FloorDiv", _op.floordiv)
Mod = _make("Mod", _op.mod)
Pow = _make("Pow", _op.pow)
And = _make("And", lambda x, y: bool(x and y))
Or = _make("Or", lambda x, y: bool(x or y))
Equal = _make("Equal", _op.eq)
NotEqual = _make("NotEqual", _op.ne)
GreaterThan = _make("GreaterThan", _op.gt)
GreaterThanOrEqual = _make("GreaterThanOrEqual", _op.ge)
LessThan = _make("LessThan", _op.lt)
LessThanOrEqual = _make("LessThanOrEqual", _op.le)


class GetItem(Task):
    """``task[key]`` as a task."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "GetItem")
        super().__init__(**kwargs)

    def run(self, task_result: Any, key: Any) -> Any:
        return task_result[key]


class Not(Task):
    """``not x`` as a task."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Not")
        super().__init__(**kwargs)

    def run(self, task_result: Any) -> bool:
        return not task_result
