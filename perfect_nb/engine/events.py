"""Engine events: one record per state change, for whoever listens.

The flow runner calls every listener with a :class:`StateChange` in the
thread that called ``flow.run`` (the notebook kernel), whichever executor ran
the task. The live DAG, the CLI progress lines and, later, the orchestration
backend are all listeners; the engine knows none of them.

>>> events = []
>>> from perfect_nb import Flow, task
>>> with Flow("one") as flow:
...     t = task(lambda: 1, name="one")()
>>> _ = flow.run(listeners=[events.append])
>>> [(e.task.name if e.task else "flow", e.new_state.type) for e in events]
[('flow', 'Running'), ('one', 'Running'), ('one', 'Success'), ('flow', 'Success')]
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from perfect_nb.engine.signals import PrefectSignal
from perfect_nb.engine.state import State

__all__ = ["Listener", "StateChange", "dispatch"]

logger = logging.getLogger("perfect_nb.events")


class StateChange:
    """A state change of the flow (``task is None``) or of one task run."""

    __slots__ = ("flow_run_id", "task", "task_run_id", "map_index", "old_state", "new_state", "timestamp")

    def __init__(self, flow_run_id: str, task: Any, task_run_id: str | None, map_index: int | None, old_state: State, new_state: State, timestamp: float) -> None:
        self.flow_run_id = flow_run_id
        self.task = task
        self.task_run_id = task_run_id
        self.map_index = map_index
        self.old_state = old_state
        self.new_state = new_state
        self.timestamp = timestamp

    @property
    def task_slug(self) -> str | None:
        return self.task.slug if self.task is not None else None

    def __repr__(self) -> str:
        who = "flow" if self.task is None else self.task.slug
        if self.map_index is not None:
            who += f"[{self.map_index}]"
        return f"<StateChange {who}: {self.old_state.type} -> {self.new_state.type}>"


class Listener(Protocol):
    def __call__(self, event: StateChange) -> Any: ...


def dispatch(listeners: list[Callable[[StateChange], Any]], event: StateChange) -> None:
    """Call each listener; one that raises is logged and never stops the run."""
    for listener in listeners:
        try:
            listener(event)
        except (Exception, PrefectSignal):
            logger.exception("Listener %r failed on %r; the run goes on.", listener, event)
