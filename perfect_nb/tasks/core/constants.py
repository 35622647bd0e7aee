"""``Constant``: a task that returns a fixed value (Prefect 1's ``tasks.core.constants``).

>>> Constant([1, 2]).run(), Constant([1, 2]).name, Constant(list(range(9))).name
([1, 2], '[1, 2]', 'Constant[list]')
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core.task import Task

__all__ = ["Constant"]


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
