"""Branching tasks: ``switch``, ``ifelse`` and ``merge``.

A branch is chosen at run time by a small condition task that compares the
result of a task with a value and raises ``SKIP`` when they differ. Everything
downstream of a skipped condition is Skipped too (the usual skip propagation),
so only the chosen branch runs. ``merge`` joins the branches again.

>>> from perfect_nb import Flow, task
>>> @task
... def pick():
...     return "b"
>>> @task
... def shout(word):
...     return word.upper()
>>> with Flow("switch") as flow:
...     a, b = shout("a"), shout("b")
...     switch(pick(), {"a": a, "b": b})
...     chosen = merge(a, b)
>>> state = flow.run()
>>> state.result[a].type, state.result[b].type, state.result[chosen].result
('Skipped', 'Success', 'B')
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core import context as _context
from perfect_nb.core.task import Task, as_task
from perfect_nb.engine import signals
from perfect_nb.engine.triggers import not_all_skipped

__all__ = ["CompareValue", "Merge", "ifelse", "merge", "switch"]


class CompareValue(Task):
    """Succeeds when the value it receives equals ``value``; otherwise raises ``SKIP``.

    Parameters
    ----------
    value : Any
        The value to match (compared with ``==``).
    **kwargs
        Task options.

    >>> CompareValue(3).run(3) is None
    True
    >>> CompareValue(3).run(4)
    Traceback (most recent call last):
    ...
    perfect_nb.engine.signals.SKIP: Provided value "4" did not match "3"
    """

    def __init__(self, value: Any, **kwargs: Any) -> None:
        self.value = value
        kwargs.setdefault("name", f'CompareValue: "{value}"')  # Prefect 1.4.1's name
        super().__init__(**kwargs)

    def run(self, value: Any) -> None:
        if value != self.value:
            raise signals.SKIP(f'Provided value "{value}" did not match "{self.value}"')  # Prefect 1.4.1's message


class Merge(Task):
    """Returns the first upstream result that is not ``None`` (skipped branches give ``None``).

    Its arguments are ``task1``, ``task2``, ... (in order). It runs unless
    every upstream task skipped (trigger ``not_all_skipped``), and never skips
    just because one upstream did.

    >>> Merge().run(task1=None, task2=5, task10=7)
    5
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.setdefault("skip_on_upstream_skip", False):
            raise ValueError("A Merge task must have skip_on_upstream_skip=False: it exists to run when some branches skipped.")
        kwargs.setdefault("trigger", not_all_skipped)
        kwargs.setdefault("name", "Merge")
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> Any:
        # order task1, task2, ..., task10 by number (a plain sort would put task10 before task2)
        for key in sorted(task_results, key=_branch_number):
            if task_results[key] is not None:
                return task_results[key]
        return None


class AsBool(Task):
    """``bool(x)`` as a task; ``ifelse`` uses it so any truthy result selects the true branch."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "as_bool")
        super().__init__(**kwargs)

    def run(self, x: Any) -> bool:
        return bool(x)


def _branch_number(key: str) -> tuple:
    digits = key[len("task"):]
    return (0, int(digits)) if key.startswith("task") and digits.isdigit() else (1, key)


def _active_flow(flow: Any, what: str) -> Any:
    flow = flow if flow is not None else _context.current().get("flow")
    if flow is None:
        raise ValueError(
            f"{what} needs a flow: call it inside `with Flow('name') as flow:` or pass flow=flow."
        )
    return flow


def switch(condition: Task, cases: dict, mapped: bool = False, *, flow: Any = None) -> None:
    """Run only the task of ``cases`` whose key equals the result of ``condition``.

    Every other task of ``cases`` is Skipped, and so is everything downstream of
    it (unless a downstream task sets ``skip_on_upstream_skip=False``).

    Parameters
    ----------
    condition : Task or Any
        The task whose result picks the branch (a plain value is folded in as a
        constant, as in Prefect 1.4.1).
    cases : dict
        Value -> task to run when ``condition`` returns that value (``==``).
    mapped : bool
        Compare child by child when ``condition`` is mapped.
    flow : Flow, optional
        The flow to add the branches to (default: the active flow).

    Examples
    --------
    >>> from perfect_nb import Flow, task
    >>> @task
    ... def weekday():
    ...     return 6
    >>> @task
    ... def report(kind):
    ...     return kind
    >>> with Flow("switch") as flow:
    ...     work, saturday, sunday = report("work"), report("sat"), report("sun")
    ...     switch(weekday(), {0: work, 5: saturday, 6: sunday})
    >>> state = flow.run()
    >>> [state.result[t].type for t in (work, saturday, sunday)], state.result[sunday].result
    (['Skipped', 'Skipped', 'Success'], 'sun')
    """
    if not isinstance(cases, dict):
        raise TypeError(f"switch() takes cases as a dict of value -> task, got {type(cases).__name__}.")
    flow = _active_flow(flow, "switch()")
    branches = [(value, as_task(branch, flow=flow)) for value, branch in cases.items()]
    seen: dict[Task, Any] = {}
    for value, branch in branches:
        if branch in seen:
            raise ValueError(
                f"switch(): task {branch.name!r} is the branch for both {seen[branch]!r} and {value!r}; "
                "it would always be skipped (one of its conditions always fails). Give each value its own "
                "task, or compute one value for both cases before the switch."
            )
        seen[branch] = value
    with _context.tags("switch"):
        for value, branch in branches:
            match = CompareValue(value).bind(value=condition, mapped=mapped, flow=flow)
            flow.set_dependencies(branch, upstream_tasks=[match], mapped=mapped)


def ifelse(condition: Task, true_task: Task | None, false_task: Task | None, mapped: bool = False, *, flow: Any = None) -> None:
    """Run ``true_task`` when ``condition``'s result is truthy, else ``false_task``.

    The branch not taken is Skipped (and so is everything downstream of it).
    Either task may be None for a one-sided branch.

    Parameters
    ----------
    condition : Task or Any
        Its result is tested with ``bool()`` (a plain value is accepted, as in Prefect 1.4.1).
    true_task, false_task : Task or None
    mapped : bool
        Decide child by child when ``condition`` is mapped.
    flow : Flow, optional
        The flow to add the branches to (default: the active flow).

    Examples
    --------
    >>> from perfect_nb import Flow, task
    >>> @task
    ... def rows():
    ...     return []
    >>> @task
    ... def say(text):
    ...     return text
    >>> with Flow("ifelse") as flow:
    ...     full, empty = say("load"), say("nothing to load")
    ...     ifelse(rows(), full, empty)
    >>> state = flow.run()
    >>> state.result[full].type, state.result[empty].result
    ('Skipped', 'nothing to load')
    """
    flow = _active_flow(flow, "ifelse()")
    cases = {value: branch for value, branch in ((True, true_task), (False, false_task)) if branch is not None}
    if cases:
        switch(AsBool().bind(condition, mapped=mapped, flow=flow), cases, mapped=mapped, flow=flow)


def merge(*tasks: Task, flow: Any = None, mapped: bool = False) -> Task:
    """A task returning the result of the first of ``tasks`` that was not skipped.

    Use it after ``case``, ``switch`` or ``ifelse`` to join the branches. A
    skipped task's result is ``None``, so ``merge`` returns the first result that
    is not ``None`` (in the order given), or ``None``. It is Skipped only when
    every branch skipped, and it does not run (TriggerFailed) if a branch failed.

    Parameters
    ----------
    *tasks : Task
        The branches, in order of preference.
    flow : Flow, optional
        The flow to add the merge task to (default: the active flow).
    mapped : bool
        Merge child by child.

    Examples
    --------
    >>> from perfect_nb import Flow, Parameter, task
    >>> from perfect_nb.tasks.control_flow import case
    >>> @task
    ... def double(x):
    ...     return 2 * x
    >>> with Flow("merge") as flow:
    ...     big = Parameter("big", default=True)
    ...     with case(big, True):
    ...         a = double(100)
    ...     with case(big, False):
    ...         b = double(1)
    ...     value = merge(a, b)
    >>> flow.run().result[value].result, flow.run(big=False).result[value].result
    (200, 2)
    """
    if not tasks:
        raise ValueError("merge() needs at least one task to merge.")
    flow = _active_flow(flow, "merge()")
    return Merge().bind(**{f"task{i}": t for i, t in enumerate(tasks, start=1)}, flow=flow, mapped=mapped)
