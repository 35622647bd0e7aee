"""The flow runs of one ``perfect`` command: shared options, progress output and the exit status."""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
import time
from typing import Any, Callable, Iterator, TextIO

from perfect_nb.cli.progress import Progress, format_counts, summary_line
from perfect_nb.core.flow import Flow
from perfect_nb.core.parameter_spec import check_parameters, describe_parameters
from perfect_nb.engine.state import State
from perfect_nb.errors import FlowValidationError, ParameterError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CommandError", "Session"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A usage mistake: its message goes to stderr in one line, and the exit status is 2."""


class Session:
    """Runs flows with the command's ``--param`` values, ``--executor`` and ``--quiet``.

    >>> import io
    >>> from perfect_nb import Flow, Parameter, task
    >>> with Flow("double") as flow:
    ...     _ = task(lambda n: 2 * n, name="twice")(Parameter("n", default=1))
    >>> session = Session({"n": 21}, quiet=True, out=io.StringIO())
    >>> session.run(flow, session.params_for(flow)).is_successful(), session.finish()
    (True, 0)
    >>> session.check_params(Flow("other"))
    Traceback (most recent call last):
    ...
    perfect_nb.cli.session.CommandError: flow 'other' has no parameter 'n'; its parameters: none.
    """

    def __init__(self, params: dict, executor: Any = None, quiet: bool = False, out: TextIO | None = None) -> None:
        self.params = params
        self.executor = executor
        self.quiet = quiet
        self.out = out or sys.stdout
        self.used: set[str] = set()
        self.states: list[tuple[str, State]] = []
        self.errors: list[str] = []

    def check_params(self, flow: Flow) -> None:
        """Raise CommandError when a ``--param`` names no parameter of ``flow``."""
        names = {p.name for p in flow.parameters()}
        unknown = sorted(set(self.params) - names)
        if unknown:
            raise CommandError(f"flow {flow.name!r} has no parameter {_quoted(unknown)}; its parameters: {_quoted(sorted(names)) or 'none'}.")

    def check_values(self, flow: Flow) -> None:
        """Raise CommandError when a ``--param`` value is one its Parameter cannot take
        (type, choices, bounds), before anything runs. (Notebooks check them with the
        form's rules instead, as the cell's form would.)"""
        try:
            check_parameters(describe_parameters(flow), self.params_for(flow))
        except ParameterError as exc:
            raise CommandError(f"--param for flow {flow.name!r}: {exc} Give a valid value (Python literals are parsed).") from None

    def params_for(self, flow: Flow) -> dict:
        """The ``--param`` values that ``flow`` declares."""
        names = {p.name for p in flow.parameters()}
        return {k: v for k, v in self.params.items() if k in names}

    def unused_params(self) -> list[str]:
        """``--param`` keys that no flow run so far has used."""
        return sorted(set(self.params) - self.used)

    def run(self, flow: Flow, params: dict, executor: Any = None, cache: Any = None) -> State:
        """Run ``flow`` once (``--executor`` wins over ``executor``), printing progress and a summary line."""
        self.used.update(k for k in params if k in self.params)
        return self.track(flow, lambda listeners: flow.run(
            parameters=params, executor=self.executor or executor, run_on_schedule=False, listeners=listeners, cache=cache,
        ))

    def track(self, flow: Flow, start: Callable[[list], State]) -> State:
        """Run ``flow`` by calling ``start(listeners)``, which must pass ``listeners`` to the run;
        print the progress lines (unless quiet) and the summary line, and count the run."""
        started = time.perf_counter()
        with whole_lines(self.out) as out:
            progress = Progress(flow, out)
            try:
                state = start([] if self.quiet else [progress])
            except (ParameterError, FlowValidationError) as exc:
                raise CommandError(str(exc)) from None
        print(summary_line(flow, state, time.perf_counter() - started, progress.width), file=self.out, flush=True)
        self.states.append((flow.name, state))
        return state

    def fail(self, message: str) -> None:
        """Record an error that stops the run (a notebook cell raised) and print it on stderr."""
        self.errors.append(message)
        print(f"perfect run: {message}", file=sys.stderr, flush=True)

    def finish(self) -> int:
        """Print an overall line when several flows ran; return the exit status."""
        if len(self.states) > 1:
            counts = collections.Counter(state.type for _, state in self.states)
            print(f"{len(self.states)} flow runs: {format_counts(counts)}", file=self.out, flush=True)
        if self.errors or any(not state.is_successful() for _, state in self.states):
            return EXIT_FAILED
        return EXIT_OK


class WholeLines:
    """A text stream that writes whole lines only, one thread at a time.

    While a flow runs, task bodies on other threads may print at the moment
    a progress line is printed; ``print`` writes its pieces separately, so
    without this the two could mix within one line. Each thread's unfinished
    line waits here for its newline (or for :meth:`close`).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        me = threading.get_ident()
        with self.lock:
            head, newline, tail = (self.partial.pop(me, "") + text).rpartition("\n")
            if newline:
                self.stream.write(head + newline)
            if tail:
                self.partial[me] = tail
        return len(text)

    def flush(self) -> None:
        with self.lock:
            self.stream.flush()

    def close(self) -> None:
        """Write what is left of every thread's line (the stream itself stays open)."""
        with self.lock:
            for text in self.partial.values():
                self.stream.write(text)
            self.partial.clear()
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def whole_lines(out: TextIO) -> Iterator[WholeLines]:
    """``out`` as a :class:`WholeLines` stream, standing in for ``sys.stdout`` too when that is ``out``."""
    guarded = WholeLines(out)
    swap = sys.stdout is out
    if swap:
        sys.stdout = guarded  # type: ignore[assignment]
    try:
        yield guarded
    finally:
        if swap and sys.stdout is guarded:
            sys.stdout = out
        guarded.close()


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)
