"""TaskRunner: turns one task run into a sequence of states.

``run()`` reads as a list of steps. Each step takes the current state and
returns the next one, or raises ``ENDRUN(state)`` to stop the run in that
state. Every transition goes through ``_transition``, which calls the task's
state handlers and emits one engine event.

>>> from perfect_nb import task
>>> from perfect_nb.engine.task_runner import TaskRunner
>>> @task
... def fails():
...     raise ValueError("no data")
>>> TaskRunner(fails).run()
<Failed: "Error during execution of task: ValueError('no data')">
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import signal
import threading
import time
from typing import Any, Callable

from perfect_nb.configuration import config
from perfect_nb.core import context as _context
from perfect_nb.engine import signals
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.state import (
    Failed, Finished, Looped, Mapped, Paused, Pending, Resume, Retrying,
    Running, Scheduled, Skipped, State, Success, TimedOut, TriggerFailed,
)
from perfect_nb.core.parameter import Parameter
from perfect_nb.engine.results import PrefectResult
from perfect_nb.engine.runner import handler_list
from perfect_nb.engine.steps import TaskRunnerSteps
from perfect_nb.engine.persistence import BRACES, format_args, hooks_for, template_values
from perfect_nb.engine.timeouts import TaskTimeoutError, call_with_timeout
from perfect_nb.engine.triggers import all_successful
from perfect_nb.utilities.logging import task_logger
from perfect_nb.utilities.reprs import short_repr

__all__ = ["TaskRunner", "TaskTimeoutError"]

Emit = Callable[[State, State], None]
_SKIP_MESSAGE = (
    "Upstream task was skipped; if this was not the intended behavior, "
    "consider changing `skip_on_upstream_skip=False` for this task."
)


_PARAMETER_RESULT = PrefectResult()  # only its class and serializer are used (from_value copies it)
_PACKAGE_LOGGER = logging.getLogger("perfect_nb")  # task loggers are its children


class TaskRunner(TaskRunnerSteps):
    """Runs one task (or one mapped child) through the state pipeline.

    ``run()`` is the fast path; Prefect 1's public step methods (``initialize_run``,
    the ``check_*`` methods, ``get_task_inputs``, ``get_task_run_state``, ...) are in
    :mod:`perfect_nb.engine.steps`, on top of the same private steps.

    Parameters
    ----------
    task : Task
    state_handlers : list, optional
        Extra handlers ``handler(task_runner, old_state, new_state)``, called
        after the task's own handlers (which get the task) and its ``on_failure``.
    """

    def __init__(self, task: Any, state_handlers: list | None = None, flow_result: Any = None) -> None:
        self.task = task
        self.task_handlers = list(task.state_handlers)
        self.state_handlers = handler_list(state_handlers)
        self.handlers = self.task_handlers + self.state_handlers  # empty: transitions skip the handler step
        self.trigger = task.trigger or all_successful
        self.hooks = hooks_for(task, flow_result)  # result reuse and checkpointing steps
        # as in Prefect 1, a task's value is held in a copy of its result (else the flow's) when it has one
        self.result_template = task.result if task.result is not None else flow_result
        if self.result_template is None and isinstance(task, Parameter):  # Prefect 1: a parameter's value is a PrefectResult
            self.result_template = _PARAMETER_RESULT
        self.tags = task.tags

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.task.name}>"

    @property
    def logger(self) -> logging.Logger:
        return task_logger(self.task.name)

    # --- entry point -------------------------------------------------------
    def run(
        self,
        state: State | None = None,
        upstream_states: dict | None = None,
        context: dict | None = None,
        is_mapped_parent: bool = False,
        *,
        inputs: dict | None = None,
        map_index: int | None = None,
        task_run_id: str | None = None,
        emit: Emit | None = None,
        base_context: dict | None = None,
    ) -> State:
        """Run the task from ``state`` (default Pending) and return its new state.

        ``upstream_states`` maps each incoming Edge to the upstream task's state;
        ``inputs`` holds constant arguments.
        """
        state = state if state is not None else Pending()
        upstream_states = upstream_states or {}
        if is_mapped_parent:  # Prefect 1's call for a mapped task: Mapped when it can map, its children are not run
            return self.mapped_parent_state(state, upstream_states)
        if base_context is None:  # run on its own, not by a flow runner
            base_context = {**_context.current(), **(context or {})}
            base_context.setdefault("checkpointing", config.flows.checkpointing)
        elif context:
            base_context = {**base_context, **context}
        ctx = self._context(base_context, state, map_index, task_run_id)
        if context and "task_loop_count" in context:  # the next iteration of a loop (check_task_is_looping)
            ctx["task_loop_count"] = context["task_loop_count"]
            ctx["task_loop_result"] = context.get("task_loop_result")
        debug = _PACKAGE_LOGGER.isEnabledFor(logging.DEBUG)
        if debug:
            self.logger.debug("Task %r: Starting task run from state %s.", ctx["task_full_name"], state.type)
        token = _context.set_run_context(ctx)
        try:
            state = self._pipeline(state, upstream_states, inputs, ctx, emit)
        except ENDRUN as end:
            state = end.state
        except signals.PrefectStateSignal as sig:  # raised around the task (a hook): its state
            state = self._final_transition(state, sig.state, emit)
        except Exception as exc:  # an error around the task (its inputs, a hook), not inside it
            if ctx.get("raise_on_exception"):  # utilities.debug.raise_on_exception()
                raise
            self.logger.error("Task %r: unexpected error while running task: %s", ctx["task_full_name"], _describe(exc), exc_info=True)
            state = self._final_transition(state, Failed(f"Unexpected error while running task: {short_repr(exc)}", result=exc), emit)
        except BaseException as exc:  # sys.exit() or the like in a state handler or hook
            if is_interrupt(exc):
                raise
            self.logger.error("Task %r: unexpected error while running task: %s", ctx["task_full_name"], _describe(exc), exc_info=True)
            state = self._final_transition(state, Failed(f"Unexpected error while running task: {_base_message(exc)}", result=exc), emit)
        finally:
            _context.reset_run_context(token)
        if debug:
            self.logger.debug("Task %r: Finished task run with final state %s.", ctx["task_full_name"], state.type)
        return state

    def _context(self, base: dict, state: State, map_index: int | None, task_run_id: str | None) -> dict:
        task = self.task
        name = task.name if map_index is None else f"{task.name}[{map_index}]"
        ctx = {
            **base,
            "task_name": task.name,
            "task_full_name": name,
            "task_slug": task.slug,
            "task_tags": task.tags,
            "task_run_id": task_run_id,
            "map_index": map_index,
            "task_run_count": 1,
            "task_loop_count": 1,
        }
        if type(state) is not Pending:  # the plain case pays one check
            kind = type(state)
            if kind is Retrying:
                ctx["task_run_count"] = state.run_count + 1 if state.run_count else 1
                if "_loop_count" in state.context:  # a looping task resumes at the iteration that failed
                    ctx["task_loop_count"] = state.context["_loop_count"]
                    ctx["task_loop_result"] = state.context["_loop_result"]
            elif kind is Resume:
                ctx["resume"] = True
        return ctx

    def _pipeline(self, state: State, upstream_states: dict, inputs: dict | None, ctx: dict, emit: Emit | None) -> State:
        if upstream_states:
            self._upstream_finished(state, upstream_states)
            state = self._upstream_skipped(state, upstream_states, emit)
        self._is_ready(state)
        if type(state) is not Resume:
            state = self._trigger(state, upstream_states, emit)
        inputs = self._inputs(state, upstream_states, inputs)
        for hook in self.hooks:
            state = hook.check(self, state, inputs, ctx, emit)
        state = self._run_task(state, inputs, ctx, emit)
        state = self._retry(state, inputs, ctx, emit)
        if self.hooks and type(state) is Success:
            for hook in self.hooks:
                state = hook.store(self, state, inputs, ctx, emit)
        return state

    # --- steps -------------------------------------------------------------
    def _upstream_finished(self, state: State, upstream_states: dict) -> None:
        """Stay in ``state`` while any upstream task (or child of a reduced mapped task) has not finished."""
        for edge, up in upstream_states.items():
            if not isinstance(up, Finished):
                raise ENDRUN(state)
            if type(up) is Mapped and not edge.mapped and not all(isinstance(s, Finished) for s in up.map_states):
                raise ENDRUN(state)

    def _upstream_skipped(self, state: State, upstream_states: dict, emit: Emit | None) -> State:
        """Skip when an upstream task skipped (unless ``skip_on_upstream_skip=False``)."""
        if not self.task.skip_on_upstream_skip:
            return state
        for edge, up in upstream_states.items():
            if isinstance(up, Skipped) or (
                type(up) is Mapped and not edge.mapped and any(isinstance(s, Skipped) for s in up.map_states)
            ):
                raise ENDRUN(self._transition(state, Skipped(_SKIP_MESSAGE, result=None), emit))
        return state

    def _is_ready(self, state: State) -> None:
        """Only Pending (or a due Scheduled) states run; anything else stays as it is."""
        if isinstance(state, Finished) or isinstance(state, Running) or type(state) is Paused:
            raise ENDRUN(state)
        if isinstance(state, Scheduled) and state.start_time is not None and type(state) is not Resume:
            if state.start_time > _dt.datetime.now(_dt.timezone.utc):
                raise ENDRUN(state)
        if not isinstance(state, Pending):
            raise ENDRUN(state)

    def _trigger(self, state: State, upstream_states: dict, emit: Emit | None) -> State:
        """Ask the trigger; a failing one ends the run TriggerFailed (or Paused/Skipped)."""
        try:
            ok = self.trigger(upstream_states)
        except signals.PrefectStateSignal as sig:
            raise ENDRUN(self._transition(state, sig.state, emit)) from None
        except Exception as exc:
            failed = TriggerFailed(f"Unexpected error while checking task trigger: {short_repr(exc)}", result=exc)
            raise ENDRUN(self._transition(state, failed, emit)) from None
        if not ok:
            raise ENDRUN(self._transition(state, TriggerFailed("Trigger failed", result=None), emit))
        return state

    def _inputs(self, state: State, upstream_states: dict, constants: dict | None) -> dict:
        """The keyword arguments for run(): constants plus upstream results by edge key."""
        if type(state) is Retrying and state.cached_inputs:
            return state.cached_inputs
        inputs = dict(constants) if constants else {}
        for edge, up in upstream_states.items():
            if edge.key is None:
                continue
            if type(up) is Mapped and not edge.mapped:
                value = [s.result for s in up.map_states]
                if edge.flattened:
                    value = _flatten_children(value)
            else:
                value = up.result
                if edge.flattened and not edge.mapped:
                    value = _flatten(value)
            inputs[edge.key] = value
        return inputs

    def _run_task(self, state: State, inputs: dict, ctx: dict, emit: Emit | None) -> State:
        """Running, then the outcome of run(); a LOOP signal runs it again."""
        if self.task.task_run_name is not None:
            ctx["task_run_name"] = self._run_name(state, inputs, ctx, emit)
        while True:
            state = self._transition(state, Running("Starting task run."), emit)
            if type(state) is not Running:  # a state handler failed or changed it: do not run
                raise ENDRUN(state)
            state = self._transition(state, self._call(inputs, ctx), emit)
            if type(state) is not Looped:
                return state
            ctx["task_loop_count"] += 1
            ctx["task_loop_result"] = state.result
            state = self._transition(state, Pending(f"Looping task (on loop index {state.loop_count})"), emit)

    def _run_name(self, state: State, inputs: dict, ctx: dict, emit: Emit | None) -> str:
        """The task run name: a template formatted with context, parameters and inputs, or a callable of them."""
        template = self.task.task_run_name
        try:
            return template(**template_values(ctx, inputs)) if callable(template) else template.format_map(format_args(ctx, inputs))
        except (KeyError, IndexError) as exc:
            failed = Failed(f"task_run_name {template!r} refers to {exc}, which is not an input of task {self.task.name!r}, a flow parameter or a context key.", result=exc)
            raise ENDRUN(self._transition(state, failed, emit)) from None
        except ValueError as exc:  # an unclosed or stray brace
            failed = Failed(f"Task {self.task.name!r}: task_run_name {template!r} is not a valid template: {exc}. {BRACES}", result=exc)
            raise ENDRUN(self._transition(state, failed, emit)) from None

    def _call(self, inputs: dict, ctx: dict) -> State:
        task = self.task
        try:
            if task.timeout is not None:
                value = call_with_timeout(task.run, inputs, task.timeout, task.log_stdout, self.logger)
            elif task.log_stdout:
                with _stdout_to_log(self.logger):
                    value = task.run(**inputs)
            else:
                value = task.run(**inputs)
        except signals.LOOP as sig:
            sig.state.loop_count = ctx["task_loop_count"]
            sig.state.message = sig.state.message or f"Task is looping ({ctx['task_loop_count']})"
            return sig.state
        except signals.PrefectStateSignal as sig:
            if isinstance(sig.state, Failed):
                sig.state.cached_inputs = inputs
            return sig.state
        except TaskTimeoutError as exc:
            return TimedOut(str(exc), result=exc, cached_inputs=inputs)
        except Exception as exc:
            if ctx.get("raise_on_exception"):  # utilities.debug.raise_on_exception()
                raise
            self.logger.error("Task %r: %s", ctx["task_full_name"], _describe(exc), exc_info=self.logger.isEnabledFor(logging.DEBUG))
            return Failed(f"Error during execution of task: {short_repr(exc)}", result=exc, cached_inputs=inputs)
        except BaseException as exc:  # sys.exit(), GeneratorExit, a user's own BaseException
            if is_interrupt(exc) or type(exc) is ENDRUN:
                raise
            self.logger.error("Task %r: %s", ctx["task_full_name"], _describe(exc), exc_info=self.logger.isEnabledFor(logging.DEBUG))
            return Failed(f"Error during execution of task: {_base_message(exc)}", result=exc, cached_inputs=inputs)
        template = self.result_template
        return Success("Task run succeeded.", result=value if template is None else template.from_value(value))

    def _retry(self, state: State, inputs: dict, ctx: dict, emit: Emit | None) -> State:
        """A failure with retries left becomes Retrying; the flow runner re-runs it when due."""
        if type(state) is Success:  # the common case pays one check
            return state
        task = self.task
        run_count = ctx["task_run_count"]
        delay = task.retry_delay or _dt.timedelta(0)
        if type(state) is Retrying:  # the RETRY signal
            state.run_count = run_count
            state.start_time = state.start_time or _dt.datetime.now(_dt.timezone.utc) + delay
            state.cached_inputs = inputs
            _keep_loop(state, ctx)
            return state
        if not isinstance(state, Failed) or run_count > task.max_retries:
            return state
        if task.retry_on is not None and not isinstance(state.result, task.retry_on):
            return state
        retry = Retrying(
            f"Retrying Task (after attempt {run_count} of {task.max_retries + 1})",  # no result, as in Prefect 1
            start_time=_dt.datetime.now(_dt.timezone.utc) + delay,
            run_count=run_count,
            cached_inputs=inputs,
        )
        retry.context["task_run_count"] = run_count  # as Prefect 1's Retrying context
        _keep_loop(retry, ctx)
        return self._transition(state, retry, emit)

    def check_mapped_parent(self, state: State, upstream_states: dict, emit: Emit | None = None) -> State | None:
        """For a mapped parent: the final state it ends in without mapping, or None to map.

        As in Prefect 1, the trigger is not asked here but by each child, so a
        failed unmapped upstream gives Mapped with TriggerFailed children. A parent already
        Mapped (given to a new run) maps again: its finished children keep their
        states and the others run.
        """
        try:
            self._upstream_finished(state, upstream_states)
            self._upstream_skipped(state, upstream_states, emit)
            if type(state) is not Mapped:
                self._is_ready(state)
        except ENDRUN as end:
            return end.state
        return None

    # --- transitions --------------------------------------------------------
    def _transition(self, old: State, new: State, emit: Emit | None) -> State:
        """Move to ``new`` through the state handlers and emit one event.

        Raises ENDRUN(Failed) when a handler raises, as Prefect 1 does.
        """
        new._timestamp = time.time()
        new._tags = self.tags  # context["tags"], as Prefect 1 puts them on every task state
        if new._context is not None and "tags" not in new._context:
            new._context["tags"] = sorted(self.tags)
        if self.handlers or self.task.on_failure is not None:
            new = self._call_handlers(old, new, emit)
        if emit is not None:
            emit(old, new)
        return new

    def _final_transition(self, old: State, new: State, emit: Emit | None) -> State:
        """A transition that ends the run whatever the handlers do."""
        try:
            return self._transition(old, new, emit)
        except ENDRUN as end:
            return end.state

    def _call_handlers(self, old: State, new: State, emit: Emit | None) -> State:
        """The task's handlers get the task, then on_failure, then the runner's handlers get the runner.

        A handler raising a signal chooses the signal's state; one raising an
        error ends the run Failed.
        """
        task = self.task
        try:
            for handler in self.task_handlers:
                changed = handler(task, old, new)
                if changed is not None:
                    new = changed
            if task.on_failure is not None and isinstance(new, Failed):
                task.on_failure(task, new)
            for handler in self.state_handlers:
                changed = handler(self, old, new)
                if changed is not None:
                    new = changed
        except ENDRUN:
            raise
        except signals.PrefectStateSignal as sig:
            new = sig.state
        except Exception as exc:
            self.logger.error("Task %r: a state handler raised %s", self.task.name, _describe(exc), exc_info=True)
            failed = Failed(f"Exception raised while calling state handlers: {short_repr(exc)}", result=exc)
            failed._timestamp = time.time()
            if emit is not None:
                emit(old, failed)
            raise ENDRUN(failed) from None
        if new._timestamp is None:  # a handler returned a state of its own
            new._timestamp = time.time()
        return new


def _keep_loop(retry: Retrying, ctx: dict) -> None:
    """Keep a looping task's iteration and last loop result in its Retrying state."""
    if "task_loop_result" in ctx:
        retry.context["_loop_count"] = ctx["task_loop_count"]
        retry.context["_loop_result"] = ctx["task_loop_result"]


def _flatten(value: Any) -> Any:
    """A list of lists made one list; as in Prefect 1.4.1, a value that is not one (it,
    or one of its items, is not iterable) is passed on as it is."""
    try:
        return [item for sub in value for item in sub]
    except TypeError:
        return value


def _flatten_children(results: list) -> list:
    """The results of a mapped task's children made one list: as in Prefect 1.4.1, each
    iterable result gives its items, any other result is one item."""
    flat: list = []
    for result in results:
        try:
            flat.extend(result)
        except TypeError:
            flat.append(result)
    return flat


def is_interrupt(exc: BaseException) -> bool:
    """True for a KeyboardInterrupt that should interrupt the whole flow run.

    That is one in the main thread of a process that takes Ctrl-C (the flow
    runner's, with LocalExecutor: a real Ctrl-C and task code raising it look
    the same there). Raised by task code on a worker thread or in a pool worker
    (which ignores SIGINT) it only ends that task.
    """
    return (
        isinstance(exc, KeyboardInterrupt)
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    )


def _base_message(exc: BaseException) -> str:
    """What a BaseException that is not an error did, for a Failed message."""
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else repr(exc.code)
        return (f"task called sys.exit({code}); a task cannot exit the process that runs it, "
                "so this ended the task Failed (raise an exception or signals.FAIL to fail a task).")
    if isinstance(exc, KeyboardInterrupt):
        return ("task raised KeyboardInterrupt on a worker; this ended the task Failed "
                "(Ctrl-C in the flow runner's process interrupts the whole run).")
    return repr(exc)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _LogWriter:
    """A file-like object that sends each printed line to a logger (blank lines are dropped)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line)
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self.logger.info(self._buffer)
        self._buffer = ""

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _stdout_to_log(logger: logging.Logger):
    """Send ``print`` output to ``logger`` for the block, including a last line without a newline."""
    writer = _LogWriter(logger)
    try:
        with contextlib.redirect_stdout(writer):
            yield
    finally:
        writer.flush()
