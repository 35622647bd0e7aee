"""Pickling task runs for workers in other processes, and their results and events back.

A task run is the call ``runner.run(state, upstream_states, **kwargs)``. Its
runner (with the task and its function, often pickled by value because it was
defined in a notebook), the upstream edges (with their tasks: a Constant
holding a 100,000-item list among them) and the run's base context are the
same for every call of a task and for all children of a mapped task. That
*static* part is pickled once per flow run and sent to each worker once:

- the process pool keeps, per worker, a :class:`StaticCache` that mirrors the
  worker's own, so it knows which static parts the worker has;
- DaskExecutor scatters a large static part to the cluster once and passes its
  future to every call (``call_pickled(payload, static)``).

Each call then only carries its states and small keyword arguments. Failures
name the task and say how to fix them (``SerializationError``).
"""

from __future__ import annotations

import collections
import contextlib
import copy
import pickle
import uuid
from typing import Any, Callable, NamedTuple

import cloudpickle

from perfect_nb.errors import SerializationError
from perfect_nb.engine.remote_logs import forwarding

__all__ = ["CallPickler", "PickledCall", "StaticCache", "call_pickled", "dump_record", "dumps_call", "reset_worker_cache"]

_FIX = "Return a picklable value, or run this flow with LocalDaskExecutor(scheduler='threads')."
_MAX_EVENT_BYTES = 64 * 1024  # larger event records travel without their result
_GENERIC, _TASK_RUN = b"G", b"T"
STATIC_CACHE_SIZE = 512


class StaticCache:
    """Least-recently-used static parts by token, as a worker keeps them.

    The sending side keeps one with ``None`` values per worker: the same calls
    in the same order leave both with the same tokens, so ``needs`` tells
    whether the worker must be sent the static part.
    """

    def __init__(self, size: int = STATIC_CACHE_SIZE) -> None:
        self.size, self.entries = size, collections.OrderedDict()

    def get(self, token: str) -> Any:
        value = self.entries.get(token)
        if value is not None or token in self.entries:
            self.entries.move_to_end(token)
        return value

    def put(self, token: str, value: Any) -> None:
        self.entries[token] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def needs(self, token: str) -> bool:
        """For the sending side: True (and remembered) if the worker lacks ``token``."""
        if token in self.entries:
            self.entries.move_to_end(token)
            return False
        self.put(token, None)
        return True


_WORKER_CACHE = StaticCache()  # in a worker: token -> (runner, edges, base)


def reset_worker_cache() -> None:
    """Start a pool worker with an empty cache, as its parent's mirror of it starts."""
    _WORKER_CACHE.entries.clear()


class PickledCall(NamedTuple):
    """A call pickled for a worker: ``static`` is shared by all calls with ``token``."""

    token: str | None
    static: bytes | None
    calls: bytes

    def payload(self, with_static: bool = True) -> bytes:
        """The bytes a worker runs with ``call_pickled``; without the static part if it has it."""
        if self.token is None:
            return _GENERIC + self.calls
        return _TASK_RUN + pickle.dumps((self.token, self.static if with_static else None, self.calls), protocol=5)


def dumps_call(fn: Callable, args: tuple, kwargs: dict) -> bytes:
    """Pickle any call ``fn(*args, **kwargs)`` for ``call_pickled``."""
    return PickledCall(None, None, _dumps((fn, args, kwargs), fn)).payload()


def _dumps(obj: Any, fn: Callable) -> bytes:
    try:
        return cloudpickle.dumps(obj)
    except Exception as exc:
        raise SerializationError(f"The inputs of {_what(fn)} could not be pickled to send them to a worker: {exc!r}. {_FIX}") from None


class CallPickler:
    """Pickles task-run calls for one flow run, pickling what calls share once."""

    def __init__(self) -> None:
        self._static: dict = {}  # ids -> (objects kept alive, token, pickled bytes)

    def dumps(self, fn: Callable, args: tuple, kwargs: dict) -> PickledCall:
        runner = getattr(fn, "__self__", None)
        if getattr(fn, "__name__", None) != "run" or len(args) != 2 or not isinstance(args[1], dict) or runner is None:
            return PickledCall(None, None, _dumps((fn, args, kwargs), fn))
        state, upstream = args
        edges = tuple(upstream)
        base = kwargs.get("base_context")
        key = (id(runner), id(base), *map(id, edges))
        entry = self._static.get(key)
        if entry is None:
            if len(self._static) > 10_000:  # runs with per-task contexts: one entry per call
                self._static.clear()
            blob = _dumps((runner, edges, base), fn)
            entry = self._static[key] = ((runner, edges, base), uuid.uuid4().hex, blob)
        rest = {k: v for k, v in kwargs.items() if k != "base_context"}
        return PickledCall(entry[1], entry[2], _dumps((state, [upstream[e] for e in edges], rest), fn))

    def clear(self) -> None:
        self._static.clear()


def _load(payload: bytes, static: bytes | None) -> tuple[Callable, tuple, dict]:
    if payload[:1] == _GENERIC:
        return cloudpickle.loads(payload[1:])
    token, blob, calls = pickle.loads(payload[1:])
    parts = _WORKER_CACHE.get(token)
    if parts is None:
        blob = blob if blob is not None else static
        if blob is None:
            raise RuntimeError(f"perfect_nb: the static part {token} of this task run was not sent to this worker.")
        parts = cloudpickle.loads(blob)
    if blob is not None:  # as the sender's mirror does when it sends it
        _WORKER_CACHE.put(token, parts)
    runner, edges, base = parts
    state, states, rest = cloudpickle.loads(calls)
    return runner.run, (state, dict(zip(edges, states))), {**rest, "base_context": base}


def call_pickled(payload: bytes, static: bytes | None = None) -> bytes:
    """Run a pickled call (in a worker) and return its pickled result.

    ``static`` is the call's static part when it travels apart from ``payload``.
    """
    fn, args, kwargs = _load(payload, static)
    emit = kwargs.get("emit")
    if emit is None:  # nobody listens to this run: its logs are handled here
        value = fn(*args, **kwargs)
    else:  # they travel with its events, to be handled once where the flow runs
        with forwarding(emit.sink):
            value = fn(*args, **kwargs)
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:
        inner = getattr(value, "result", value)
        if isinstance(inner, BaseException) and _drop_tracebacks(inner):
            # a RecursionError's traceback is ~1,000 frames deep, too deep to pickle where
            # tracebacks are picklable (tblib, as on Dask workers): send the error without it
            with contextlib.suppress(Exception):
                return cloudpickle.dumps(value)
        raise SerializationError(
            f"The result of {_what(fn)} ({type(inner).__name__}) could not be pickled to send it "
            f"from the worker back to the flow runner: {exc!r}. {_FIX}"
        ) from None


def _drop_tracebacks(exc: BaseException) -> bool:
    """Clear the tracebacks of ``exc`` and of the errors it chains; True if there were any."""
    dropped, seen = False, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__traceback__ is not None:
            exc.__traceback__, dropped = None, True
        exc = exc.__cause__ or exc.__context__
    return dropped


def _what(fn: Callable) -> str:
    task = getattr(getattr(fn, "__self__", None), "task", None)
    return f"task {task.name!r}" if task is not None else repr(fn)


def dump_record(record: tuple) -> bytes:
    """Pickle an event record; a large or unpicklable state travels without its result."""
    try:
        blob = cloudpickle.dumps(record)
        if len(blob) <= _MAX_EVENT_BYTES:
            return blob
    except Exception:
        pass
    slug, run_id, index, old, new, stamp = record
    return cloudpickle.dumps((slug, run_id, index, _light(old), _light(new), stamp))


def _light(state: Any) -> Any:
    state = copy.copy(state)
    state.result, state.cached_inputs, state.context = None, None, {}
    return state
