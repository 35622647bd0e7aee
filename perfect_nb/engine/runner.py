"""Runner: the base of the flow and task runners, at Prefect 1's path.

A runner moves its target (a flow or a task) from state to state. Each move goes
through :meth:`Runner.handle_state_change`: first the target's own handlers
(:meth:`Runner.call_runner_target_handlers`: a task's or flow's ``state_handlers``
and ``on_failure``), then the runner's ``state_handlers``, each called as
``handler(runner, old_state, new_state)``. As in Prefect 1.4.1, a handler that
returns None keeps the state, one that raises ``SKIP``/``FAIL``/... chooses the
signal's state, and one that raises an error ends the run: ``ENDRUN(Failed)``.

:class:`~perfect_nb.engine.task_runner.TaskRunner` and
:class:`~perfect_nb.engine.flow_runner.FlowRunner` subclass it; their fast paths
keep their own transitions (with the engine's events), so this class costs them
nothing per task.

>>> from perfect_nb.engine.state import Pending, Running
>>> seen = []
>>> runner = Runner(state_handlers=[lambda r, old, new: seen.append(new.type)])
>>> runner.handle_state_change(Pending(), Running()), seen
(<Running>, ['Running'])
>>> runner.initialize_run(None, {"key": 1})
(<Pending>, {'key': 1})
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from perfect_nb.engine import signals
from perfect_nb.engine.state import Failed, Pending, State
from perfect_nb.utilities.reprs import short_repr

__all__ = ["Runner"]


def handler_list(state_handlers: Iterable[Callable] | None) -> list:
    """The runner's state handlers as a list; TypeError, as Prefect 1, when not iterable."""
    if state_handlers is None:
        return []
    if callable(state_handlers) or not isinstance(state_handlers, Iterable):
        raise TypeError("state_handlers should be iterable.")
    return list(state_handlers)


class Runner:
    """What runs a target through its states (Prefect 1's ``prefect.engine.runner.Runner``).

    Parameters
    ----------
    state_handlers : iterable of callables, optional
        ``handler(runner, old_state, new_state)``, called on every state change after
        the target's own handlers; the state it returns (None: unchanged) goes on.
    """

    def __init__(self, state_handlers: Iterable[Callable] | None = None) -> None:
        self.state_handlers = handler_list(state_handlers)

    def __repr__(self) -> str:
        return f'<"{type(self).__name__}">'

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"perfect_nb.{type(self).__name__}")

    def initialize_run(self, state: State | None, context: dict) -> Any:
        """The starting state (default Pending) and the run's context; the flow and task
        runners return a named tuple with their own fields."""
        return (state if state is not None else Pending(), context)

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """The target's own handlers (none here; a task's or a flow's in the subclasses)."""
        return new_state

    def handle_state_change(self, old_state: State, new_state: State) -> State:
        """Move from ``old_state`` to ``new_state`` through the target's handlers, then the
        runner's; a handler's signal chooses its state (PAUSE and ENDRUN go up), an
        error raises ``ENDRUN(Failed("Unexpected error while calling state handlers: ..."))``."""
        try:
            new_state = self.call_runner_target_handlers(old_state, new_state)
            for handler in self.state_handlers:
                new_state = handler(self, old_state, new_state) or new_state
        except (signals.ENDRUN, signals.PAUSE):
            raise
        except signals.PrefectStateSignal as sig:
            return sig.state
        except Exception as exc:
            message = f"Unexpected error while calling state handlers: {short_repr(exc)}"
            self.logger.exception(message)
            raise signals.ENDRUN(Failed(message, result=exc)) from None
        return new_state
