"""Debugging helpers from Prefect 1's ``prefect.utilities.debug``.

``raise_on_exception()`` makes an error inside a task propagate out of ``flow.run()``
(instead of ending the task ``Failed``), so a debugger or a traceback lands on it.
``is_serializable(obj)`` says whether ``obj`` survives a cloudpickle round trip.

>>> is_serializable(lambda x: x + 1)
True
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import cloudpickle

from perfect_nb.core.context import context

__all__ = ["is_serializable", "raise_on_exception"]


@contextlib.contextmanager
def raise_on_exception() -> Iterator[None]:
    """Within the block, an exception a task raises leaves ``flow.run()`` (and
    ``FlowRunner.run()``) as it is; signals such as ``SKIP`` or ``FAIL`` still set states.
    It works with the default executor and with a thread pool (``LocalDaskExecutor``);
    it is a flag in the run context, so the flow runner and the task runner each re-raise
    an error they would otherwise turn into ``Failed``.

    >>> from perfect_nb import Flow, task
    >>> @task
    ... def broken():
    ...     raise ValueError("look here")
    >>> with Flow("debug") as flow:
    ...     _ = broken()
    >>> with raise_on_exception():
    ...     flow.run()
    Traceback (most recent call last):
    ...
    ValueError: look here
    """
    with context(raise_on_exception=True):
        yield


def is_serializable(obj: Any, raise_on_error: bool = False) -> bool:
    """True if ``obj`` can be pickled with cloudpickle and loaded back.

    With ``raise_on_error=True`` the pickling error is raised instead of returning False.
    (Prefect 1 loads the pickle in a fresh subprocess; this loads it in this process, so an
    object that depends on a module only imported here still passes.)

    >>> import threading
    >>> is_serializable(threading.Lock())
    False
    """
    try:
        cloudpickle.loads(cloudpickle.dumps(obj))
    except Exception:
        if raise_on_error:
            raise
        return False
    return True
