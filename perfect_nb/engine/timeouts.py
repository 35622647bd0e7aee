"""Task timeouts: run a body in a thread, give up on it after ``timeout`` seconds.

A timed-out body is told to stop: an exception is raised inside its thread at
its next Python bytecode. A body blocked outside Python bytecode (``time.sleep``,
a socket read, a C extension) cannot be stopped that way and keeps running.
Whoever can stop it for real registers a *stopper*: a process-pool worker
exits once it has sent its answer (the pool starts a replacement), a Dask
worker asks for a restart through its nanny. In the flow runner's own
process (LocalExecutor, threads) nobody can, and the TimedOut message says so.

>>> import time
>>> call_with_timeout(lambda: "quick", {}, 5)
'quick'
"""

from __future__ import annotations

import contextvars
import ctypes
import logging
import threading
from typing import Any, Callable

__all__ = ["TaskTimeoutError", "call_with_timeout", "stoppers"]

_GRACE = 0.1  # seconds a timed-out body gets to stop once told to

#: ``stopper(thread) -> sentence or None``: what stops a timed-out body that did not
#: stop when told (None: this stopper cannot). The first sentence given goes into the
#: TimedOut message. Pool workers and Dask workers add theirs; the flow runner's
#: process has none.
stoppers: list[Callable[[threading.Thread], str | None]] = []

_CANNOT_STOP = (
    "Its body did not stop when told (it is blocked outside Python code: sleeping, waiting "
    "on I/O or inside a C extension) and may still be running in this process; the local and "
    "threads executors cannot stop it. Run this task with LocalDaskExecutor('processes') or "
    "DaskExecutor to have a timed-out body really stopped."
)


class TaskTimeoutError(Exception):
    """The result of a TimedOut task: its body ran past the task's ``timeout``."""


def call_with_timeout(fn: Callable, inputs: dict, timeout: float, log_stdout: bool = False, logger: logging.Logger | None = None) -> Any:
    """Run ``fn(**inputs)`` in a thread; raise TaskTimeoutError after ``timeout`` seconds.

    The error's message says whether the body stopped and, if it did not, who
    stops it (or that nobody can).
    """
    box: list = []
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            if log_stdout:
                from perfect_nb.engine.task_runner import _stdout_to_log

                with _stdout_to_log(logger):
                    box.append((True, ctx.run(fn, **inputs)))
            else:
                box.append((True, ctx.run(fn, **inputs)))
        except BaseException as exc:  # handed to the caller below
            box.append((False, exc))

    thread = threading.Thread(target=target, daemon=True, name="perfect_nb-timeout")
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not box:
        raise TaskTimeoutError(_stop(thread, timeout))
    ok, value = box[0]
    if ok:
        return value
    raise value


def _stop(thread: threading.Thread, timeout: float) -> str:
    """Tell the body to stop; the TimedOut message for what happened."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(TaskTimeoutError))
    thread.join(_GRACE)
    head = f"Task timed out during execution (timeout: {timeout} s)."
    if not thread.is_alive():
        return f"{head} Its body was stopped."
    for stopper in stoppers:
        sentence = stopper(thread)
        if sentence:
            return f"{head} {sentence}"
    return f"{head} {_CANNOT_STOP}"
