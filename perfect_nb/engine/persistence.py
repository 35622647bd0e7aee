"""Result hooks: the steps of a task run that reuse or keep its result, and the
templates that name where a result lives.

A hook has two methods:

- ``check(runner, state, inputs, ctx, emit)``: before the task body runs; raise
  ``ENDRUN(Cached(...))`` to reuse a result instead of running, or return ``state``;
- ``store(runner, state, inputs, ctx, emit)``: after a run that ended ``Success``;
  return the state to end in (a Cached state, or the Success now holding the Result
  it was written with).

The TaskRunner calls every hook's ``check``, in order, before the body, and every
hook's ``store`` after it on a Success; its Prefect 1 step methods
``check_target``, ``check_task_is_cached`` and ``cache_result`` call one kind each.
:func:`hooks_for` builds the hooks a task needs, none for most tasks, so the hot
path pays nothing:

- :class:`Checkpoint`, for ``target=`` or a ``result=`` (the task's or the flow's):
  ``check`` reuses the file the target names whenever it exists (as in Prefect 1,
  checkpointing on or off; a file that cannot be read is a miss, with a warning);
  ``store`` writes the result (a LocalResult's file atomically) only when
  checkpointing is on (:func:`checkpointing`: off for a plain ``flow.run()`` unless
  configured, as in Prefect 1) and the task's ``checkpoint`` is not False; a failed
  write is a warning.
- :class:`DurationCache`, for ``cache_for`` / ``cache_validator`` / ``cache_key``:
  Prefect 1's cache in this process's memory, keyed by the cache key (else the task
  name) and map index; :func:`clear_caches` empties it.

The notebook's per-cell cache is not a hook: it is the ``cache`` the FlowRunner is
given (:mod:`perfect_nb.cache.runs`), asked before a task is submitted at all.

Also here: :func:`format_args` and :func:`template_values`, what a target, a result
location and a ``task_run_name`` are formatted with, and :func:`check_targets`, which
the FlowRunner calls before a run to reject a template naming an unknown key.
Warnings go to the ``perfect_nb.cache`` logger.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import os
import string
import threading
from typing import Any

from perfect_nb.configuration import config
from perfect_nb.core.context import _LAZY, _lazy_keys, current, lazy_value
from perfect_nb.engine import cache_validators
from perfect_nb.engine.results import Result, template_fields
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.state import Cached, Failed, State

__all__ = [
    "Checkpoint", "DurationCache", "check_targets", "checkpointing", "clear_caches", "format_args", "hooks_for",
    "template_values",
]

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
        return lazy_value(self, key)


def format_args(ctx: dict, inputs: dict) -> _Fields:
    """What a target, a result location or a task_run_name is formatted with: the
    parameters, then the context (computed keys like ``today`` included), then the
    task's inputs, later ones winning (as in Prefect 1)."""
    params = ctx.get("parameters") or {}
    args = _Fields({**params, **ctx, **inputs})
    for key in params.keys() & _LAZY.keys() if params else ():  # a parameter named like a computed key loses to it
        if key not in ctx and key not in inputs and key in _lazy_keys(ctx):
            args[key] = lazy_value(ctx, key)
    return args


def template_values(ctx: dict, inputs: dict) -> dict:
    """:func:`format_args` as a plain dict with the computed keys filled in (for a callable)."""
    args = format_args(ctx, inputs)
    return {**{key: args[key] for key in _lazy_keys(args)}, **args}


def checkpointing(ctx: dict) -> bool:
    """Whether a run writes task results: its context's ``checkpointing`` key (a flow run
    sets it), else ``config.flows.checkpointing`` (off unless configured, as in Prefect 1)."""
    value = ctx.get("checkpointing")
    if value is None:
        value = config.flows.checkpointing
    return value is True


class DurationCache:
    """``cache_for`` / ``cache_validator`` / ``cache_key``, as in Prefect 1."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.validator = cache_validators.resolve(task.cache_validator) or cache_validators.duration_only
        self.explicit_validator = getattr(task, "_cache_validator_given", task.cache_validator is not None)

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
                    candidate.message, result=candidate.result,  # Prefect 1.4.1: the cached run's own message
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
            state.message, result=state.result, cached_inputs=inputs,  # Prefect 1.4.1 keeps "Task run succeeded."
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
        if callable(template):
            return os.fspath(template(**template_values(ctx, inputs)))
        return template.format_map(format_args(ctx, inputs))

    def check(self, runner: Any, state: State, inputs: dict, ctx: dict, emit: Any) -> State:
        if self.task.target is None:
            return state
        try:
            location = self._location(ctx, inputs)
        except Exception as exc:
            failed = Failed(f"Task {self.task.name!r}: its target {self.task.target!r} could not be formatted: {exc!r}", result=exc)
            raise ENDRUN(runner._transition(state, failed, emit)) from None
        try:
            if not self.result.exists(location):
                return state
            found = self.result.read(location)
        except Exception as exc:  # corrupt, unreadable, a folder, a name the OS rejects: a miss
            logger.warning("Task %r: the result at target %r could not be read (%s); running the task instead.", self.task.name, location, exc)
            return state
        # as in Prefect 1, the state holds the Result that read it (value and location)
        hit = Cached(f"Result found at task target {location}", result=found, cached_inputs=inputs)
        hit.context["result_location"] = found.location if isinstance(found.location, str) else location
        raise ENDRUN(runner._transition(state, hit, emit))

    def store(self, runner: Any, state: State, inputs: dict, ctx: dict, emit: Any) -> State:
        if self.task.checkpoint is False or not checkpointing(ctx):  # Prefect 1: a target is read, not written
            return state
        location = None
        try:
            location = self._location(ctx, inputs)
            target = copy.copy(self.result)
            target.location = location
            written = target.write(state.result)
            state._result = written  # as in Prefect 1: the state holds the Result it was written with
            state.context["result_location"] = written.location
        except Exception as exc:
            where = f" to {location!r}" if location is not None else ""
            logger.warning("Task %r: could not write its result%s (%s); it is kept in memory only.", self.task.name, where, exc)
        return state


def hooks_for(task: Any, flow_result: Result | None = None) -> list:
    """The result hooks ``task`` needs (an empty list for most tasks).

    >>> import datetime as dt
    >>> from perfect_nb import task
    >>> hooks_for(task(lambda: 1))
    []
    >>> [type(h).__name__ for h in hooks_for(task(lambda: 1, cache_for=dt.timedelta(minutes=1)))]
    ['DurationCache']
    """
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
    "task_loop_count", "task_loop_result", "task_run_name", "task_id", "flow_id", "date", "checkpointing",
    "config", *_LAZY,
}


BRACES = "Close every '{' with '}', or double a brace ('{{' or '}}') to write it as it is."


def _parameter_keys(template: str) -> set[str]:
    """The names a template looks up in ``parameters``: ``{parameters[n]}`` -> {"n"}."""
    keys = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field and field.startswith("parameters["):
            keys.add(field[len("parameters["):].split("]", 1)[0])
    return keys


def _check_template(what: str, task: Any, template: str, known: set[str], params: set[str], inputs: set[str]) -> None:
    try:
        unknown = template_fields(template) - known - inputs
        missing = _parameter_keys(template) - params
    except ValueError as exc:  # an unclosed or stray brace
        raise ValueError(f"Task {task.name!r}: {what} {template!r} is not a valid template: {exc}. {BRACES}") from None
    if unknown or missing:
        names = sorted(unknown) + [f"parameters[{m}]" for m in sorted(missing)]
        raise ValueError(
            f"Task {task.name!r}: {what} {template!r} refers to {names}, which are neither inputs of the "
            f"task, parameters of the flow ({sorted(params)}), nor context keys (e.g. task_name, today, map_index)."
        )


def check_targets(flow: Any, extra_context: dict | None = None) -> None:
    """Before a run: every target or result location template names only known keys.

    Also, the target of a mapped task must tell its children apart (``{map_index}``
    or a mapped input); otherwise every child would read the first child's file.
    """
    params = {p.name for p in flow.parameters()}
    known = _KNOWN_CONTEXT | params | set(current()) | set(extra_context or ())
    for task in flow.tasks:
        result = task.result if task.result is not None else flow.result
        if task.target is None and result is None:  # nothing to check: most tasks
            continue
        inputs = set(task.signature.names) | {e.key for e in flow.edges_to(task)} | set(flow.constants.get(task, ()))
        if isinstance(task.target, str):
            _check_template("target", task, task.target, known, params, inputs)
            mapped = {e.key for e in flow.edges_to(task) if e.mapped}
            if mapped and not template_fields(task.target) & (mapped | {"map_index"}):
                raise ValueError(
                    f"Task {task.name!r} is mapped, but its target {task.target!r} is the same for every child, "
                    "so each child would reuse the first child's file. Put {map_index} (or a mapped input) in it."
                )
        elif task.target is None and task.checkpoint is not False and isinstance(getattr(result, "location", None), str):
            _check_template("result location", task, result.location, known, params, inputs)
