"""Prefect 1's public step methods of the task and flow runners, for code that calls them.

``TaskRunner.run()`` and ``FlowRunner.run()`` do not go through these: their own
pipelines (``task_runner.py``, ``flow_runner.py``) call the same logic under private
names, with the engine's event sink threaded through. The methods here keep Prefect
1's names and signatures (a state in; a state out, or ``ENDRUN(state)`` raised to
stop), so a test or a subclass written against Prefect 1 can call one step at a
time. Called this way, a step runs the state handlers but emits no engine event.

Inputs are held as Prefect 1 holds them: ``get_task_inputs`` returns
``{name: Result}``; the steps that take ``inputs`` accept Results or plain values.

>>> from perfect_nb import task
>>> from perfect_nb.engine.state import Pending, Running
>>> from perfect_nb.engine.task_runner import TaskRunner
>>> runner = TaskRunner(task(lambda x: x + 1, name="inc"))
>>> state = runner.set_task_to_running(Pending(), inputs={})
>>> state, runner.get_task_run_state(state, inputs={"x": 1}).result
(<Running: "Starting task run.">, 2)
"""

from __future__ import annotations

from typing import Any, NamedTuple

from perfect_nb.core import context as _context
from perfect_nb.engine.result import Result
from perfect_nb.engine.runner import Runner
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.state import Failed, Looped, Mapped, Pending, Retrying, Running, Scheduled, State, Success

__all__ = ["FlowRunnerInitializeResult", "FlowRunnerSteps", "TaskRunnerInitializeResult", "TaskRunnerSteps"]


class TaskRunnerInitializeResult(NamedTuple):
    state: State
    context: dict


class FlowRunnerInitializeResult(NamedTuple):
    state: State
    task_states: dict
    context: dict
    task_contexts: dict


def _values(inputs: dict | None) -> dict:
    """Plain values from ``{name: Result or value}``."""
    return {k: (v.value if isinstance(v, Result) else v) for k, v in (inputs or {}).items()}


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


class TaskRunnerSteps(Runner):
    """Prefect 1's public TaskRunner steps, on top of the pipeline's private ones."""

    # --- context -------------------------------------------------------------
    def initialize_run(self, state: State | None, context: dict | None) -> TaskRunnerInitializeResult:
        """The starting state (default Pending) and the task run's context: the caller's
        context plus task_name, task_slug, task_tags, map_index, task_run_count (a Retrying
        state's run count + 1) and resume (for a Resume state)."""
        state = state if state is not None else Pending()
        given = {**_context.current(), **(context or {})}
        ctx = self._context(given, state, given.get("map_index"), given.get("task_run_id"))
        for key in ("task_run_count", "task_loop_count", "task_loop_result"):  # a count the caller's context holds stands
            if key in given and not (key == "task_run_count" and type(state) is Retrying):
                ctx[key] = given[key]
        return TaskRunnerInitializeResult(state=state, context=ctx)

    def _step_context(self, state: State) -> dict:
        return self.initialize_run(state, None).context

    # --- transitions -----------------------------------------------------------
    def handle_state_change(self, old_state: State, new_state: State, emit: Any = None) -> State:
        """Move from ``old_state`` to ``new_state`` through the state handlers (task's,
        then on_failure, then the runner's); returns the state they settle on. A handler
        that raises ends the run: ``ENDRUN(Failed)``. ``emit`` (the engine's event sink)
        is how the flow runner's mapping step is heard; leave it out otherwise."""
        return self._transition(old_state, new_state, emit)

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """The task's own handlers (called with the task), then its ``on_failure`` for a
        failed state, as Prefect 1.4.1; the runner's ``state_handlers`` are not called
        (``handle_state_change`` calls them after these). An error is raised as it is."""
        task = self.task
        for handler in self.task_handlers:
            new_state = handler(task, old_state, new_state) or new_state
        if task.on_failure is not None and isinstance(new_state, Failed):
            task.on_failure(task, new_state)
        return new_state

    # --- before running ------------------------------------------------------
    def check_upstream_finished(self, state: State, upstream_states: dict) -> State:
        """``state`` if every upstream state (each child of a reduced mapped upstream) finished; else ENDRUN(state)."""
        self._upstream_finished(state, upstream_states)
        return state

    def check_upstream_skipped(self, state: State, upstream_states: dict) -> State:
        """ENDRUN(Skipped) when an upstream skipped, unless the task has ``skip_on_upstream_skip=False``."""
        return self._upstream_skipped(state, upstream_states, None)

    def check_task_ready_to_map(self, state: State, upstream_states: dict) -> State:
        """For a mapped parent: ENDRUN(Mapped("Ready to proceed with mapping.")) when it can
        map; ENDRUN(Failed) when no mapped upstream succeeded or one cannot be mapped over.
        An unmapped task's state is returned as it is."""
        mapped = {e: s for e, s in upstream_states.items() if e.mapped}
        if not mapped or isinstance(state, Mapped):
            return state
        if not any(s.is_successful() for s in mapped.values()):
            raise ENDRUN(self._transition(state, Failed("No upstream states can be mapped over.", result=None), None))
        for up in mapped.values():
            if up.is_successful() and type(up) is not Mapped and not _iterable(up.result):
                failed = Failed("At least one upstream state has an unmappable result.", result=None)
                raise ENDRUN(self._transition(state, failed, None))
        raise ENDRUN(self._transition(state, Mapped("Ready to proceed with mapping."), None))

    def mapped_parent_state(self, state: State, upstream_states: dict) -> State:
        """What ``run(..., is_mapped_parent=True)`` returns: the parent's state before its
        children run (Mapped("Ready to proceed with mapping."), or why it cannot map)."""
        try:
            self.check_upstream_finished(state, upstream_states)
            state = self.check_upstream_skipped(state, upstream_states)
            return self.check_task_ready_to_map(state, upstream_states)
        except ENDRUN as end:
            return end.state

    def check_task_trigger(self, state: State, upstream_states: dict) -> State:
        """Ask the task's trigger; ENDRUN(TriggerFailed) (or the signal's state) when it says no."""
        return self._trigger(state, upstream_states, None)

    def check_task_is_ready(self, state: State) -> State:
        """``state`` if it is Pending (Scheduled, Retrying, Resume included, whatever their
        start time: ``check_task_reached_start_time`` checks that); else ENDRUN(state)."""
        if not isinstance(state, Pending):
            raise ENDRUN(state)
        return state

    def check_task_reached_start_time(self, state: State) -> State:
        """ENDRUN(state) for a Scheduled state whose ``start_time`` is still ahead."""
        import datetime as _dt

        if isinstance(state, Scheduled) and state.start_time is not None and state.start_time > _dt.datetime.now(_dt.timezone.utc):
            raise ENDRUN(state)
        return state

    def get_task_inputs(self, state: State, upstream_states: dict) -> dict:
        """``{argument: Result}`` from the upstream states (a Retrying state's cached inputs first)."""
        return {k: (v if isinstance(v, Result) else Result(v)) for k, v in self._inputs(state, upstream_states, None).items()}

    def load_results(self, state: State, upstream_states: dict) -> tuple[State, dict]:
        """Read each upstream result still held only as a location (``State.load_result``)."""
        for up in upstream_states.values():
            for one in (up.map_states if type(up) is Mapped else [up]):
                if one is not None:
                    one.load_result()
        return state, upstream_states

    def check_task_is_cached(self, state: State, inputs: dict) -> State:
        """ENDRUN(Cached) when a ``cache_for`` result of an earlier run is still valid for these inputs."""
        return self._hook_check("DurationCache", state, inputs)

    def check_target(self, state: State, inputs: dict) -> State:
        """ENDRUN(Cached) when the task's ``target`` exists (read whatever checkpointing says, as Prefect 1)."""
        return self._hook_check("Checkpoint", state, inputs)

    def _hook_check(self, kind: str, state: State, inputs: dict) -> State:
        ctx = self._step_context(state)
        for hook in self.hooks:
            if type(hook).__name__ == kind:
                state = hook.check(self, state, _values(inputs), ctx, None)
        return state

    def set_task_run_name(self, task_inputs: dict) -> None:
        """Put the formatted ``task_run_name`` in the current context (as ``task_run_name``)."""
        if self.task.task_run_name is None:
            return
        ctx = self._step_context(Pending())
        name = self._run_name(Pending(), _values(task_inputs), ctx, None)
        _context.context["task_run_name"] = name

    # --- running ---------------------------------------------------------------
    def set_task_to_running(self, state: State, inputs: dict) -> State:
        """Running("Starting task run."); ENDRUN(state) unless ``state`` is Pending."""
        if not isinstance(state, Pending):
            raise ENDRUN(state)
        return self._transition(state, Running("Starting task run."), None)

    def get_task_run_state(self, state: State, inputs: dict) -> State:
        """Run the task body from a Running state: Success with its value, or the state an
        error or signal gives (Failed, TimedOut, Skipped, Looped, ...)."""
        if not isinstance(state, Running):
            raise ENDRUN(state)
        return self._transition(state, self._call(_values(inputs), self._step_context(state)), None)

    def check_task_is_looping(self, state: State, inputs: dict | None = None, upstream_states: dict | None = None,
                              context: dict | None = None) -> State:
        """A Looped state runs the task again (task_loop_count + 1, task_loop_result its result)."""
        if not isinstance(state, Looped):
            return state
        loop = {**(context or {}), "task_loop_count": state.loop_count + 1, "task_loop_result": state.result}
        pending = self._transition(state, Pending(f"Looping task (on loop index {state.loop_count})"), None)
        return self.run(pending, upstream_states or {}, context=loop)

    def check_for_retry(self, state: State, inputs: dict) -> State:
        """A Failed state with retries left becomes Retrying (at now + retry_delay)."""
        return self._retry(state, _values(inputs), self._step_context(state), None)

    def cache_result(self, state: State, inputs: dict) -> State:
        """A Success of a ``cache_for`` task becomes Cached, kept for later runs."""
        if type(state) is not Success:
            return state
        ctx = self._step_context(state)
        for hook in self.hooks:
            if type(hook).__name__ == "DurationCache":
                state = hook.store(self, state, _values(inputs), ctx, None)
        return state


class FlowRunnerSteps(Runner):
    """Prefect 1's public FlowRunner steps; ``run()`` goes through the same ones."""

    def check_flow_is_pending_or_running(self, state: State) -> State:
        """``state`` if it is Pending (Scheduled included) or Running; a finished state
        ends the run as it is: ENDRUN(state)."""
        if state.is_pending() or state.is_running():
            return state
        raise ENDRUN(state)

    def check_flow_reached_start_time(self, state: State) -> State:
        """ENDRUN(state) for a Scheduled flow state whose ``start_time`` is still ahead."""
        import datetime as _dt

        if isinstance(state, Scheduled) and state.start_time is not None and state.start_time > _dt.datetime.now(_dt.timezone.utc):
            raise ENDRUN(state)
        return state

    def set_flow_to_running(self, state: State) -> State:
        """Pending -> Running("Running flow."); a Running state stays as it is."""
        if state.is_running():
            return state
        if not state.is_pending():
            raise ENDRUN(state)
        return self.handle_state_change(state, Running("Running flow."))

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """The flow's own handlers (called with the flow), then its ``on_failure`` for a
        failed state, as Prefect 1.4.1; not the runner's ``state_handlers``."""
        flow = self.flow
        for handler in flow.state_handlers:
            new_state = handler(flow, old_state, new_state) or new_state
        if flow.on_failure is not None and isinstance(new_state, Failed):
            flow.on_failure(flow, new_state)
        return new_state

    def determine_final_state(self, state: State, key_states: Any, return_states: dict, terminal_states: Any) -> State:
        """The flow's final state from its reference (``key_states``) and terminal tasks' states:
        ``state`` unchanged while a terminal task has not finished; Failed when a reference
        task failed; else Success. ``return_states`` becomes the result, so a flow state
        handler sees the task states; the flow's ``terminal_state_handler`` has the last word."""
        if not all(s.is_finished() for s in terminal_states):
            self.logger.info("Flow run RUNNING: terminal tasks are incomplete.")
            return state
        if any(s.is_failed() for s in key_states):
            final: State = Failed("Some reference tasks failed.", result=return_states)
        elif all(s.is_successful() for s in key_states):
            final = Success("All reference tasks succeeded.", result=return_states)
        else:  # finished, neither succeeded nor failed (Cancelled, Looped)
            final = Success("No reference tasks failed.", result=return_states)
        handler = self.flow.terminal_state_handler
        if handler is not None:
            changed = handler(self.flow, final, set(key_states))
            final = changed if changed is not None else final
        return final
