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
    │   ├── ClientFailed
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
>>> Success(result=3)._result, Success()._result
(<Result: 3>, <NoResultType: None>)
>>> Success.color, Success.parents()
('#28a745', [<class 'perfect_nb.engine.state.Finished'>, <class 'perfect_nb.engine.state.State'>])
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from perfect_nb.core import context as _context
from perfect_nb.engine.result import NoResult, NoResultType, Result

__all__ = [
    "Cached", "Cancelled", "Cancelling", "ClientFailed", "Failed", "Finished", "Looped", "Mapped",
    "MetaState", "NoResult", "NoResultType", "Paused", "Pending", "Queued", "Resume", "Retrying",
    "Running", "Scheduled", "Skipped", "State", "Submitted", "Success", "TimedOut",
    "TriggerFailed", "ValidationFailed",
]


class State:
    """Base of all states.

    Parameters
    ----------
    message : str, optional
        Why the run is in this state.
    result : Any, optional
        The value (or, for a failure, the exception) the state carries. It is
        held in a :class:`~perfect_nb.engine.result.Result`: ``state._result``
        is that Result (``NoResult`` when nothing was given), ``state.result``
        its value. A Result given here is kept as the holder itself.
    context : dict, optional
        Extra facts about the run (for example the cache reason).
    cached_inputs : dict, optional
        Inputs of the run, kept so a retry can reuse them.

    The class attribute ``color`` is Prefect 1's colour of the state;
    ``parents()`` and ``children()`` walk the tree above.
    """

    # Slots behind properties, so the per-task path allocates nothing it does not use:
    # _res is the Result holder, or the plain value until someone asks for the holder
    # (``_result``); _context and _cached_inputs stay None until first read (then {}).
    # _timestamp: when the engine entered this state (seconds since the epoch); private,
    # as Prefect 1's states have no time of their own; the events carry it.
    # _tags: the task's tags, set by the task runner on each state it moves a task to; they
    # become context["tags"] when the context is first read (Prefect 1 copies them there).
    __slots__ = ("message", "_res", "_context", "_cached_inputs", "_timestamp", "_tags", "__weakref__")
    color = "#696969"

    def __init__(
        self,
        message: str | None = None,
        result: Any = None,
        context: dict | None = None,
        cached_inputs: dict | None = None,
    ) -> None:
        self.message = message
        self._res = NoResult if result is None else result
        self._context = context
        self._cached_inputs = cached_inputs
        self._timestamp: float | None = None

    @property
    def result(self) -> Any:
        """The value held by ``_result`` (None for ``NoResult``)."""
        res = self._res
        return res.value if isinstance(res, Result) else res

    @result.setter
    def result(self, value: Any) -> None:
        self._res = Result(None) if value is None else value  # as Prefect 1: set to None holds Result(None)

    @property
    def _result(self) -> Result:
        """The Result holding the value (``NoResult`` when there is none)."""
        res = self._res
        if not isinstance(res, Result):
            res = self._res = Result(res)
        return res

    @_result.setter
    def _result(self, holder: Result) -> None:
        self._res = holder

    @property
    def context(self) -> dict:
        if self._context is None:
            tags = getattr(self, "_tags", None)
            self._context = {} if tags is None else {"tags": sorted(tags)}
        return self._context

    @context.setter
    def context(self, value: dict | None) -> None:
        self._context = value

    @property
    def cached_inputs(self) -> dict:
        if self._cached_inputs is None:
            self._cached_inputs = {}
        return self._cached_inputs

    @cached_inputs.setter
    def cached_inputs(self, value: dict | None) -> None:
        self._cached_inputs = value

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
            and _same(self._cached_inputs or {}, other._cached_inputs or {})  # type: ignore[attr-defined]
            and _same(self._fields(), other._fields())  # type: ignore[attr-defined]
        )

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = type(self).__name__
        return f'<{name}: "{self.message}">' if self.message else f"<{name}>"  # Prefect 1's form

    def __getstate__(self):
        return {s: getattr(self, s) for cls in type(self).__mro__ for s in getattr(cls, "__slots__", ()) if s != "__weakref__" and hasattr(self, s)}

    def __setstate__(self, data):
        data = {_RENAMED.get(key, key): value for key, value in data.items() if key != "timestamp"}
        for key, value in data.items():
            object.__setattr__(self, key, value)

    # --- results kept elsewhere ------------------------------------------
    def load_result(self, result: Result | None = None) -> "State":
        """Read the value from where ``_result`` says it is, if it is not held yet.

        ``result`` is the Result class that can read the location (default: the
        holder itself). A state that already holds a value, or has no location,
        is left as it is. Returns the state itself.
        """
        holder = self._result
        if holder.value is None and holder.location is not None:
            reader = result if result is not None else holder
            self._result = reader.read(holder.location)
        return self

    def load_cached_results(self, results: dict | None = None) -> "State":
        """Read each of ``cached_inputs`` that is a Result with a location and no value,
        with ``results[name]`` (default: that Result itself). Returns the state itself."""
        results = results or {}
        inputs = self.cached_inputs or {}
        for name, held in list(inputs.items()):
            if isinstance(held, Result) and held.value is None and held.location is not None:
                reader = results.get(name, held)
                inputs[name] = reader.read(held.location)
        self.cached_inputs = inputs
        return self

    def serialize(self) -> dict:
        """A JSON-compatible dict of the state (no result value), as Prefect 1 writes it."""
        from perfect_nb.engine.state_dict import to_dict

        return to_dict(self)

    @staticmethod
    def deserialize(json_blob: dict) -> "State":
        """The state a ``serialize()`` dict describes; its result is a Result holding only the location."""
        from perfect_nb.engine.state_dict import from_dict

        return from_dict(json_blob)

    @property
    def type(self) -> str:
        return type(self).__name__

    @classmethod
    def parents(cls) -> list[type]:
        """The state classes above this one, nearest first (``Success.parents()`` is ``[Finished, State]``)."""
        return [c for c in cls.__mro__[1:] if issubclass(c, State) and c is not MetaState]

    @classmethod
    def children(cls) -> list[type]:
        """Every state class below this one, depth first in the order they were defined
        (user subclasses included)."""
        found: list[type] = []
        for sub in cls.__subclasses__():
            if sub is not MetaState:
                found.append(sub)
            found.extend(c for c in sub.children() if c not in found)
        return found

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


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


# slot names of states pickled by earlier versions (a cache on disk may hold them)
_RENAMED = {"result": "_res", "_result": "_res", "context": "_context", "cached_inputs": "_cached_inputs"}


class Pending(State):
    """Waiting to run."""

    __slots__ = ()
    color = "#7ebdff"


class Scheduled(Pending):
    """Waiting to run at ``start_time`` (a UTC datetime; now when not given, as in Prefect 1;
    None also means now)."""

    __slots__ = ("start_time",)
    color = "#ffab00"

    def __init__(self, message=None, result=None, start_time=None, context=None, cached_inputs=None):
        super().__init__(message, result, context, cached_inputs)
        self.start_time = start_time if start_time is not None else _now()

    def _fields(self) -> tuple:
        return (self.start_time,)


class Paused(Scheduled):
    """Waiting for a person to resume it (``manual_only`` trigger, ``PAUSE`` signal);
    ``start_time`` None unless given (as in Prefect 1)."""

    __slots__ = ()
    color = "#99a8e8"

    def __init__(self, message=None, result=None, start_time=None, context=None, cached_inputs=None):
        State.__init__(self, message, result, context, cached_inputs)
        self.start_time = start_time


class Resume(Scheduled):
    """Given to a paused task to let it run past its trigger."""

    __slots__ = ()
    color = "#f58c0c"


class Retrying(Scheduled):
    """A failed run that will run again at ``start_time``; ``run_count`` runs so far
    (default: the context's ``task_run_count``, else 1)."""

    __slots__ = ("run_count",)
    color = "#f66a0a"

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
        return ()  # as Prefect 1.4.1, the wrapped state does not count in ==


_MetaState = MetaState  # Prefect 1's name for the meta-state base


class ClientFailed(MetaState):
    """The client could not record ``state`` (the state the task run ended in) with the
    backend, so the run stops here without triggering its downstream task runs. Neither
    failed nor finished (``is_failed()`` is False), as in Prefect 1.4.1."""

    __slots__ = ()
    color = "#eb0000"


class Submitted(MetaState):
    """Handed to an executor, not started yet."""

    __slots__ = ()
    color = "#ffdf5d"


class Queued(MetaState):
    """Waiting for a free slot (for example a concurrency limit)."""

    __slots__ = ("start_time",)
    color = "#ffea7f"

    def __init__(self, message=None, result=None, state=None, start_time=None, context=None, cached_inputs=None):
        super().__init__(message, result, state, context, cached_inputs)
        self.start_time = start_time if start_time is not None else _now()

    def _fields(self) -> tuple:
        return (self.start_time,)


class Running(State):
    """Running now."""

    __slots__ = ()
    color = "#3d67ff"


class Cancelling(Running):
    """Asked to stop; stopping."""

    __slots__ = ()
    color = "#E8E8E8"


class Finished(State):
    """Done, one way or another."""

    __slots__ = ()
    color = "#003ccb"


class Success(Finished):
    """Finished and returned ``result``."""

    __slots__ = ()
    color = "#28a745"


class Cached(Success):
    """A result reused from an earlier run instead of running again."""

    __slots__ = ("cached_parameters", "cached_result_expiration", "hashed_inputs")
    color = "#34d058"

    def __init__(
        self,
        message=None,
        result=None,
        cached_inputs=None,
        cached_parameters=None,
        cached_result_expiration: _dt.datetime | None = None,
        context=None,
        hashed_inputs: dict | None = None,
    ):
        super().__init__(message, result, context, cached_inputs)
        self.cached_parameters = cached_parameters
        self.cached_result_expiration = cached_result_expiration
        self.hashed_inputs = hashed_inputs

    def _fields(self) -> tuple:
        return (self.cached_parameters, self.cached_result_expiration)


class Mapped(Success):
    """A mapped parent whose children ran; their states are ``map_states``."""

    __slots__ = ("map_states", "_n_map_states")
    color = "#003ccb"

    def __init__(self, message=None, result=None, map_states=None, context=None, cached_inputs=None, n_map_states=None):
        super().__init__(message, result, context, cached_inputs)
        self.map_states = list(map_states) if map_states is not None else []
        self._n_map_states = n_map_states

    @property
    def n_map_states(self) -> int:
        """How many children: ``n_map_states`` when given, else ``len(map_states)``."""
        return self._n_map_states or len(self.map_states)

    @n_map_states.setter
    def n_map_states(self, value: int) -> None:
        self._n_map_states = value

    def _fields(self) -> tuple:
        return tuple(self.map_states)


class Skipped(Success):
    """Not run, on purpose (a ``SKIP`` signal or a skipped upstream)."""

    __slots__ = ()
    color = "#62757f"


class Looped(Finished):
    """One iteration of a looping task finished; ``loop_count`` iterations so far
    (default: the context's ``task_loop_count``, else 1)."""

    __slots__ = ("loop_count",)
    color = "#003ccb"

    def __init__(self, message=None, result=None, loop_count=None, context=None, cached_inputs=None):
        super().__init__(message, result, context, cached_inputs)
        self.loop_count = loop_count if loop_count is not None else _context.current().get("task_loop_count", 1)

    def _fields(self) -> tuple:
        return (self.loop_count,)


class Cancelled(Finished):
    """Stopped before it finished (an interrupted run)."""

    __slots__ = ()
    color = "#bdbdbd"


class Failed(Finished):
    """Finished with an error; ``result`` is the exception."""

    __slots__ = ()
    color = "#eb0000"


class TimedOut(Failed):
    """Ran longer than its ``timeout``."""

    __slots__ = ()
    color = "#ff4e33"


class TriggerFailed(Failed):
    """Did not run because its trigger said no (usually: an upstream failed)."""

    __slots__ = ()
    color = "#ff5131"


class ValidationFailed(Failed):
    """Ran, but its result did not pass validation."""

    __slots__ = ()
    color = "#ff5131"
