"""Signals: exceptions a task raises on purpose to choose its own state.

They are control flow, not errors: ``raise SKIP("no new data")`` ends the task
Skipped with that message. As in Prefect 1 they derive from ``BaseException``,
so a broad ``except Exception`` in task code does not swallow them.

>>> from perfect_nb.engine import signals
>>> try:
...     raise signals.FAIL("bad row", result={"row": 3})
... except signals.PrefectStateSignal as signal:
...     signal.state
<Failed: "bad row">
"""

from __future__ import annotations

from perfect_nb.engine import state as _state

__all__ = [
    "ENDRUN", "FAIL", "LOOP", "PAUSE", "PrefectSignal", "PrefectStateSignal", "RETRY", "SKIP",
    "SUCCESS", "TRIGGERFAIL", "VALIDATIONFAIL", "signal_from_state",
]


class PrefectSignal(BaseException):
    """Base of the engine's signals: not caught by ``except Exception``."""


class PrefectStateSignal(PrefectSignal):
    """Base of the state signals; ``state`` is the state the task ends in."""

    _state_cls: type = _state.State

    def __init__(self, message: str | None = None, *args, **kwargs) -> None:
        super().__init__(message, *args)
        kwargs.setdefault("result", self)
        self.state = self._state_cls(message=message, **kwargs)


class FAIL(PrefectStateSignal):
    """Fail the task."""

    _state_cls = _state.Failed


class TRIGGERFAIL(FAIL):
    """Raised by a trigger that does not let its task run."""

    _state_cls = _state.TriggerFailed


class VALIDATIONFAIL(FAIL):
    """The task's result did not validate."""

    _state_cls = _state.ValidationFailed


class SUCCESS(PrefectStateSignal):
    """End the task successfully now (``result=`` gives its value; by default, as in
    Prefect 1, the signal itself)."""

    _state_cls = _state.Success


class RETRY(PrefectStateSignal):
    """Retry the task (counted against nothing: it always retries)."""

    _state_cls = _state.Retrying


class SKIP(PrefectStateSignal):
    """Skip the task; downstream tasks skip too unless ``skip_on_upstream_skip=False``.

    As in Prefect 1, the skipped state's result is the signal itself unless
    ``result=`` is given (a ``FilterTask``'s default filter keeps it, as in 1.4.1).
    """

    _state_cls = _state.Skipped


class PAUSE(PrefectStateSignal):
    """Pause the task until it is given a ``Resume`` state."""

    _state_cls = _state.Paused


class LOOP(PrefectStateSignal):
    """Run the task again with ``task_loop_result`` = ``result`` in context (by default,
    as in Prefect 1, the text of the signal: ``"LOOP('message')"``)."""

    _state_cls = _state.Looped

    def __init__(self, message: str | None = None, *args, **kwargs) -> None:
        super().__init__(message, *args, **kwargs)
        if "result" not in kwargs:
            self.state.result = repr(self)


class ENDRUN(PrefectSignal):
    """Stop a task run now, in ``state``; used inside the engine's pipeline."""

    def __init__(self, state: _state.State | None = None) -> None:
        self.state = state
        super().__init__(state)


def signal_from_state(state: _state.State) -> type[PrefectStateSignal]:
    """The signal class that ends a task in ``state``'s type.

    >>> signal_from_state(_state.Skipped())
    <class 'perfect_nb.engine.signals.SKIP'>
    """
    signals = _state_signals()
    if type(state) not in signals:
        known = ", ".join(sorted(cls.__name__ for cls in signals))
        raise ValueError(f"No signal ends a task in {type(state).__name__}; signals exist for {known}.")
    return signals[type(state)]


def _state_signals() -> dict:
    """{state class: signal class} over every subclass of PrefectStateSignal."""
    found, pending = {}, list(PrefectStateSignal.__subclasses__())
    while pending:
        cls = pending.pop()
        found.setdefault(cls._state_cls, cls)
        pending.extend(cls.__subclasses__())
    return found
