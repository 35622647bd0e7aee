"""Pickling task runs for workers in other processes, and their results and events back.

A task run is the call ``runner.run(state, upstream_states, **kwargs)``. Its
runner (with the task and its function, often pickled by value because it was
defined in a notebook), the upstream edges and the run's base context are the
same for every call of a task and for all children of a mapped task, so
:class:`CallPickler` pickles them once per flow run and each call only adds its
states and small keyword arguments. Workers keep the unpickled part by token.

Failures name the task and say how to fix them (``SerializationError``).
"""

from __future__ import annotations

import collections
import copy
import pickle
import uuid
from typing import Any, Callable

import cloudpickle

from perfect_nb.errors import SerializationError

__all__ = ["CallPickler", "call_pickled", "dump_record", "dumps_call"]

_FIX = "Return a picklable value, or run this flow with LocalDaskExecutor(scheduler='threads')."
_MAX_EVENT_BYTES = 64 * 1024  # larger event records travel without their result
_GENERIC, _TASK_RUN = b"G", b"T"
_WORKER_CACHE: collections.OrderedDict = collections.OrderedDict()  # token -> (runner, edges, base)
_WORKER_CACHE_SIZE = 512


def dumps_call(fn: Callable, args: tuple, kwargs: dict) -> bytes:
    """Pickle any call ``fn(*args, **kwargs)`` for ``call_pickled``."""
    return _GENERIC + _dumps((fn, args, kwargs), fn)


def _dumps(obj: Any, fn: Callable) -> bytes:
    try:
        return cloudpickle.dumps(obj)
    except Exception as exc:
        raise SerializationError(f"The inputs of {_what(fn)} could not be pickled to send them to a worker: {exc!r}. {_FIX}") from None


class CallPickler:
    """Pickles task-run calls for one flow run, reusing what calls share."""

    def __init__(self) -> None:
        self._static: dict = {}  # ids -> (objects kept alive, token, pickled bytes)

    def dumps(self, fn: Callable, args: tuple, kwargs: dict) -> bytes:
        runner = getattr(fn, "__self__", None)
        if getattr(fn, "__name__", None) != "run" or len(args) != 2 or not isinstance(args[1], dict) or runner is None:
            return dumps_call(fn, args, kwargs)
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
        calls = _dumps((state, [upstream[e] for e in edges], rest), fn)
        return _TASK_RUN + pickle.dumps((entry[1], entry[2], calls), protocol=5)

    def clear(self) -> None:
        self._static.clear()


def _load(payload: bytes) -> tuple[Callable, tuple, dict]:
    if payload[:1] == _GENERIC:
        return cloudpickle.loads(payload[1:])
    token, blob, calls = pickle.loads(payload[1:])
    static = _WORKER_CACHE.get(token)
    if static is None:
        static = _WORKER_CACHE[token] = cloudpickle.loads(blob)
        if len(_WORKER_CACHE) > _WORKER_CACHE_SIZE:
            _WORKER_CACHE.popitem(last=False)
    runner, edges, base = static
    state, states, rest = cloudpickle.loads(calls)
    return runner.run, (state, dict(zip(edges, states))), {**rest, "base_context": base}


def call_pickled(payload: bytes) -> bytes:
    """Run a pickled call (in a worker) and return its pickled result."""
    fn, args, kwargs = _load(payload)
    value = fn(*args, **kwargs)
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:
        inner = getattr(value, "result", value)
        raise SerializationError(
            f"The result of {_what(fn)} ({type(inner).__name__}) could not be pickled to send it "
            f"from the worker back to the flow runner: {exc!r}. {_FIX}"
        ) from None


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
