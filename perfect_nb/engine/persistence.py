"""Result hooks: steps of the task pipeline that reuse or keep results.

A hook has two methods, called by the TaskRunner around the task's run:

- ``check(runner, state, inputs, ctx, emit)``: before running; raise
  ``ENDRUN(Cached(...))`` to reuse a result instead of running, or return ``state``;
- ``store(runner, state, inputs, ctx, emit)``: after a Success; return the
  state to end in (for example a Cached state, or the Success with a location).

:func:`hooks_for` builds the hooks a task needs (none for most tasks, so the
hot path pays nothing): ``cache_for`` caching as in Prefect 1, and ``target``
/ ``result`` checkpointing. The notebook's per-cell cache is a hook too.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import threading
from typing import Any

from perfect_nb.core.context import _LAZY
from perfect_nb.engine import cache_validators
from perfect_nb.engine.results import Result, template_fields
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.state import Cached, State

__all__ = ["DurationCache", "Checkpoint", "hooks_for", "check_targets", "clear_caches"]

logger = logging.getLogger("perfect_nb.cache")

# Prefect-1 style in-memory caches: cache key -> Cached states, newest last.
_CACHES: dict[str, list[Cached]] = {}
_LOCK = threading.Lock()
_WARNED: set[str] = set()


def clear_caches() -> None:
    """Forget every ``cache_for`` result of this process."""
    with _LOCK:
        _CACHES.clear()
        _WARNED.clear()


class _Fields(dict):
    """Format arguments: the run's context and inputs, lazy context keys on demand."""

    def __missing__(self, key: str) -> Any:
        if key in _LAZY:
            return _LAZY[key](self)
        raise KeyError(key)


def _format_args(ctx: dict, inputs: dict) -> _Fields:
    return _Fields({**ctx, **(ctx.get("parameters") or {}), **inputs})


class DurationCache:
    """``cache_for`` / ``cache_validator`` / ``cache_key``, as in Prefect 1."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.validator = cache_validators.resolve(task.cache_validator) or cache_validators.duration_only
        self.explicit_validator = task.cache_validator is not None

    def _key(self, ctx: dict) -> str:
        base = self.task.cache_key or self.task.name
        index = ctx.get("map_index")
        return base if index is None else f"{base}[{index}]"

    def check(self, runner: Any, state: State, inputs: dict, ctx: dict, emit: Any) -> State:
        key = self._key(ctx)
        parameters = ctx.get("parameters") or {}
        with _LOCK:
            candidates = list(reversed(_CACHES.get(key, ())))
        for candidate in candidates:
            if self.validator(candidate, inputs, parameters):
                self._warn_if_stale(key, candidate, inputs)
                hit = Cached(
                    "Task run skipped: using a cached result.", result=candidate.result,
                    cached_inputs=candidate.cached_inputs, cached_parameters=candidate.cached_parameters,
                    cached_result_expiration=candidate.cached_result_expiration, context=dict(candidate.context),
                )
                raise ENDRUN(runner._transition(state, hit, emit))
        return state

    def _warn_if_stale(self, key: str, candidate: Cached, inputs: dict) -> None:
        """The Prefect 1 trap: ``cache_for`` alone reuses results whatever the inputs. Say so, once per task."""
        if self.explicit_validator:
            return
        base = self.task.cache_key or self.task.name
        if base in _WARNED or cache_validators.all_inputs(candidate, inputs, {}):
            return
        with _LOCK:
            if base in _WARNED:
                return
            _WARNED.add(base)
        logger.warning(
            "Task %r reused a cached result computed from different inputs: cache_for without a "
            "cache_validator only checks the time. Pass cache_validator=all_inputs (from "
            "perfect_nb.engine.cache_validators) to run again when the inputs change.", self.task.name,
        )

    def store(self, runner: Any, state: State, inputs: dict, ctx: dict, emit: Any) -> State:
        expiration = _dt.datetime.now(_dt.timezone.utc) + self.task.cache_for
        cached = Cached(
            "Task run succeeded; result cached.", result=state.result, cached_inputs=inputs,
            cached_parameters=dict(ctx.get("parameters") or {}), cached_result_expiration=expiration,
            context=dict(state.context),
        )
        cache_validators.snapshot(cached)  # fingerprints now: a value mutated later is a change
        now = _dt.datetime.now(_dt.timezone.utc)
        key = self._key(ctx)
        with _LOCK:
            kept = [c for c in _CACHES.get(key, ()) if c.cached_result_expiration is None or c.cached_result_expiration > now]
            _CACHES[key] = kept[-9:] + [cached]
        return runner._transition(state, cached, emit)


class Checkpoint:
    """``target=`` and ``result=``: reuse the file a target names; write results atomically."""

    def __init__(self, task: Any, result: Result) -> None:
        self.task = task
        self.result = result
        self.template = task.target if task.target is not None else result.location

    def _location(self, ctx: dict, inputs: dict) -> str | None:
        template = self.template
        if template is None:
            return None
        args = _format_args(ctx, inputs)
        return template(**{**{k: args[k] for k in _LAZY}, **args}) if callable(template) else template.format_map(args)

    def check(self, runner: Any, state: State, inputs: dict, ctx: dict, emit: Any) -> State:
        if self.task.target is None:
            return state
        location = self._location(ctx, inputs)
        if not self.result.exists(location):
            return state
        try:
            value = self.result.read(location).value
        except Exception as exc:
            logger.warning("Task %r: the result at target %r could not be read (%s); running the task instead.", self.task.name, location, exc)
            return state
        hit = Cached(f"Result found at task target {location}", result=value, cached_inputs=inputs)
        hit.context["result_location"] = location
        raise ENDRUN(runner._transition(state, hit, emit))

    def store(self, runner: Any, state: State, inputs: dict, ctx: dict, emit: Any) -> State:
        if self.task.checkpoint is False and self.task.target is None:
            return state
        try:
            target = copy.copy(self.result)
            target.location = self._location(ctx, inputs)
            state.context["result_location"] = target.write(state.result).location
        except Exception as exc:
            logger.warning("Task %r: could not write its result (%s); it is kept in memory only.", self.task.name, exc)
        return state


def hooks_for(task: Any, flow_result: Result | None = None) -> list:
    """The result hooks ``task`` needs (an empty list for most tasks)."""
    hooks: list = []
    result = task.result if task.result is not None else flow_result
    if task.target is not None or (result is not None and task.checkpoint is not False):
        if result is None:
            raise ValueError(
                f"Task {task.name!r} has target={task.target!r} but no result to write it with: "
                "pass result=LocalResult(dir=...) to the task or to the Flow."
            )
        hooks.append(Checkpoint(task, result))
    if task.cache_for is not None:
        hooks.append(DurationCache(task))
    return hooks


_KNOWN_CONTEXT = {
    "flow_name", "flow_run_id", "flow_run_name", "parameters", "scheduled_start_time", "task_name",
    "task_full_name", "task_slug", "task_tags", "task_run_id", "map_index", "task_run_count",
    "task_loop_count", "task_loop_result", "task_run_name", *_LAZY,
}


def check_targets(flow: Any, extra_context: dict | None = None) -> None:
    """Before a run: every target template names only known context keys, inputs or parameters."""
    params = {p.name for p in flow.parameters()}
    known = _KNOWN_CONTEXT | params | set(extra_context or ())
    for task in flow.tasks:
        template = task.target if isinstance(task.target, str) else None
        if template is None:
            continue
        unknown = template_fields(template) - known - set(task.signature.names)
        if unknown:
            raise ValueError(
                f"Task {task.name!r}: target {template!r} refers to {sorted(unknown)}, which are neither inputs "
                f"of the task, parameters of the flow, nor context keys (e.g. task_name, today, map_index)."
            )
