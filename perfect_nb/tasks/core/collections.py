"""Tasks that gather the results of other tasks into a list, tuple, set or dict.

They appear when a collection holding tasks is passed as an argument:
``total(values=[a, b, 3])`` makes a ``List`` task fed by ``a`` and ``b``.
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core.task import Task

__all__ = ["Dict", "List", "Set", "Tuple"]


def _ordered(kwargs: dict) -> list:
    return [kwargs[k] for k in sorted(kwargs, key=lambda k: int(k.rsplit("_", 1)[1]))]


class List(Task):
    """``List().run(arg_0=1, arg_1=2) == [1, 2]``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "List")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> list:
        return _ordered(task_results)


class Tuple(List):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Tuple")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> tuple:
        return tuple(_ordered(task_results))


class Set(List):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Set")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> set:
        return set(_ordered(task_results))


class Dict(Task):
    """``Dict().run(keys=["a"], values=[1]) == {"a": 1}``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Dict")
        super().__init__(**kwargs)

    def run(self, keys: list, values: list) -> dict:
        if len(keys) != len(values):
            raise ValueError("Dict task needs as many keys as values.")
        return dict(zip(keys, values))
