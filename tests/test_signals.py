"""Signals (perfect_nb.engine.signals): each raises a task into its state."""

from __future__ import annotations

import datetime as dt

import pytest

from perfect_nb import Flow, task
from perfect_nb.engine import signals
from perfect_nb.engine.state import (
    Failed, Looped, Paused, Pending, Retrying, Skipped, State, Success, TriggerFailed, ValidationFailed,
)

SIGNAL_STATE = {
    signals.FAIL: Failed,
    signals.TRIGGERFAIL: TriggerFailed,
    signals.VALIDATIONFAIL: ValidationFailed,
    signals.SUCCESS: Success,
    signals.RETRY: Retrying,
    signals.SKIP: Skipped,
    signals.PAUSE: Paused,
    signals.LOOP: Looped,
}
IDS = [s.__name__ for s in SIGNAL_STATE]


@pytest.mark.parametrize("signal, state_cls", SIGNAL_STATE.items(), ids=IDS)
def test_signal_state_class_and_message(signal, state_cls):
    with pytest.raises(signals.PrefectStateSignal) as info:
        raise signal("why it happened")
    assert type(info.value.state) is state_cls
    assert info.value.state.message == "why it happened"
    assert str(info.value) == "why it happened"


@pytest.mark.parametrize("signal", SIGNAL_STATE, ids=IDS)
def test_result_keyword_becomes_the_state_result(signal):
    payload = {"rows": [1, 2]}
    assert signal("m", result=payload).state.result is payload


@pytest.mark.parametrize("signal", SIGNAL_STATE, ids=IDS)
def test_message_defaults_to_none(signal):
    assert signal().state.message is None


@pytest.mark.parametrize(
    "signal", [signals.FAIL, signals.TRIGGERFAIL, signals.VALIDATIONFAIL, signals.RETRY, signals.PAUSE, signals.SUCCESS, signals.SKIP]
)
def test_result_defaults_to_the_signal_itself(signal):
    """Prefect 1.4.1: SKIP('m').state.result is the SKIP itself, SUCCESS and the others too."""
    raised = signal("m")
    assert raised.state.result is raised


def test_loop_result_defaults_to_the_signal_text():
    """Prefect 1.4.1: LOOP('m').state.result == "LOOP('m')" (a string), LOOP(result=5) gives 5."""
    assert signals.LOOP("m").state.result == "LOOP('m')"
    assert signals.LOOP("m", result=5).state.result == 5


def test_other_keywords_reach_the_state():
    when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    retry = signals.RETRY("later", start_time=when, run_count=2)
    assert (retry.state.start_time, retry.state.run_count) == (when, 2)
    assert signals.LOOP(result=3, loop_count=4).state.loop_count == 4
    assert signals.FAIL("x", context={"k": 1}).state.context == {"k": 1}


@pytest.mark.parametrize("signal", [signals.TRIGGERFAIL, signals.VALIDATIONFAIL])
def test_specialised_failures_are_caught_as_fail(signal):
    with pytest.raises(signals.FAIL):
        raise signal()


def test_all_state_signals_share_a_base_and_endrun_stands_apart():
    for signal in SIGNAL_STATE:
        assert issubclass(signal, signals.PrefectStateSignal)
    assert not issubclass(signals.ENDRUN, signals.PrefectStateSignal)


def test_endrun_carries_a_state():
    state = Success(result=1)
    assert signals.ENDRUN(state).state is state
    assert signals.ENDRUN().state is None


def test_each_signal_instance_has_its_own_state():
    a, b = signals.FAIL("x"), signals.FAIL("x")
    assert a.state is not b.state
    assert isinstance(a.state, State)


@pytest.mark.parametrize(
    "signal, state_cls, result",
    [
        (signals.FAIL("bad row", result=3), Failed, 3),
        (signals.SUCCESS("early", result="done"), Success, "done"),
        (signals.SKIP("nothing new", result=None), Skipped, None),
        (signals.VALIDATIONFAIL("invalid", result=[1]), ValidationFailed, [1]),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_a_task_raising_a_signal_ends_in_its_state(signal, state_cls, result):
    @task
    def raises():
        raise signal

    with Flow("signal") as flow:
        t = raises()
    state = flow.run().result[t]
    assert type(state) is state_cls
    assert state.message == signal.state.message
    assert state.result == result


def test_a_raised_skip_success_or_fail_is_the_state_result():
    """Prefect 1.4.1: a task raising SKIP("nope") ends <Skipped: "nope"> with result SKIP('nope');
    SUCCESS and FAIL likewise; a task downstream of the skip ends Skipped with result None."""
    made = {}

    def raiser(name):
        @task(name=name)
        def raises():
            raise made[name]
        return raises

    made.update(skip=signals.SKIP("nope"), success=signals.SUCCESS("yay"), fail=signals.FAIL("bad"))
    with Flow("signals") as flow:
        tasks = {name: raiser(name)() for name in made}
        after = task(lambda x: x, name="after")(tasks["skip"])
    states = flow.run().result
    for name, signal in made.items():
        assert states[tasks[name]].result is signal
    assert type(states[after]) is Skipped and states[after].result is None


def test_a_broad_except_in_task_code_does_not_swallow_a_signal():
    @task
    def careful():
        try:
            raise signals.SKIP("nothing to do")
        except Exception:
            return "swallowed"

    with Flow("broad except") as flow:
        t = careful()
    assert type(flow.run().result[t]) is Skipped


def test_signals_are_base_exceptions_like_prefect_1():
    assert not issubclass(signals.PrefectStateSignal, Exception)
    assert issubclass(signals.ENDRUN, signals.PrefectSignal)
    assert signals.signal_from_state(Skipped()) is signals.SKIP
    with pytest.raises(ValueError, match="No signal ends a task in Pending"):
        signals.signal_from_state(Pending())


def test_a_signal_in_a_task_with_a_timeout_or_in_a_state_handler_chooses_the_state():
    def veto(task, old, new):
        if new.is_successful():
            raise signals.FAIL("vetoed by a handler")

    @task(timeout=5)
    def timed():
        raise signals.SKIP("skipped in the timeout thread")

    @task(state_handlers=[veto])
    def vetoed():
        return 1

    with Flow("signals around tasks") as flow:
        a, b = timed(), vetoed()
    state = flow.run()
    assert type(state.result[a]) is Skipped and state.result[a].message == "skipped in the timeout thread"
    assert type(state.result[b]) is Failed and state.result[b].message == "vetoed by a handler"


def test_a_flow_state_handler_raising_a_signal_gives_the_flow_its_state():
    def no_failures(flow, old, new):
        if new.is_failed():
            raise signals.SKIP("nothing to report today")

    @task
    def broken():
        raise ValueError("no data")

    with Flow("flow handler", state_handlers=[no_failures]) as flow:
        broken()
    state = flow.run()
    assert type(state) is Skipped and state.message == "nothing to report today"


def test_a_listener_raising_a_signal_does_not_stop_the_run(caplog):
    def bad_listener(event):
        raise signals.FAIL("listeners cannot change states")

    with Flow("listener") as flow:
        t = task(lambda: 3, name="three")()
    state = flow.run(listeners=[bad_listener])
    assert state.is_successful() and state.result[t].result == 3
    assert "the run goes on" in caplog.text
