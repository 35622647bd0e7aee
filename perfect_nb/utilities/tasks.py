"""Prefect 1's ``prefect.utilities.tasks``: ``task``, ``as_task``, ``apply_map``,
``defaults_from_attrs``, ``pause_task``, ``tags``, ``unmapped``.

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

from perfect_nb.core import context as _context
from perfect_nb.core.context import context, tags
from perfect_nb.core.edge import EdgeAnnotation, unmapped
from perfect_nb.core.task import Task, as_task, task
from perfect_nb.engine import signals

__all__ = ["apply_map", "as_task", "defaults_from_attrs", "pause_task", "tags", "task", "unmapped"]


def apply_map(func: Callable, *args: Any, flow: Any = None, **kwargs: Any) -> Any:
    """Map a function that *builds* tasks over one or more arguments: the tasks ``func``
    adds run once per item, as if each were ``.map``-ped (so a ``case`` block can sit
    inside a mapped pipeline). Returns what ``func`` returns.

    As in Prefect 1: an argument wrapped in ``unmapped()`` is passed whole and ``flatten()``
    maps over the items of the items; every edge into a task ``func`` creates is mapped,
    including one from a task created outside (pass such a task through ``apply_map``'s own
    arguments with ``unmapped()`` to give each child all of it); a task ``func`` creates
    with no mapped input runs once per item too. With ``flow=``, ``func`` is called with
    ``flow=`` as well.

    >>> from perfect_nb import Flow, case, task
    >>> from perfect_nb.tasks.control_flow import merge
    >>> @task
    ... def is_even(x):
    ...     return x % 2 == 0
    >>> @task
    ... def half(x):
    ...     return x // 2
    >>> def half_if_even(x):
    ...     with case(is_even(x), True):
    ...         h = half(x)
    ...     return merge(h, x)
    >>> with Flow("apply-map") as flow:
    ...     out = apply_map(half_if_even, [4, 5, 6])
    >>> flow.run().result[out].result
    [2, 5, 3]
    """
    explicit = flow is not None
    flow = flow if explicit else _context.current().get("flow")
    if flow is None:
        raise ValueError(
            "apply_map() could not find a flow: call it inside `with Flow('name') as flow:` "
            "or pass flow=... (func is then called with flow= too)."
        )
    sources: dict[Task, bool] = {}  # mapped argument task -> flattened
    whole: set[Task] = set()  # tasks passed with unmapped()

    def prepare(value: Any) -> Any:
        flags = value.annotations if isinstance(value, EdgeAnnotation) else {}
        value = value.value if isinstance(value, EdgeAnnotation) else value
        if flags.get("mapped", True) is False:
            if isinstance(value, Task):
                whole.add(value)
            return value
        made = as_task(value, flow=flow)
        sources[made] = bool(flags.get("flattened", False)) or sources.get(made, False)
        return made

    args2 = [prepare(a) for a in args]
    kwargs2 = {k: prepare(v) for k, v in kwargs.items()}
    if explicit:
        kwargs2["flow"] = flow
    tasks_before, edges_before = set(flow.tasks), set(flow.edges)
    result = func(*args2, **kwargs2)
    new_tasks = flow.tasks - tasks_before - set(sources) - whole
    new_edges = [e for e in flow.edges - edges_before if e.downstream_task in new_tasks]
    nested = sorted({e.downstream_task.name for e in new_edges if e.mapped})
    if nested:
        raise ValueError(
            f"apply_map(): {func.__name__ if hasattr(func, '__name__') else func!r} maps task(s) "
            f"{nested} itself (.map or mapped=); inside apply_map every task is already mapped, "
            "so call them plainly."
        )
    fed = set()
    for edge in new_edges:
        up = edge.upstream_task
        if up in whole:
            continue
        flow._remap_edge(edge, mapped=True, flattened=sources.get(up, edge.flattened))
        fed.add(edge.downstream_task)
    for orphan in sorted(new_tasks - fed, key=flow._order.__getitem__):
        for source, flattened in sources.items():
            flow.add_edge(source, orphan, mapped=True, flattened=flattened)
    return result


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
