"""FlowRunner: walks a flow's graph and runs each task through its TaskRunner.

One plain loop in the caller's thread owns the run: it keeps which task runs
are ready, hands them to the executor, takes completions and state events off
one queue, re-submits retries when they are due, and fires listeners. Mapped
tasks expand into one run per item as soon as their inputs' lengths are known,
so chained maps run depth-first: child ``i`` of the second map is ready when
child ``i`` of the first is done.

>>> from perfect_nb import Flow, task
>>> with Flow("double") as flow:
...     doubled = task(lambda x: 2 * x, name="double").map([1, 2, 3])
>>> state = FlowRunner(flow).run(return_tasks=[doubled])
>>> state, state.result[doubled].result
(<Success: "All reference tasks succeeded.">, [2, 4, 6])
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import gc
import heapq
import itertools
import logging
import queue
import sys
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Iterator

from perfect_nb.configuration import config
from perfect_nb.core import context as _context
from perfect_nb.engine.events import StateChange, dispatch
from perfect_nb.engine.mapping import Node as _Node, expand
from perfect_nb.engine.state import (
    Cancelled, Failed, Finished, Mapped, Paused, Pending, Resume, Retrying, Scheduled, State, Success,
)
from perfect_nb.engine.persistence import check_targets
from perfect_nb.engine.remote_logs import LogEntry, relog
from perfect_nb.engine.runner import handler_list
from perfect_nb.engine.signals import ENDRUN, PrefectStateSignal
from perfect_nb.engine.steps import FlowRunnerInitializeResult, FlowRunnerSteps
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.errors import ParameterError

__all__ = ["FlowRunner", "run_flow"]

logger = logging.getLogger("perfect_nb.FlowRunner")
_DONE, _EVENT = 0, 1
_POLL = 0.2  # seconds between checks for an interrupt while waiting on other threads


class _Emitter:
    """What a task run calls on each transition; picklable when its sink is."""

    __slots__ = ("sink", "slug", "run_id", "index")

    def __init__(self, sink: Callable, slug: str, run_id: str, index: int | None) -> None:
        self.sink, self.slug, self.run_id, self.index = sink, slug, run_id, index

    def __call__(self, old: State, new: State) -> None:
        self.sink((self.slug, self.run_id, self.index, old, new, new._timestamp or time.time()))


class FlowRunner(FlowRunnerSteps):
    """Runs a flow and returns its final State.

    As in Prefect 1, ``FlowRunner(flow).run()`` runs what can run now and returns: a
    task waiting to retry leaves the flow Running (give the states back with
    ``run(state=..., task_states=state.result)`` once it is due); ``flow.run()`` is
    what waits for retries. The public steps (``initialize_run``,
    ``check_flow_is_pending_or_running``, ``check_flow_reached_start_time``,
    ``set_flow_to_running``, ``get_flow_run_state``, ``determine_final_state``) are
    in :mod:`perfect_nb.engine.steps`.

    Parameters
    ----------
    flow : Flow
    task_runner_cls : type, optional
        TaskRunner subclass to use.
    state_handlers : list, optional
        Extra handlers ``handler(flow_runner, old_state, new_state)``, called
        after the flow's own handlers (which get the flow) and its ``on_failure``.
    """

    def __init__(self, flow: Any, task_runner_cls: type | None = None, state_handlers: list | None = None) -> None:
        self.flow = flow
        self.task_runner_cls = task_runner_cls or _default_task_runner_class()
        self.state_handlers = handler_list(state_handlers)
        self.waits_for_retries = False  # flow.run() sets it: retries are waited for inside the run
        self._active: _FlowRun | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.flow.name}>"

    @property
    def logger(self) -> logging.Logger:
        return logger

    def handle_state_change(self, old_state: State, new_state: State) -> State:
        """Move the flow from ``old_state`` to ``new_state`` through its state handlers
        (the flow's, on_failure, then the runner's); a running flow's listeners hear it."""
        if self._active is not None:
            return self._active._flow_transition(old_state, new_state)
        return _flow_handlers(self, old_state, new_state)

    def initialize_run(self, state: State | None, task_states: dict | None, context: dict | None,
                       task_contexts: dict | None, parameters: dict | None) -> FlowRunnerInitializeResult:
        """The starting state (default Pending), the task states, the flow run's context
        (flow_name, flow_run_id, parameters with defaults, scheduled_start_time, date, ...)
        and the task contexts, as the run will use them."""
        params = _check_parameters(self.flow, parameters or {})
        base = _run_context(self.flow, context or {}, params, (context or {}).get("flow_run_id") or str(uuid.uuid4()))
        return FlowRunnerInitializeResult(state if state is not None else Pending(), dict(task_states or {}), base, dict(task_contexts or {}))

    def get_flow_run_state(self, state: State, task_states: dict | None, task_contexts: dict | None, return_tasks: Iterable | None,
                           task_runner_state_handlers: list | None, executor: Any) -> State:
        """Run the tasks of a Running flow and return its final state, whose result maps each
        of ``return_tasks`` to its state; ENDRUN(state) unless ``state`` is Running."""
        if not state.is_running():
            raise ENDRUN(state)
        from perfect_nb.executors import LocalExecutor

        params = _check_parameters(self.flow, dict(_context.current().get("parameters") or {}))
        run = _FlowRun(self, params, executor or LocalExecutor(), dict(task_states or {}), {}, task_contexts or {}, [], task_runner_state_handlers, None)
        final = run.execute(state)
        keep = set(return_tasks or ())
        final.result = {t: s for t, s in run.task_states().items() if t in keep}
        return final

    def run(
        self,
        state: State | None = None,
        task_states: dict | None = None,
        return_tasks: Iterable | None = None,
        parameters: dict | None = None,
        task_runner_state_handlers: list | None = None,
        executor: Any = None,
        context: dict | None = None,
        task_contexts: dict | None = None,
        listeners: list[Callable[[StateChange], Any]] | None = None,
        cache: Any = None,
    ) -> State:
        """Run what can run now and return the flow's State (default start: Pending).

        ``state.result`` maps each of ``return_tasks`` (none by default, as in Prefect 1)
        to its State. A finished ``state``, or a Scheduled one not due yet, is returned as
        it is; a retry that is not due leaves the flow Running (``flow.run()`` waits).
        """
        from perfect_nb.executors import LocalExecutor

        params = _check_parameters(self.flow, parameters or {})
        check_targets(self.flow, context)
        executor = executor or self.flow.executor or _default_executor(LocalExecutor)
        with _heap_frozen():
            run = _FlowRun(self, params, executor, dict(task_states or {}), context or {}, task_contexts or {}, list(listeners or []), task_runner_state_handlers, cache)
            self._run_ids = {"flow_run_id": run.flow_run_id, "flow_run_name": run.base["flow_run_name"]}
            final = run.execute(state)
        _flush_notifications()
        if not run.started:  # finished already or not due: the given state, untouched
            return final
        keep = set(return_tasks or ())
        final.result = {t: s for t, s in run.task_states().items() if t in keep}
        if cache is not None:
            cache.finish(final)
        return final


def _default_executor(local: type) -> Any:
    """The executor of ``config.engine.executor.default_class`` (LocalExecutor unless configured;
    Prefect 1's ``prefect.executors.X`` names the same class here)."""
    name = config.get_nested("engine.executor.default_class") or ""
    if name in ("", "perfect_nb.executors.LocalExecutor", "prefect.executors.LocalExecutor"):
        return local()
    import importlib

    if name.startswith("prefect."):
        name = "perfect_nb." + name[len("prefect."):]
    module, _, attr = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"config engine.executor.default_class = {name!r} names no executor ({exc}); "
                         "give a full path such as 'perfect_nb.executors.LocalDaskExecutor'.") from None
    return cls()


def _default_task_runner_class() -> type:
    """config.engine.task_runner.default_class; TaskRunner itself without a lookup when unset."""
    if config.get_nested("engine.task_runner.default_class") in (None, "", _TASK_RUNNER_PATH):
        return TaskRunner
    from perfect_nb.engine.defaults import get_default_task_runner_class

    return get_default_task_runner_class()


def _default_flow_runner_class() -> type:
    if config.get_nested("engine.flow_runner.default_class") in (None, "", _FLOW_RUNNER_PATH):
        return FlowRunner
    from perfect_nb.engine.defaults import get_default_flow_runner_class

    return get_default_flow_runner_class()


_TASK_RUNNER_PATH = "perfect_nb.engine.task_runner.TaskRunner"
_FLOW_RUNNER_PATH = "perfect_nb.engine.flow_runner.FlowRunner"


def _flush_notifications() -> None:
    """Wait for the run's notifications still being sent (each bounded by its deadline);
    nothing to do, and nothing imported, when no notifier was ever made."""
    notifications = sys.modules.get("perfect_nb.utilities.notifications")
    if notifications is not None:
        notifications.flush()


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the objects that exist before the run (the flow, the notebook's data) out of
    the garbage collector's full scans while the run allocates its states; a large flow
    otherwise spends a third of its time there. Left alone if someone else froze it."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _check_parameters(flow: Any, given: dict) -> dict:
    """Parameter values with defaults filled in; raises ParameterError before anything runs."""
    declared = {p.name: p for p in flow.parameters()}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(f"Flow {flow.name!r} has no parameter(s) {unknown}; its parameters are {sorted(declared)}.")
    missing = sorted(name for name, p in declared.items() if p.required and name not in given)
    if missing:
        raise ParameterError(f"Flow {flow.name!r} needs a value for required parameter(s) {missing}: pass them as flow.run({missing[0]}=...) or parameters={{...}}.")
    values = {name: p.default for name, p in declared.items()}
    for name, value in given.items():
        values[name] = declared[name].validate(value)
    return values


def _run_context(flow: Any, user_context: dict, params: dict, flow_run_id: str) -> dict:
    """The context every task of a flow run sees."""
    base = {**_context.current(), **user_context}
    base.pop("flow", None)
    now = _dt.datetime.now(_dt.timezone.utc)
    base.update(  # the keys of Prefect 1's flow run context; a backend run brings its own ids and name
        flow_name=flow.name, flow_id=user_context.get("flow_id") or flow.name, flow_run_id=flow_run_id,
        flow_run_name=user_context.get("flow_run_name") or str(uuid.uuid4()), parameters=params,
        scheduled_start_time=base.get("scheduled_start_time") or now, date=_context.run_date(base.get("date") or now, logger.warning),
    )
    if base.get("checkpointing") is None:  # off unless configured (config.flows.checkpointing), as in Prefect 1
        base["checkpointing"] = config.flows.checkpointing
    return base


class _FlowRun:
    """The state of one flow run; the loop lives here."""

    def __init__(self, runner: FlowRunner, params: dict, executor: Any, task_states: dict, user_context: dict, task_contexts: dict, listeners: list, extra_handlers: list | None, cache: Any) -> None:
        self.flow = runner.flow
        self.flow_runner = runner
        self.executor = executor
        self.listeners = listeners
        self.flow_run_id = user_context.get("flow_run_id") or str(uuid.uuid4())  # a backend run brings its id
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.main_thread = threading.get_ident()
        self.ready: collections.deque[_Node] = collections.deque()
        self.timers: list = []
        self.inflight = 0
        self.ids = itertools.count(1)
        self.slugs = {t.slug: t for t in self.flow.tasks}
        self.base = _run_context(self.flow, user_context, params, self.flow_run_id)
        self.wait_for_retries = runner.waits_for_retries
        self.started = False
        self.task_contexts = task_contexts
        self.sink = executor.event_sink(self._on_event) if listeners else None
        self.cache = cache  # lookup(task, index, upstream) / save(task, index, state) / finish(flow_state)
        self.nodes = self._build_nodes(task_states, extra_handlers)

    # --- graph -> nodes -----------------------------------------------------
    def _build_nodes(self, task_states: dict, extra_handlers: list | None) -> dict:
        nodes: dict[Any, _Node] = {}
        flow = self.flow
        for task in flow.sorted_tasks():
            runner = self.flow_runner.task_runner_cls(task, state_handlers=extra_handlers, flow_result=flow.result)
            node = _Node(task, runner, _starting_state(task_states.get(task)))
            edges = flow._up[task]
            node.mapped = any(e.mapped for e in edges)
            for edge in edges:
                up = nodes[edge.upstream_task]
                node.upstream.append((edge, up))
                waits_for_expansion = edge.mapped and up.mapped and not edge.flattened
                (up.ready_deps if waits_for_expansion else up.done_deps).append(node)
                node.waiting += 1
            nodes[task] = node
            if node.waiting == 0:
                self._make_ready(node)
        return nodes

    def task_states(self) -> dict:
        return {task: node.state for task, node in self.nodes.items()}

    # --- the run ----------------------------------------------------------
    def execute(self, state: State | None) -> State:
        """Prefect 1's steps: pending or running? due? set to Running; run the tasks; final state."""
        flow, runner = self.flow, self.flow_runner
        state = state if state is not None else Pending()
        token = _context.set_run_context(self.base)
        runner._active = self
        try:
            try:
                state = runner.check_flow_is_pending_or_running(state)
                state = runner.check_flow_reached_start_time(state)
            except ENDRUN as end:
                return end.state
            self.started = True
            state = runner.set_flow_to_running(state)
            if not state.is_running():  # a flow state handler failed or changed it
                return state
            logger.debug("Beginning flow run %r", flow.name)
            with self.executor.start():
                try:
                    self._loop()
                except KeyboardInterrupt:
                    return self._interrupted(state)
            final = self._final_state(state)
            return state if final is state else self._flow_transition(state, final)
        finally:
            runner._active = None
            _context.reset_run_context(token)

    def _loop(self) -> None:
        limit = self.executor.max_inflight
        refill = self.executor.refill_at
        ready, q = self.ready, self.queue
        while True:
            if limit is None or refill is None or self.inflight <= refill:
                while ready and (limit is None or self.inflight < limit):
                    self._submit(ready.popleft())
            if not self.inflight and not ready:
                if not self.timers:
                    return
                self._wait_for_timer()
                continue
            try:
                kind, a, b = q.get(timeout=self._wait_time())
            except queue.Empty:
                self._release_due_timers()
                continue
            if kind is _DONE:
                self._done(a, b)
            else:
                self._dispatch(a)

    def _wait_time(self) -> float:
        if self.timers:
            return max(0.0, min(_POLL, self.timers[0][0] - time.time()))
        return _POLL

    def _wait_for_timer(self) -> None:
        delay = self.timers[0][0] - time.time()
        if delay > 0:
            try:
                kind, a, b = self.queue.get(timeout=delay)
                self._dispatch(a) if kind is _EVENT else self._done(a, b)
            except queue.Empty:
                pass
        self._release_due_timers()

    def _release_due_timers(self) -> None:
        """Put the retries that are due at the front of the queue, in the order they fell due
        (as Prefect 1.4.1 retries mapped children: in index order, for one retry_delay)."""
        now, timers = time.time(), self.timers
        due = []
        while timers and timers[0][0] <= now:
            due.append(heapq.heappop(timers)[2])
        self.ready.extendleft(reversed(due))

    def _submit(self, node: _Node) -> None:
        task = node.task
        if node.run_id is None:
            node.run_id = f"{self.flow_run_id}-{next(self.ids)}"
        upstream = {edge: (p.state if type(p) is _Node else p) for edge, p in node.upstream}
        if self.cache is not None and type(node.state) is Pending and self._reuse(node, upstream):
            return
        base = self.base
        extra = self.task_contexts.get(task)
        if extra:
            base = {**base, **extra}
        emit = _Emitter(self.sink, task.slug, node.run_id, node.index) if self.sink is not None else None
        self.inflight += 1
        args = (node.runner.run, node.state, upstream)
        kwargs = dict(inputs=self.flow.constants.get(task), map_index=node.index, task_run_id=node.run_id, emit=emit, base_context=base)
        if self.executor.runs_inline:  # done already: no need to go through the queue
            self._done(node, self.executor.submit(*args, **kwargs))
        else:
            self.executor.submit_then(lambda future, node=node: self.queue.put((_DONE, node, future)), *args, **kwargs)

    def _done(self, node: _Node, future: Any) -> None:
        self.inflight -= 1
        try:
            state = future.result()
        except KeyboardInterrupt:  # a Ctrl-C here, in the flow runner
            raise
        except BaseException as exc:  # the executor itself failed (lost worker, unpicklable result)
            if self.base.get("raise_on_exception"):  # utilities.debug.raise_on_exception(): a task's error
                raise
            state = Failed(f"The executor could not run this task: {type(exc).__name__}: {exc}", result=exc)
            self._emit_local(node, node.state, state)
        node.state = state
        if self.cache is not None:
            self.cache.save(node.task, node.index, state)
        if type(state) is Retrying:
            if not self.wait_for_retries:  # FlowRunner.run(): the flow stays Running; flow.run() waits
                if node.index is not None:
                    node.parent.state.map_states[node.index] = state
                return
            start = state.start_time.timestamp() if state.start_time else time.time()
            heapq.heappush(self.timers, (start, next(self.ids), node))
            return
        self._complete(node)

    def _reuse(self, node: _Node, upstream: dict) -> bool:
        """End ``node`` from the run cache (Cached), if the cache has its result for these upstream states."""
        hit = self.cache.lookup(node.task, node.index, upstream)
        if hit is None:
            return False
        self._emit_local(node, node.state, hit)
        node.state = hit
        self._complete(node)
        return True

    def _make_ready(self, node: _Node) -> None:
        if node.mapped and node.index is None:
            expand(self, node)
        else:
            self.ready.append(node)

    def _release(self, deps: list[_Node]) -> None:
        batch = []
        for dep in deps:
            dep.waiting -= 1
            if dep.waiting == 0:
                if dep.mapped and dep.index is None:
                    expand(self, dep)
                else:
                    batch.append(dep)
        self.ready.extendleft(reversed(batch))  # depth-first: new work before older work

    def _complete(self, node: _Node) -> None:
        node.complete = True
        if node.index is not None:
            parent = node.parent
            parent.state.map_states[node.index] = node.state
            self._release(node.done_deps)
            parent.remaining -= 1
            if parent.remaining == 0:
                parent.state.result = [s.result for s in parent.state.map_states]
                self._complete(parent)
            return
        if node.mapped and node.children is None:
            self._release(node.ready_deps)
        self._release(node.done_deps)

    # --- events -------------------------------------------------------------
    def _on_event(self, record: tuple) -> None:
        if threading.get_ident() == self.main_thread:
            self._dispatch(record)
        else:
            self.queue.put((_EVENT, record, None))

    def _dispatch(self, record: tuple) -> None:
        if type(record) is LogEntry:  # a task's log record from a worker process
            return relog(record)
        slug, run_id, index, old, new, stamp = record
        event = StateChange(self.flow_run_id, self.slugs.get(slug), run_id, index, old, new, stamp)
        dispatch(self.listeners, event)

    def _cancel(self, node: _Node, message: str) -> None:
        if node.run_id is None:  # never submitted: its Cancelled event still names a task run
            node.run_id = f"{self.flow_run_id}-{next(self.ids)}"
        old, node.state = node.state, Cancelled(message)
        self._emit_local(node, old, node.state)

    def _emit_local(self, node: _Node, old: State, new: State) -> None:
        new._timestamp = new._timestamp or time.time()
        if self.listeners:
            self._dispatch((node.task.slug, node.run_id, node.index, old, new, new._timestamp))

    def _parent_emitter(self, parent: _Node) -> _Emitter | None:
        if not self.listeners:
            return None
        if parent.run_id is None:
            parent.run_id = f"{self.flow_run_id}-{next(self.ids)}"
        return _Emitter(self._dispatch, parent.task.slug, parent.run_id, None)

    # --- the flow's own states -----------------------------------------------
    def _flow_transition(self, old: State, new: State) -> State:
        new = _flow_handlers(self.flow_runner, old, new)
        if self.listeners:
            dispatch(self.listeners, StateChange(self.flow_run_id, None, None, None, old, new, new._timestamp))
        return new

    def _final_state(self, state: State) -> State:
        """As Prefect 1: ``state`` (Running) while a terminal task is unfinished; else the
        reference tasks decide (a mapped task counts through its children). The final
        state holds every task's state as its result when its handlers see it."""
        flow = self.flow
        terminal = _key_states(self.nodes[t].state for t in flow.terminal_tasks())
        states = _key_states(self.nodes[t].state for t in flow.reference_tasks())
        final = self.flow_runner.determine_final_state(state, states, self.task_states(), terminal)
        if final is not state:
            logger.log(logging.DEBUG if isinstance(final, Success) else logging.INFO, "Flow run %r: %s", flow.name, final.message)
        return final

    def _interrupted(self, state: State) -> State:
        """Mark what did not finish Cancelled; keep what did.

        A mapped task that already has children stays Mapped: its finished
        children keep their states and results, the others are Cancelled.
        """
        self.executor.cancel_pending()
        message = "Flow run was interrupted before this task finished."
        for node in self.nodes.values():
            if node.children is not None:
                map_states = node.state.map_states
                for child in node.children:
                    if not isinstance(child.state, Finished):
                        self._cancel(child, message)
                    map_states[child.index] = child.state
                node.state.result = [s.result for s in map_states]
            elif not isinstance(node.state, Finished):
                self._cancel(node, message)
        done = sum(isinstance(n.state, Finished) and not isinstance(n.state, Cancelled) for n in self.nodes.values())
        logger.warning("Flow run %r interrupted: %d finished task(s) kept in flow.last_run.", self.flow.name, done)
        return self._flow_transition(state, Cancelled("Flow run was interrupted; finished task results were kept."))


def _key_states(states: Iterable[State]) -> list[State]:
    """The states that decide a flow's state: a mapped task's children stand in for it."""
    out: list[State] = []
    for state in states:
        if type(state) is Mapped:
            out.extend(state.map_states)
        else:
            out.append(state)
    return out


def run_flow(flow: Any, parameters: dict | None = None, run_on_schedule: bool | None = None, runner_cls: type | None = None, backend: Any = None, **kwargs: Any) -> State:
    """What ``flow.run()`` does: one run now, or one per scheduled time, recorded
    in the backend when one is configured (``backend=False`` opts out).

    As in Prefect 1, it starts from ``Scheduled()`` (or the ``state`` given), returns
    every task's state, and waits for retries; a task that did not run is
    ``Pending("Task not run.")`` in the result. On a terminal it asks whether to resume
    each paused task (:func:`resume_paused`).
    """
    from perfect_nb.backend import reporter_for

    if "return_tasks" in kwargs:
        raise ValueError(
            "The `return_tasks` keyword cannot be provided to `flow.run()`; all task states are always "
            "returned. To receive a subset of task states, use a FlowRunner: FlowRunner(flow).run(return_tasks=[...])."
        )
    kwargs["return_tasks"] = flow.tasks
    reporter = reporter_for(flow, backend, kwargs.get("context"))
    if reporter is not None:
        kwargs["listeners"] = [*(kwargs.get("listeners") or []), reporter]
    try:
        runner = (runner_cls or _default_flow_runner_class())(flow)
        runner.waits_for_retries = True
        if run_on_schedule is None:
            run_on_schedule = config.flows.run_on_schedule
        if flow.schedule is not None and run_on_schedule is not False:
            from perfect_nb.engine.scheduling import run_on_schedule as scheduled

            return scheduled(flow, runner, parameters or {}, **kwargs)
        if kwargs.get("state") is None:
            kwargs["state"] = Scheduled(start_time=_dt.datetime.now(_dt.timezone.utc))
        state = _all_task_states(flow, runner.run(parameters=parameters, **kwargs))
        state = resume_paused(runner, state, parameters, kwargs)
        flow.last_run = state
        return state
    finally:
        if reporter is not None:
            reporter.close()


def resume_paused(runner: FlowRunner, state: State, parameters: dict | None, run_kwargs: dict) -> State:
    """As Prefect 1.4.1's ``flow.run()``: while the run waits on paused tasks (a ``manual_only``
    trigger, a PAUSE signal), ask on the terminal for each whether to resume it and run again;
    'y' gives it ``Resume("Approval given to resume.")``, anything else asks again after the
    next pass. Without a terminal (a notebook, a pipe, a service) nothing is asked: the flow
    stays Running with those tasks Paused, to be resumed with ``flow.run(task_states=...)``.
    """
    while state.is_running() and isinstance(state.result, dict):
        paused = [t for t, s in state.result.items() if isinstance(s, Paused)]
        if not paused or not _on_terminal():
            return state
        task_states = dict(state.result)
        for t in paused:
            try:
                answer = input(f"{t} is currently Paused; enter 'y' to resume:\n")
            except EOFError:  # Ctrl-D: leave the run paused
                return state
            if answer.strip().lower() == "y":
                task_states[t] = Resume("Approval given to resume.")
        context = {**(run_kwargs.get("context") or {}), **getattr(runner, "_run_ids", {})}  # the same flow run
        again = {**run_kwargs, "state": state, "task_states": task_states, "context": context}
        state = _all_task_states(runner.flow, runner.run(parameters=parameters, **again))
    return state


def _on_terminal() -> bool:
    """True when standard input is an interactive terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


def _all_task_states(flow: Any, state: State) -> State:
    """As Prefect 1's flow.run(): the result names every task; one that did not run is Pending("Task not run.")."""
    states = state.result if isinstance(state.result, dict) else {}
    missing = [t for t in flow.tasks if t not in states]
    if missing or states is not state.result:
        state.result = {**states, **{t: Pending("Task not run.") for t in missing}}
    return state


def _flow_handlers(runner: FlowRunner, old: State, new: State) -> State:
    """The flow's state handlers, its on_failure, then the runner's; a signal chooses the
    state, an error fails the flow."""
    new._timestamp = time.time()
    flow = runner.flow
    try:
        for handler in flow.state_handlers:
            changed = handler(flow, old, new)
            if changed is not None:
                new = changed
        if flow.on_failure is not None and isinstance(new, Failed):
            flow.on_failure(flow, new)
        for handler in runner.state_handlers:
            changed = handler(runner, old, new)
            if changed is not None:
                new = changed
    except PrefectStateSignal as sig:  # as for tasks: the signal's state
        new = sig.state
    except Exception as exc:
        logger.error("Flow %r: a state handler raised %r", flow.name, exc, exc_info=True)
        new = Failed(f"Exception raised while calling state handlers: {exc!r}", result=exc)
    if new._timestamp is None:  # a handler returned a state of its own
        new._timestamp = time.time()
    return new


def _starting_state(given: State | None) -> State:
    """The state a task run starts from: what ``task_states`` gave, except that what
    failed or was cancelled runs again (so re-running with a failed run's states
    re-runs only what did not succeed), mapped children included."""
    if given is None or isinstance(given, (Failed, Cancelled)):
        return Pending()
    if type(given) is Mapped and any(s is None or isinstance(s, (Failed, Cancelled)) for s in given.map_states):
        children = [Pending() if s is None or isinstance(s, (Failed, Cancelled)) else s for s in given.map_states]
        return Mapped(given.message, map_states=children)
    return given
