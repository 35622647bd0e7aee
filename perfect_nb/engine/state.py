"""The State tree: what a task or flow run is, or was, doing.

Every task run moves through states: ``Pending -> Running -> Success`` in the
plain case. A state carries a ``message`` (why it is in that state) and a
``result`` (the value a task returned, or the exception it raised).

::

    State
    ├── Pending
    │   ├── Scheduled(start_time)
    │   │   ├── Paused
    │   │   ├── Resume
    │   │   └── Retrying(run_count)
    ├── MetaState(state)
    │   ├── Submitted
    │   └── Queued
    ├── Running
    │   └── Cancelling
    └── Finished
        ├── Success
        │   ├── Cached
        │   ├── Mapped(map_states)
        │   └── Skipped
        ├── Looped(loop_count)
        ├── Cancelled
        └── Failed
            ├── TimedOut
            ├── TriggerFailed
            └── ValidationFailed

>>> state = Success(result=3, message="Task run succeeded.")
>>> state.is_successful(), state.is_finished(), state.result
(True, True, 3)
>>> Success(result=3) == Success(result=3, message="other text")
True
>>> Success().result is None
True
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from perfect_nb.core import context as _context

__all__ = [
    "Cached", "Cancelled", "Cancelling", "Failed", "Finished", "Looped", "Mapped",
    "MetaState", "NoResult", "Paused", "Pending", "Queued", "Resume", "Retrying",
    "Running", "Scheduled", "Skipped", "State", "Submitted", "Success", "TimedOut",
    "TriggerFailed", "ValidationFailed",
]


class _NoResultType:
    """A marker for "no result at all", distinct from ``None``.

    States default to ``result=None`` as in Prefect 1; ``NoResult`` is kept for
    code that must tell "returned None" from "produced nothing" (``FilterTask``).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "NoResult"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return "NoResult"


NoResult = _NoResultType()


class State:
    """Base of all states.

    Parameters
    ----------
    message : str, optional
        Why the run is in this state.
    result : Any, optional
        The value (or, for a failure, the exception) the state carries;
        ``None`` when not given, as in Prefect 1.
    context : dict, optional
        Extra facts about the run (for example the cache reason).
    cached_inputs : dict, optional
        Inputs of the run, kept so a retry can reuse them.
    """

    __slots__ = ("message", "result", "context", "cached_inputs", "timestamp", "__weakref__")

    def __init__(
        self,
        message: str | None = None,
        result: Any = None,
        context: dict | None = None,
        cached_inputs: dict | None = None,
    ) -> None:
        self.message = message
        self.result = result
        self.context = context if context is not None else {}
        self.cached_inputs = cached_inputs
        self.timestamp: float | None = None

    # --- comparison and display -----------------------------------------
    def _fields(self) -> tuple:
        """Subclass data that takes part in equality (besides type and result)."""
        return ()

    def __eq__(self, other: object) -> bool:
        """Same type, result, inputs and subclass data; ``message`` and ``context`` are ignored."""
        if type(self) is not type(other):
            return False
        return (
            _same(self.result, other.result)  # type: ignore[attr-defined]
            and _same(self.cached_inputs or {}, other.cached_inputs or {})  # type: ignore[attr-defined]
            and _same(self._fields(), other._fields())  # type: ignore[attr-defined]
        )

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"<{name}: {self.message!r}>" if self.message else f"<{name}>"

    def __getstate__(self):
        return {s: getattr(self, s) for cls in type(self).__mro__ for s in getattr(cls, "__slots__", ()) if s != "__weakref__" and hasattr(self, s)}

    def __setstate__(self, data):
        for key, value in data.items():
            object.__setattr__(self, key, value)

    @property
    def _result(self):
        """Prefect-1 style access to the result holder: ``state._result.value``."""
        return _ResultView(self)

    def load_result(self, result: Any = None) -> "State":
        """Return self; results are held in memory (kept for Prefect 1 compatibility)."""
        return self

    @property
    def type(self) -> str:
        return type(self).__name__

    # --- predicates ------------------------------------------------------
    def is_pending(self) -> bool:
        return isinstance(self, Pending)

    def is_scheduled(self) -> bool:
        """Scheduled (retrying, paused, resumed included) or Queued, as in Prefect 1."""
        return isinstance(self, (Scheduled, Queued))

    def is_paused(self) -> bool:
        return isinstance(self, Paused)

    def is_retrying(self) -> bool:
        return isinstance(self, Retrying)

    def is_submitted(self) -> bool:
        return isinstance(self, Submitted)

    def is_queued(self) -> bool:
        return isinstance(self, Queued)

    def is_meta_state(self) -> bool:
        return isinstance(self, MetaState)

    def is_running(self) -> bool:
        return isinstance(self, Running)

    def is_cancelling(self) -> bool:
        return isinstance(self, Cancelling)

    def is_finished(self) -> bool:
        return isinstance(self, Finished)

    def is_successful(self) -> bool:
        return isinstance(self, Success)

    def is_cached(self) -> bool:
        return isinstance(self, Cached)

    def is_mapped(self) -> bool:
        return isinstance(self, Mapped)

    def is_skipped(self) -> bool:
        return isinstance(self, Skipped)

    def is_looped(self) -> bool:
        return isinstance(self, Looped)

    def is_cancelled(self) -> bool:
        return isinstance(self, Cancelled)

    def is_failed(self) -> bool:
        return isinstance(self, Failed)

    def is_timed_out(self) -> bool:
        return isinstance(self, TimedOut)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # arrays and frames compare element-wise
        return False


class _ResultView:
    __slots__ = ("value", "location")

    def __init__(self, state: State) -> None:
        self.value = state.result
        self.location = state.context.get("result_location")


class Pending(State):
    """Waiting to run."""

    __slots__ = ()


class Scheduled(Pending):
    """Waiting to run at ``start_time`` (UTC datetime, or None for now)."""

    __slots__ = ("start_time",)

    def __init__(self, message=None, result=None, start_time=None, context=None, cached_inputs=None):
        super().__init__(message, result, context, cached_inputs)
        self.start_time = start_time

    def _fields(self) -> tuple:
        return (self.start_time,)


class Paused(Scheduled):
    """Waiting for a person to resume it (``manual_only`` trigger, ``PAUSE`` signal)."""

    __slots__ = ()


class Resume(Scheduled):
    """Given to a paused task to let it run past its trigger."""

    __slots__ = ()


class Retrying(Scheduled):
    """A failed run that will run again at ``start_time``; ``run_count`` runs so far
    (default: the context's ``task_run_count``, else 1)."""

    __slots__ = ("run_count",)

    def __init__(self, message=None, result=None, start_time=None, run_count=None, context=None, cached_inputs=None):
        super().__init__(message, result, start_time, context, cached_inputs)
        self.run_count = run_count if run_count is not None else _context.current().get("task_run_count", 1)

    def _fields(self) -> tuple:
        return (self.start_time, self.run_count)


class MetaState(State):
    """A state that wraps another one (``state``)."""

    __slots__ = ("state",)

    def __init__(self, message=None, result=None, state=None, context=None, cached_inputs=None):
        super().__init__(message, result, context, cached_inputs)
        self.state = state

    def _fields(self) -> tuple:
        return (self.state,)


class Submitted(MetaState):
    """Handed to an executor, not started yet."""

    __slots__ = ()


class Queued(MetaState):
    """Waiting for a free slot (for example a concurrency limit)."""

    __slots__ = ("start_time",)

    def __init__(self, message=None, result=None, state=None, start_time=None, context=None, cached_inputs=None):
        super().__init__(message, result, state, context, cached_inputs)
        self.start_time = start_time

    def _fields(self) -> tuple:
        return (self.state, self.start_time)


class Running(State):
    """Running now."""

    __slots__ = ()


class Cancelling(Running):
    """Asked to stop; stopping."""

    __slots__ = ()


class Finished(State):
    """Done, one way or another."""

    __slots__ = ()


class Success(Finished):
    """Finished and returned ``result``."""

    __slots__ = ()


class Cached(Success):
    """A result reused from an earlier run instead of running again."""

    __slots__ = ("cached_parameters", "cached_result_expiration")

    def __init__(
        self,
        message=None,
        result=None,
        cached_inputs=None,
        cached_parameters=None,
        cached_result_expiration: _dt.datetime | None = None,
        context=None,
    ):
        super().__init__(message, result, context, cached_inputs)
        self.cached_parameters = cached_parameters
        self.cached_result_expiration = cached_result_expiration

    def _fields(self) -> tuple:
        return (self.cached_parameters, self.cached_result_expiration)


class Mapped(Success):
    """A mapped parent whose children ran; their states are ``map_states``."""

    __slots__ = ("map_states",)

    def __init__(self, message=None, result=None, map_states=None, context=None, cached_inputs=None):
        super().__init__(message, result, context, cached_inputs)
        self.map_states = list(map_states) if map_states is not None else []

    @property
    def n_map_states(self) -> int:
        return len(self.map_states)

    def _fields(self) -> tuple:
        return tuple(self.map_states)


class Skipped(Success):
    """Not run, on purpose (a ``SKIP`` signal or a skipped upstream)."""

    __slots__ = ()


class Looped(Finished):
    """One iteration of a looping task finished; ``loop_count`` iterations so far
    (default: the context's ``task_loop_count``, else 1)."""

    __slots__ = ("loop_count",)

    def __init__(self, message=None, result=None, loop_count=None, context=None, cached_inputs=None):
        super().__init__(message, result, context, cached_inputs)
        self.loop_count = loop_count if loop_count is not None else _context.current().get("task_loop_count", 1)

    def _fields(self) -> tuple:
        return (self.loop_count,)


class Cancelled(Finished):
    """Stopped before it finished (an interrupted run)."""

    __slots__ = ()


class Failed(Finished):
    """Finished with an error; ``result`` is the exception."""

    __slots__ = ()


class TimedOut(Failed):
    """Ran longer than its ``timeout``."""

    __slots__ = ()


class TriggerFailed(Failed):
    """Did not run because its trigger said no (usually: an upstream failed)."""

    __slots__ = ()


class ValidationFailed(Failed):
    """Ran, but its result did not pass validation."""

    __slots__ = ()
