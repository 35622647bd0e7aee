"""Progress lines: one per state change of a task run, and a summary line per flow run.

::

    12:00:01 flow etl            Running
    12:00:01 extract             Running
    12:00:01 extract             Success
    12:00:02 transform[3]        Failed  Error during execution of task: ValueError('bad')
    12:00:02 flow etl            Failed  5 task runs: 4 Success, 1 Failed in 0.41s. Some reference tasks failed.
"""

from __future__ import annotations

import collections
import sys
import time
from typing import TextIO

from perfect_nb.core.flow import Flow
from perfect_nb.engine.events import StateChange
from perfect_nb.engine.state import State

__all__ = ["Progress", "format_counts", "summary_line"]


class Progress:
    """A flow-run listener printing ``HH:MM:SS label state [message]`` per state change.

    The label is the task's slug, with ``[i]`` for the i-th child of a mapped
    task. The message is shown for states that need an explanation (failed,
    skipped, retrying, paused, looped, cancelled). The flow's start prints a
    line; its final state is left to :func:`summary_line`.
    """

    def __init__(self, flow: Flow, out: TextIO | None = None) -> None:
        self.flow = flow
        self.out = out or sys.stdout
        mapped = {e.downstream_task for e in flow.edges if e.mapped}
        labels = [len(t.slug) + (4 if t in mapped else 0) for t in flow.tasks]
        self.width = min(40, max([12, len(_flow_label(flow)), *labels]))

    def __call__(self, event: StateChange) -> None:
        state = event.new_state
        if event.task is None:
            if state.is_running():
                self._print(_line(event.timestamp, _flow_label(self.flow), self.width, state.type))
            return
        label = event.task.slug if event.map_index is None else f"{event.task.slug}[{event.map_index}]"
        message = state.message if _explains(state) else None
        self._print(_line(event.timestamp, label, self.width, state.type, message))

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def summary_line(flow: Flow, state: State, seconds: float, width: int = 12) -> str:
    """The last line of a flow run: its state, its task runs by final state, the time and the flow's message.

    A mapped task counts as its children.

    >>> from perfect_nb import Flow, task
    >>> with Flow("tiny") as flow:
    ...     _ = task(lambda: 1, name="one")()
    >>> summary_line(flow, flow.run(), 0.5)[9:]
    'flow tiny    Success 1 task run: 1 Success in 0.50s. All reference tasks succeeded.'
    """
    runs = collections.Counter(s.type for s in _task_run_states(state))
    total = sum(runs.values())
    text = f"{total} task run{'' if total == 1 else 's'}" + (f": {format_counts(runs)}" if total else "") + f" in {seconds:.2f}s."
    if state.message:
        text += f" {_first_line(state.message)}"
    return _line(time.time(), _flow_label(flow), width, state.type, text)


def format_counts(counts: collections.Counter) -> str:
    """``Counter(Success=4, Failed=1)`` -> ``'4 Success, 1 Failed'`` (most frequent first).

    >>> format_counts(collections.Counter(["Failed", "Success", "Success"]))
    '2 Success, 1 Failed'
    """
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _task_run_states(state: State) -> list[State]:
    out: list[State] = []
    for task_state in state.result.values() if isinstance(state.result, dict) else ():
        out.extend(task_state.map_states if task_state.is_mapped() else [task_state])
    return out


def _explains(state: State) -> bool:
    return bool(state.message) and (
        state.is_failed() or state.is_skipped() or state.is_retrying() or state.is_paused() or state.is_looped() or state.is_cancelled()
    )


def _line(timestamp: float, label: str, width: int, state_type: str, message: str | None = None) -> str:
    text = f"{time.strftime('%H:%M:%S', time.localtime(timestamp))} {label:<{width}} {state_type:<7}"
    return f"{text} {_first_line(message)}" if message else text.rstrip()


def _first_line(message: object) -> str:
    text = str(message).strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 300 else line[:297] + "..."


def _flow_label(flow: Flow) -> str:
    return f"flow {flow.name}"
