"""The tasks the model makes by itself while a flow is built.

- ``Constant``: a literal argument of a task (``add(x, 1)``: the ``1``).
- ``List``, ``Tuple``, ``Set``, ``Dict`` (with ``VarArgsTask``): a collection
  argument that holds tasks (``total([a, b, 3])``).
- the operator tasks: what ``a + b``, ``a > 3``, ``a & b``, ``a[k]``, ``a.not_()``
  build between tasks (and ``GetAttr``, which Prefect 1 keeps beside them).

They subclass :class:`~perfect_nb.core.task.Task`, and Task builds them, so the
two depend on each other. The dependency is kept one way: this module imports
``core.task`` and, once its classes exist, hands them to Task's table
(``core.task.IMPLICIT``, read by ``as_task`` and the operators);
``perfect_nb/core/__init__.py`` imports this module, so the table is full
whenever Task can be imported. Prefect 1's paths, ``tasks.core.constants``,
``tasks.core.collections`` and ``tasks.core.operators``, re-export these classes,
and ``tasks/`` imports ``core/``, never the other way round.

>>> Constant([1, 2]).run(), Constant([1, 2]).name, Constant(list(range(9))).name
([1, 2], '[1, 2]', 'Constant[list]')
>>> List().run(arg_2="b", arg_1="a"), Dict().run(keys=["k"], values=[1])
(['a', 'b'], {'k': 1})
>>> Add().run(2, 3), GetItem().run({"k": 1}, "k"), GetAttr(default=0).run(1 + 2j, "imag")
(5, 1, 2.0)
"""

from __future__ import annotations

import enum
import operator as _op
from typing import Any

from perfect_nb.core import task as _task
from perfect_nb.core.task import Task

__all__ = [
    "Add", "And", "Constant", "Dict", "Div", "Equal", "FloorDiv", "GetAttr", "GetItem", "GreaterThan",
    "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "List", "Mod", "Mul", "NoDefault", "Not",
    "NotEqual", "Or", "Pow", "Set", "Sub", "Tuple", "VarArgsTask",
]


# --- constants ------------------------------------------------------------------------------
def _default_name(value: Any) -> str:
    """As Prefect 1 names them: the repr when it is at most 8 characters, else the type.
    A value holding more than 8 items is not repr'd at all (its repr is longer anyway)."""
    try:
        if len(value) > 8:
            return f"Constant[{type(value).__name__}]"
    except Exception:
        pass
    try:
        text = repr(value)
    except Exception:
        text = ""
    return text if 0 < len(text) <= 8 else f"Constant[{type(value).__name__}]"


class Constant(Task):
    """Returns ``value``."""

    def __init__(self, value: Any, name: str | None = None, **kwargs: Any) -> None:
        self.value = value
        super().__init__(name=name or _default_name(value), **kwargs)

    def run(self) -> Any:
        return self.value


# --- collections ----------------------------------------------------------------------------
def _ordered(kwargs: dict) -> list:
    return [kwargs[k] for k in sorted(kwargs, key=lambda k: int(k.rsplit("_", 1)[1]))]


class VarArgsTask(Task):
    """A task whose ``bind`` (and call) takes ``*args``: the i-th becomes ``arg_i``
    (counting from 1), so ``run(**kwargs)`` receives them by name."""

    def bind(self, *args: Any, mapped: bool = False, upstream_tasks: Any = None, flow: Any = None, **kwargs: Any) -> "Task":
        kwargs.update({f"arg_{i}": value for i, value in enumerate(args, 1)})
        return super().bind(mapped=mapped, upstream_tasks=upstream_tasks, flow=flow, **kwargs)


class List(VarArgsTask):
    """The arguments as a list, in order."""

    def run(self, **task_results: Any) -> list:
        return _ordered(task_results)


class Tuple(VarArgsTask):
    """The arguments as a tuple, in order."""

    def run(self, **task_results: Any) -> tuple:
        return tuple(_ordered(task_results))


class Set(VarArgsTask):
    """The arguments as a set."""

    def run(self, **task_results: Any) -> set:
        return set(_ordered(task_results))


class Dict(Task):
    """``dict(zip(keys, values))``; keys and values may hold tasks."""

    def run(self, keys: list, values: list) -> dict:
        keys, values = list(keys), list(values)
        if len(keys) != len(values):
            raise ValueError(f"Dict task got {len(keys)} keys and {len(values)} values; pass as many of each.")
        return dict(zip(keys, values))


# --- operators ------------------------------------------------------------------------------
class NoDefault(enum.Enum):
    """The marker for "no default given" (``NoDefault.value``, shown ``<no default>``), as in Prefect 1."""

    value = "no default"

    def __repr__(self) -> str:
        return "<no default>"


_NO_DEFAULT = NoDefault.value


class _Binary(Task):
    _fn = staticmethod(_op.add)

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

    def run(self, x: Any) -> bool:
        return not x


# Task's table of the classes it builds (see the module docstring).
_task.IMPLICIT.update(
    {cls.__name__: cls for cls in (Constant, List, Tuple, Set, Dict, GetItem, Not, Add, Sub, Mul, Div, FloorDiv,
                                   Mod, Pow, And, Or, Equal, NotEqual, GreaterThan, GreaterThanOrEqual,
                                   LessThan, LessThanOrEqual)}
)
