"""``FilterTask``: drop unwanted items from a list of results, typically after a map.

>>> FilterTask().run([1, None, ValueError("bad"), 0])
[1, 0]

As in Prefect 1.4.1, the default keeps what is not ``None`` or an ``Exception``: a
signal a mapped child raised (``SKIP``, ``FAIL``; Prefect 1's signals are not
``Exception`` subclasses) and a ``NoResult`` given in a list are kept.

>>> from perfect_nb.engine.signals import SKIP
>>> FilterTask().run([SKIP("not this one"), 2])
[SKIP('not this one'), 2]
"""

from __future__ import annotations

from typing import Any, Callable

from perfect_nb.core.task import Task
from perfect_nb.engine.triggers import all_finished

__all__ = ["FilterTask"]


def _keep_by_default(result: Any) -> bool:
    """Drop ``None`` and exceptions (a failed child's result), as Prefect 1.4.1's default:
    a signal (a BaseException, not an Exception) and ``NoResult`` are kept."""
    return not (result is None or isinstance(result, Exception))


class FilterTask(Task):
    """Filter a list of results (usually the children of a mapped task).

    By default it drops ``None`` and exceptions: the results of mapped children
    that returned nothing, failed with an error or did not run. As in Prefect 1.4.1,
    a child that raised a signal (``SKIP``, ``FAIL``) keeps the signal as its result,
    and the default filter keeps it (pass ``filter_func`` to drop it too). It runs once every
    upstream task finished, however it ended (trigger ``all_finished``), and it
    does not skip when an upstream skipped (``skip_on_upstream_skip=False``).

    Parameters
    ----------
    filter_func : callable, optional
        ``filter_func(item) -> bool``: True keeps the item.
    log_func : callable, optional
        ``log_func(kept_items) -> str``, logged at INFO level after filtering.
    **kwargs
        Task options.

    Examples
    --------
    >>> from perfect_nb import Flow, task
    >>> @task
    ... def inverse(x):
    ...     return 1 / x
    >>> with Flow("filter") as flow:
    ...     inverses = inverse.map([1, 0, 4])
    ...     ok = FilterTask()(inverses)
    ...     even = FilterTask(filter_func=lambda x: x % 2 == 0)([1, 2, 3, 4])
    >>> state = flow.run()
    >>> state.result[ok].result, state.result[even].result
    ([1.0, 0.25], [2, 4])
    """

    def __init__(self, filter_func: Callable[[Any], bool] | None = None, log_func: Callable[[list], str] | None = None, **kwargs: Any) -> None:
        if filter_func is not None and not callable(filter_func):
            raise TypeError(f"FilterTask: filter_func must be a callable item -> bool, got {filter_func!r}.")
        if log_func is not None and not callable(log_func):
            raise TypeError(f"FilterTask: log_func must be a callable list -> str, got {log_func!r}.")
        self.filter_func = filter_func or _keep_by_default
        self.log_func = log_func
        kwargs.setdefault("trigger", all_finished)
        kwargs.setdefault("skip_on_upstream_skip", False)
        kwargs.setdefault("name", "FilterTask")
        super().__init__(**kwargs)

    def run(self, task_results: list) -> list:
        """The items of ``task_results`` that ``filter_func`` keeps, in order."""
        try:
            kept = [item for item in task_results if self.filter_func(item)]
        except TypeError:
            if not hasattr(task_results, "__iter__"):
                raise TypeError(f"FilterTask needs a list of results (for example a mapped task), got {task_results!r}.") from None
            raise
        if self.log_func is not None:
            self.logger.info(self.log_func(kept))
        return kept
