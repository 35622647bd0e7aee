"""Semantics of issue 14 checked against Prefect 1.4.1: ``manual_only`` on a terminal, the
order mapped children are retried in, ``case``/``switch``/``ifelse`` on a plain value,
``ClientFailed``, the ``Runner`` base class and ``FilterTask``'s default filter.

Every expected value was read off Prefect 1.4.1 (bench/.prefect1-venv) running the same
flow; each test's docstring says what 1.4.1 did.
"""

from __future__ import annotations

import builtins
import datetime as dt
import sys

import pytest

from perfect_nb import Flow, Task, case, context, task, triggers
from perfect_nb.engine import signals
from perfect_nb.engine import state as st
from perfect_nb.engine.flow_runner import FlowRunner
from perfect_nb.engine.result import NoResult
from perfect_nb.engine.runner import Runner
from perfect_nb.engine.signals import ENDRUN
from perfect_nb.engine.task_runner import TaskRunner
from perfect_nb.tasks.control_flow import FilterTask, ifelse, switch
from perfect_nb.tasks.control_flow.conditional import CompareValue


# --- ClientFailed and Runner ---------------------------------------------------------------------

def test_client_failed():
    """1.4.1: prefect.engine.state.ClientFailed(_MetaState) wraps the state the client could
    not set; color '#eb0000'; is_meta_state() True, is_failed() and is_finished() False;
    ClientFailed.parents() == [State]; State.children() lists it before Submitted."""
    cf = st.ClientFailed(state=st.Failed("boom"))
    assert st.ClientFailed.__bases__ == (st.MetaState,) and st._MetaState is st.MetaState
    assert repr(cf) == "<ClientFailed>" and repr(cf.state) == '<Failed: "boom">'
    assert (cf.is_meta_state(), cf.is_failed(), cf.is_finished(), cf.is_pending()) == (True, False, False, False)
    assert st.ClientFailed.color == "#eb0000"
    assert st.ClientFailed.parents() == [st.State]
    names = [c.__name__ for c in st.State.children()]
    assert names.index("ClientFailed") == names.index("Submitted") - 1
    assert "ClientFailed" in st.__all__


def test_runner_base_class():
    """1.4.1: FlowRunner and TaskRunner subclass prefect.engine.runner.Runner.
    Runner(state_handlers=[h]).handle_state_change(Pending(), Running()) calls h(runner, old,
    new) and returns <Running>; initialize_run(None, {}) == (<Pending>, {}); a handler that
    raises ValueError('x') gives ENDRUN(<Failed: "Unexpected error while calling state
    handlers: ValueError('x')">); SKIP/FAIL give the signal's state; PAUSE and ENDRUN are
    raised; a non-iterable state_handlers is TypeError('state_handlers should be iterable.')."""
    assert issubclass(TaskRunner, Runner) and issubclass(FlowRunner, Runner)
    calls = []
    runner = Runner(state_handlers=[lambda r, old, new: calls.append((type(r).__name__, old.type, new.type))])
    assert repr(runner.handle_state_change(st.Pending(), st.Running())) == "<Running>"
    assert calls == [("Runner", "Pending", "Running")]
    assert runner.initialize_run(None, {}) == (st.Pending(), {})

    def raising(exc):
        def handler(r, old, new):
            raise exc
        return Runner(state_handlers=[handler])

    with pytest.raises(ENDRUN) as end:
        raising(ValueError("x")).handle_state_change(st.Pending(), st.Running())
    assert repr(end.value.state) == "<Failed: \"Unexpected error while calling state handlers: ValueError('x')\">"
    assert repr(raising(signals.SKIP("s")).handle_state_change(st.Pending(), st.Running())) == '<Skipped: "s">'
    assert repr(raising(signals.FAIL("f")).handle_state_change(st.Pending(), st.Running())) == '<Failed: "f">'
    with pytest.raises(signals.PAUSE):
        raising(signals.PAUSE("p")).handle_state_change(st.Pending(), st.Running())
    for make in (Runner, lambda handlers: TaskRunner(Task(), state_handlers=handlers), lambda handlers: FlowRunner(Flow("f"), state_handlers=handlers)):
        with pytest.raises(TypeError, match="state_handlers should be iterable."):
            make(lambda *a: None)


def test_call_runner_target_handlers_calls_the_targets_handlers():
    """1.4.1: TaskRunner(t, state_handlers=[rh]).call_runner_target_handlers(Pending(), Failed())
    calls the task's handler and on_failure only; handle_state_change calls those, then rh.
    The same for FlowRunner with the flow's handlers and on_failure."""
    calls = []
    t = Task(state_handlers=[lambda t, o, n: calls.append("task")], on_failure=lambda t, s: calls.append("on_failure"))
    f = Flow("f", state_handlers=[lambda f, o, n: calls.append("flow")], on_failure=lambda f, s: calls.append("flow on_failure"))
    runner_handler = [lambda r, o, n: calls.append(type(r).__name__)]
    for runner, target in [(TaskRunner(t, state_handlers=runner_handler), ["task", "on_failure"]),
                           (FlowRunner(f, state_handlers=runner_handler), ["flow", "flow on_failure"])]:
        calls.clear()
        assert type(runner.call_runner_target_handlers(st.Pending(), st.Failed())) is st.Failed
        assert calls == target
        calls.clear()
        assert type(runner.handle_state_change(st.Pending(), st.Failed())) is st.Failed
        assert calls == [*target, type(runner).__name__]
