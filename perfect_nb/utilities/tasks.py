"""Prefect 1's ``prefect.utilities.tasks``: ``task``, ``as_task``, ``defaults_from_attrs``,
``pause_task``, ``tags``, ``unmapped``.

>>> from perfect_nb import Task
>>> class Greet(Task):
...     def __init__(self, greeting="hello", **kwargs):
...         self.greeting = greeting
...         super().__init__(**kwargs)
...     @defaults_from_attrs("greeting")
...     def run(self, name, greeting=None):
...         return f"{greeting} {name}"
>>> Greet().run("ann"), Greet().run("bo", greeting="hi"), Greet().run("cy", greeting=None)
('hello ann', 'hi bo', 'None cy')
"""

from __future__ import annotations

import datetime as _dt
import functools
from typing import Any, Callable

from perfect_nb.core.context import context, tags
from perfect_nb.core.edge import unmapped
from perfect_nb.core.task import as_task, task
from perfect_nb.engine import signals

__all__ = ["as_task", "defaults_from_attrs", "pause_task", "tags", "task", "unmapped"]


def defaults_from_attrs(*attr_args: str) -> Callable:
    """Decorate a Task's ``run``: an argument named in ``attr_args`` that the call does not
    pass by keyword takes the value of the task's attribute of that name. As in Prefect 1,
    an explicit ``None`` is kept, and such arguments should not be passed by position."""
    if len(attr_args) == 1 and callable(attr_args[0]):
        raise TypeError("defaults_from_attrs takes attribute names: use @defaults_from_attrs('name', ...).")

    def decorator(run: Callable) -> Callable:
        @functools.wraps(run)
        def method(self, *args: Any, **kwargs: Any) -> Any:
            for attr in attr_args:
                if attr not in kwargs:
                    kwargs[attr] = getattr(self, attr)
            return run(self, *args, **kwargs)

        return method

    return decorator


def pause_task(message: str | None = None, duration: _dt.timedelta | None = None) -> None:
    """Called inside a task: end it ``Paused`` (with ``start_time`` = now + ``duration``
    when given), unless the run is a resume of that pause, in which case it returns."""
    if context.get("resume", False):
        return
    start = _dt.datetime.now(_dt.timezone.utc) + duration if duration is not None else None
    raise signals.PAUSE(message or "Pause signal raised during task execution.", start_time=start)
