"""Tasks that gather results into a list, tuple, set or dict (Prefect 1's
``tasks.core.collections``).

They appear when a collection holding tasks is passed as an argument:
``total(values=[a, b, 3])`` makes a ``List`` task fed by ``a`` and ``b``. Called
in a flow they take positional arguments, which become ``arg_1``, ``arg_2``, ...
as in Prefect 1:

>>> List().run(arg_2="b", arg_1="a"), Dict().run(keys=["k"], values=[1])
(['a', 'b'], {'k': 1})
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core.task import Task

__all__ = ["Dict", "List", "Set", "Tuple", "VarArgsTask"]


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

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "List")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> list:
        return _ordered(task_results)


class Tuple(VarArgsTask):
    """The arguments as a tuple, in order."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Tuple")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> tuple:
        return tuple(_ordered(task_results))


class Set(VarArgsTask):
    """The arguments as a set."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Set")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> set:
        return set(_ordered(task_results))


class Dict(Task):
    """``dict(zip(keys, values))``; keys and values may hold tasks."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Dict")
        super().__init__(**kwargs)

    def run(self, keys: list, values: list) -> dict:
        keys, values = list(keys), list(values)
        if len(keys) != len(values):
            raise ValueError(f"Dict task got {len(keys)} keys and {len(values)} values; pass as many of each.")
        return dict(zip(keys, values))
