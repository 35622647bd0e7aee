"""Operator tasks: what ``a + b``, ``a > 3``, ``a & b``, ``a[k]`` build between tasks,
at Prefect 1's path ``tasks.core.operators``. Defined in :mod:`perfect_nb.core.implicit`,
with the other tasks the model makes by itself.

>>> Add().run(2, 3), GetItem().run({"k": 1}, "k"), GetAttr(default=0).run(1 + 2j, "imag")
(5, 1, 2.0)
>>> And().run(1, 0), Or().run(0, "a")
(0, 'a')

``a | b`` is not an operator task: as in Prefect 1 it makes ``b`` run after ``a``.
"""

from perfect_nb.core.implicit import (
    Add, And, Div, Equal, FloorDiv, GetAttr, GetItem, GreaterThan, GreaterThanOrEqual, LessThan,
    LessThanOrEqual, Mod, Mul, NoDefault, Not, NotEqual, Or, Pow, Sub,
)

__all__ = [
    "Add", "And", "Div", "Equal", "FloorDiv", "GetAttr", "GetItem", "GreaterThan",
    "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "Mod", "Mul", "NoDefault", "Not",
    "NotEqual", "Or", "Pow", "Sub",
]
