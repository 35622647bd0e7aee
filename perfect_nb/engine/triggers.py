"""Triggers: decide from its upstream states whether a task may run.

A trigger takes ``upstream_states`` (a dict Edge -> State) and returns True to
run, or raises a signal: ``TRIGGERFAIL`` (the task ends TriggerFailed), ``SKIP``
or ``PAUSE``. The states of a mapped upstream count child by child.

>>> from perfect_nb.core.edge import Edge
>>> from perfect_nb.core.task import Task
>>> from perfect_nb.engine.state import Success, Failed
>>> up = {Edge(Task(), Task()): Success(), Edge(Task(), Task()): Failed()}
>>> any_failed(up), any_successful(up)
(True, True)
"""

from __future__ import annotations

from typing import Callable

from perfect_nb.core import context as _context
from perfect_nb.engine import signals
from perfect_nb.engine.state import Failed, Finished, Mapped, Skipped, State, Success

__all__ = [
    "all_failed", "all_finished", "all_successful", "always_run", "any_failed",
    "any_successful", "manual_only", "not_all_skipped", "some_failed", "some_successful",
]


def _states(upstream_states: dict) -> list[State]:
    """The upstream states, each counted once, a mapped parent's children in its place.

    Several edges from one upstream task share one state object: it counts once.
    """
    seen: dict[int, State] = {}
    for state in upstream_states.values():
        for s in state.map_states if type(state) is Mapped else (state,):
            seen.setdefault(id(s), s)
    return list(seen.values())


def all_successful(upstream_states: dict) -> bool:
    """Run when every upstream task succeeded (skips count as success). The default."""
    for state in upstream_states.values():  # the hot path: no list of states is built
        if type(state) is Mapped:
            if all(isinstance(s, Success) for s in state.map_states):
                continue
        elif isinstance(state, Success):
            continue
        raise signals.TRIGGERFAIL('Trigger was "all_successful" but some of the upstream tasks failed.')
    return True


def all_finished(upstream_states: dict) -> bool:
    """Run when every upstream task finished, however it ended."""
    if not all(isinstance(s, Finished) for s in _states(upstream_states)):
        raise signals.TRIGGERFAIL('Trigger was "all_finished" but some of the upstream tasks were not finished.')
    return True


always_run = all_finished


def manual_only(upstream_states: dict) -> bool:
    """Never run on its own: pause the task until it is given a ``Resume`` state
    (or ``resume=True`` is in the context)."""
    if _context.current().get("resume"):
        return True
    raise signals.PAUSE('Trigger function is "manual_only"')


def all_failed(upstream_states: dict) -> bool:
    """Run only when every upstream task failed."""
    if not all(isinstance(s, Failed) for s in _states(upstream_states)):
        raise signals.TRIGGERFAIL('Trigger was "all_failed" but some of the upstream tasks succeeded.')
    return True


def any_successful(upstream_states: dict) -> bool:
    """Run when at least one upstream task succeeded (or there are none)."""
    if upstream_states and not any(isinstance(s, Success) for s in _states(upstream_states)):
        raise signals.TRIGGERFAIL('Trigger was "any_successful" but none of the upstream tasks succeeded.')
    return True


def any_failed(upstream_states: dict) -> bool:
    """Run when at least one upstream task failed (or there are none)."""
    if upstream_states and not any(isinstance(s, Failed) for s in _states(upstream_states)):
        raise signals.TRIGGERFAIL('Trigger was "any_failed" but none of the upstream tasks failed.')
    return True


def not_all_skipped(upstream_states: dict) -> bool:
    """Run when every upstream succeeded and not all of them skipped; skip if all
    skipped (as in Prefect 1, that includes having no upstream tasks)."""
    states = _states(upstream_states)
    if all(isinstance(s, Skipped) for s in states):
        raise signals.SKIP("All upstreams were skipped", result=None)  # message and result as in Prefect 1.4.1
    if not all(isinstance(s, Success) for s in states):
        raise signals.TRIGGERFAIL('Trigger was "not_all_skipped" but some of the upstream tasks failed.')
    return True


def _counting(kind: str, check: type, at_least: float | None, at_most: float | None) -> Callable[[dict], bool]:
    def limit(value: float | None, total: int) -> float | None:
        if value is None:
            return None
        return value * total if 0 < value < 1 else value

    def trigger(upstream_states: dict) -> bool:
        if not upstream_states:
            return True
        states = _states(upstream_states)
        count = sum(isinstance(s, check) for s in states)
        low, high = limit(at_least, len(states)), limit(at_most, len(states))
        if (low is not None and count < low) or (high is not None and count > high):
            raise signals.TRIGGERFAIL(
                f'Trigger was "{kind}" (at_least={at_least}, at_most={at_most}) but {count} of {len(states)} upstream tasks matched.'
            )
        return True

    trigger.__name__ = kind
    return trigger


def some_successful(at_least: float | None = None, at_most: float | None = None) -> Callable[[dict], bool]:
    """A trigger: run when the number (or, below 1, the fraction) of successful upstream tasks is within bounds.

    >>> from perfect_nb.core.edge import Edge
    >>> from perfect_nb.core.task import Task
    >>> from perfect_nb.engine.state import Success, Failed
    >>> up = {Edge(Task(), Task()): Success(), Edge(Task(), Task()): Failed()}
    >>> some_successful(at_least=0.5)(up)
    True
    """
    return _counting("some_successful", Success, at_least, at_most)


def some_failed(at_least: float | None = None, at_most: float | None = None) -> Callable[[dict], bool]:
    """A trigger: run when the number (or, below 1, the fraction) of failed upstream tasks is within bounds."""
    return _counting("some_failed", Failed, at_least, at_most)
