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
from typing import Any, TextIO

from perfect_nb.core.flow import Flow
from perfect_nb.engine.events import StateChange
from perfect_nb.engine.state import Mapped, State

__all__ = ["Progress", "format_counts", "summary_line"]


#: A mapped task with more children than this prints a count line per second instead of a line per child.
MAP_DETAIL = 20
#: At most this many children of one such task print their own line (failed, retrying...).
MAP_EXPLAINED = 10


class Progress:
    """A flow-run listener printing ``HH:MM:SS label state [message]`` per state change.

    The label is the task's slug, with ``[i]`` for the i-th child of a mapped
    task. The message is shown for states that need an explanation (failed,
    skipped, retrying, paused, looped, cancelled). The flow's start prints a
    line; its final state is left to :func:`summary_line`.

    The children of a large map (more than ``MAP_DETAIL``) are counted
    instead: a ``slug[*]`` line at most once a second and one when the last
    child finishes, plus the first ``MAP_EXPLAINED`` children that need an
    explanation.
    """

    def __init__(self, flow: Flow, out: TextIO | None = None) -> None:
        self.flow = flow
        self.out = out or sys.stdout
        mapped = {e.downstream_task for e in flow.edges if e.mapped}
        labels = [len(t.slug) + (4 if t in mapped else 0) for t in flow.tasks]
        self.width = min(40, max([12, len(_flow_label(flow)), *labels]))
        self.maps: dict[Any, _MapCount] = {}

    def __call__(self, event: StateChange) -> None:
        state = event.new_state
        if event.task is None:
            if state.is_running():
                self._print(_line(event.timestamp, _flow_label(self.flow), self.width, state.type))
            return
        if event.map_index is None:
            message = state.message if _explains(state) else None
            if type(state) is Mapped:
                children = len(state.map_states or ())
                message = f"{children} child{'' if children == 1 else 'ren'}"
                if children > MAP_DETAIL:
                    self.maps[event.task] = _MapCount(children)
            self._print(_line(event.timestamp, event.task.slug, self.width, state.type, message))
            return
        count = self.maps.get(event.task)
        if count is None or count.shows(event.map_index, state):
            label = f"{event.task.slug}[{event.map_index}]"
            self._print(_line(event.timestamp, label, self.width, state.type, state.message if _explains(state) else None))
        if count is not None:
            self._count(event, count)

    def _count(self, event: StateChange, count: "_MapCount") -> None:
        if count.just_filled:
            count.just_filled = False
            note = f"{MAP_EXPLAINED} children shown; the others that fail or wait are only counted"
            self._print(_line(event.timestamp, f"{event.task.slug}[*]", self.width, "Note", note))
        state = event.new_state
        if state.is_finished():
            count.finished[event.map_index] = state
        else:
            count.finished.pop(event.map_index, None)
        now = time.monotonic()
        done = len(count.finished) == count.total
        if not done and now - count.printed < 1.0:
            return
        kinds = collections.Counter(s.type for s in count.finished.values())
        if done and kinds == count.last_done:
            return
        count.printed = now
        if done:
            count.last_done = kinds
            summary = "Success" if all(s.is_successful() for s in count.finished.values()) else "Failed"
        else:
            summary = "Running"
        text = f"{len(count.finished)}/{count.total} finished" + (f": {format_counts(kinds)}" if kinds else "")
        self._print(_line(event.timestamp, f"{event.task.slug}[*]", self.width, summary, text))

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


class _MapCount:
    """The children of one large map: which finished, which were shown."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.finished: dict[int, State] = {}
        self.shown: set[int] = set()
        self.just_filled = False
        self.printed = time.monotonic()
        self.last_done: collections.Counter | None = None

    def shows(self, index: int, state: State) -> bool:
        """Whether this child's state change gets its own line: it needs explaining, and
        it is one of the first MAP_EXPLAINED children that did."""
        if index in self.shown:
            return True
        if not _explains(state) or len(self.shown) >= MAP_EXPLAINED:
            return False
        self.shown.add(index)
        self.just_filled = len(self.shown) == MAP_EXPLAINED
        return True


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
