"""``case``: a block of tasks that runs only when a task's result equals a value.

Tasks created inside ``with case(task, value):`` wait for a ``CompareValue``
task that receives ``task``'s result. When the result differs, that condition
task is Skipped and every task of the block is Skipped with it (and whatever
depends on them, as usual for skips). Only the tasks of the block that do not
already depend on another task of the block get the condition as an upstream,
so the block keeps its own internal order.

>>> from perfect_nb import Flow, task
>>> @task
... def mode():
...     return "fast"
>>> @task
... def label(text):
...     return text
>>> with Flow("case") as flow:
...     m = mode()
...     with case(m, "fast"):
...         fast = label("fast path")
...     with case(m, "slow"):
...         slow = label("slow path")
>>> state = flow.run()
>>> state.result[fast].result, state.result[slow].type
('fast path', 'Skipped')
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core import context as _context
from perfect_nb.core.task import Task
from perfect_nb.tasks.control_flow.conditional import CompareValue

__all__ = ["case"]


class case:  # noqa: N801 - lower case, as in Prefect 1: it reads as a statement
    """A conditional block: ``with case(task, value):``.

    Tasks created inside the block run only when ``task``'s result ``==``
    ``value``; otherwise they end Skipped. Blocks nest: an inner block runs
    only when both conditions hold.

    Parameters
    ----------
    task : Task or Any
        The task whose result decides. As in Prefect 1.4.1, a plain value is accepted
        too: it is folded into the condition task as a constant (``case(True, True)``
        always runs its block, ``case(True, False)`` always skips it).
    value : Any
        The value that selects this block. The condition task is named
        ``case(<value>)`` with ``str(value)``, as in Prefect 1 (``case(fast)``).

    Raises
    ------
    ValueError
        When used outside ``with Flow(...)``.

    Examples
    --------
    >>> from perfect_nb import Flow, Parameter, task
    >>> @task
    ... def greet(name):
    ...     return f"hello {name}"
    >>> with Flow("greeting") as flow:
    ...     lang = Parameter("lang", default="en")
    ...     with case(lang, "en"):
    ...         english = greet("world")
    >>> flow.run().result[english].result
    'hello world'
    >>> flow.run(lang="fr").result[english].type
    'Skipped'
    """

    def __init__(self, task: Task | Any, value: Any) -> None:
        self.task = task
        self.value = value
        self._flow: Any = None
        self._before: set | None = None
        self._scope: Any = None

    def __repr__(self) -> str:
        name = self.task.name if isinstance(self.task, Task) else repr(self.task)
        return f"<case: {name} == {self.value!r}>"

    def __enter__(self) -> "case":
        if self._flow is not None:
            raise RuntimeError(f"{self!r} is already open; use a new case(...) for each block.")
        flow = _context.current().get("flow")
        if flow is None:
            raise ValueError(
                "case() can only be used inside `with Flow('name') as flow:`: "
                "it adds a condition to the tasks created in its block."
            )
        self._flow = flow
        self._before = set(flow.tasks)
        self._scope = _context.context(case=self)
        self._scope.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        flow, before = self._flow, self._before
        self._scope.__exit__(exc_type, exc, tb)
        self._flow = self._before = self._scope = None
        if exc_type is not None:
            return
        inside = flow.tasks - before
        if isinstance(self.task, Task):
            inside.discard(self.task)
        if not inside:
            return
        # named with str(value) and given a plain value as a constant, as Prefect 1.4.1 does
        condition = CompareValue(self.value, name=f"case({self.value})").bind(value=self.task, flow=flow)
        for child in inside:
            if not (flow.upstream_tasks(child) & inside):
                flow.add_edge(condition, child)
