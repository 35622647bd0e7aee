"""A task that returns a fixed value (used when a constant is mapped over)."""

from __future__ import annotations

from typing import Any

from perfect_nb.core.task import Task

__all__ = ["Constant"]


class Constant(Task):
    """Returns ``value``.

    >>> Constant([1, 2]).run()
    [1, 2]
    """

    def __init__(self, value: Any, name: str | None = None, **kwargs: Any) -> None:
        self.value = value
        super().__init__(name=name or f"Constant[{type(value).__name__}]", **kwargs)

    def run(self) -> Any:
        return self.value
