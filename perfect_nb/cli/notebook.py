"""Run a notebook without Jupyter: what ``perfect run NOTEBOOK.ipynb`` does.

The code cells run in order in a fresh IPython shell, in the notebook's folder
(as in a kernel Jupyter starts there), so ``%load_ext perfect_nb`` and other
magics work. A ``%%perfect_flow NAME`` cell is run here rather than by the
magic, but the same way: the cell body runs inside ``with Flow(NAME)``, the
flow is bound to ``NAME``, and its view, a :class:`HeadlessView` nobody sees,
goes into ``views[NAME]`` and runs it through the flow's result cache. So the
cells after it find what they find in JupyterLab (``NAME.last_run``,
``views[NAME].states``, ``%perfect_rerun``, the form), while every run
prints the command's progress lines instead of colouring a graph.

A cell that raises stops the run: its traceback goes to stderr and the exit
status is 1. With ``--flow NAME``, another ``%%perfect_flow`` cell whose magic
line or body is broken is skipped, and reported only if it was needed: if the
NAME cell, or a cell before it, then fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic_arguments import parse_argstring
from IPython.utils.text import DollarFormatter
from traitlets.config import Config

from perfect_nb.cli.session import CommandError, Session
from perfect_nb.core.flow import Flow
from perfect_nb.engine.state import Pending, State
from perfect_nb.notebook.magics import PerfectMagics, check_params
from perfect_nb.notebook.view import FlowView, views
from perfect_nb.utilities.options import make_executor, parse_params

__all__ = ["FlowCell", "HeadlessView", "parse_flow_cell", "read_code_cells", "run_notebook"]

MAGIC = "%%perfect_flow"


@dataclasses.dataclass
class FlowCell:
    """A parsed ``%%perfect_flow`` cell: its number in the notebook, the magic's arguments and its body."""

    number: int
    line: str
    args: Any
    body: str

    @property
    def name(self) -> str:
        return self.args.name


def read_code_cells(path: Path) -> list[tuple[int, str]]:
    """``(cell number, source)`` of each code cell; numbers count every cell from 1, as JupyterLab shows them.

    A notebook in format 4 (what Jupyter has written since 2015) is read as
    the JSON it is, because importing nbformat costs seconds; older formats
    go through ``nbformat.read(as_version=4)``.
    """
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"{path} is not a readable notebook: {type(exc).__name__}: {_first_line(exc)}") from None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        notebook = _read_with_nbformat(path)
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) and "cell_type" in c for c in cells):
        raise CommandError(f"{path} is not a readable notebook: its 'cells' are not a list of cells.")
    return [(number, _text(cell.get("source", ""))) for number, cell in enumerate(cells, 1) if cell["cell_type"] == "code"]


def _read_with_nbformat(path: Path) -> dict:
    try:
        import nbformat
    except ImportError:
        raise CommandError(f"{path} is not in notebook format 4; reading it needs nbformat (pip install nbformat).") from None
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:
        raise CommandError(f"{path} is not a readable notebook: {type(exc).__name__}: {_first_line(exc)}") from None


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def parse_flow_cell(number: int, source: str, path: Path) -> FlowCell | None:
    """The FlowCell of a ``%%perfect_flow`` cell (None for any other cell); a bad magic line is a CommandError."""
    lines = source.lstrip("\n").split("\n", 1)
    first = lines[0].strip()
    if first != MAGIC and not first.startswith(MAGIC + " "):
        return None
    line = first[len(MAGIC):].strip()
    try:
        args = parse_argstring(PerfectMagics.perfect_flow, line)
    except (UsageError, SystemExit) as exc:
        raise CommandError(f"{path}, cell {number}: bad {MAGIC} line {line!r}: {exc or 'see %%perfect_flow?'}") from None
    if not args.name.isidentifier():
        raise CommandError(f"{path}, cell {number}: the flow name {args.name!r} must be a valid Python identifier.")
    return FlowCell(number, line, args, lines[1] if len(lines) > 1 else "")


def run_notebook(path: Path, wanted: str | None, session: Session) -> None:
    """Run the notebook at ``path``: every ``%%perfect_flow`` cell, or only ``wanted`` (then stop)."""
    cells = read_code_cells(path)
    flow_cells: dict[int, FlowCell] = {}
    bad_lines: dict[int, str] = {}  # cell number -> why its magic line does not parse
    for number, source in cells:
        try:
            cell = parse_flow_cell(number, source, path)
        except CommandError as exc:
            if wanted is None:
                raise
            bad_lines[number] = str(exc)
            continue
        if cell is not None:
            flow_cells[number] = cell
    names = list(dict.fromkeys(fc.name for fc in flow_cells.values()))
    if not names and not bad_lines:
        raise CommandError(f"{path} has no {MAGIC} cell, so there is no flow to run.")
    if wanted is not None and wanted not in names:
        broken = f" ({'; '.join(bad_lines.values())})" if bad_lines else ""
        raise CommandError(f"{path} has no {MAGIC} cell named {wanted!r}{broken}; its flows: {', '.join(map(repr, names))}.")
    runner = _NotebookRunner(_make_shell(), session, wanted)
    with _in_folder(path.resolve().parent):
        for number, source in cells:
            if number in bad_lines:  # not the --flow one (it parsed): skipped, reported if needed
                runner.broken.append(bad_lines[number])
                continue
            cell = flow_cells.get(number)
            ok = runner.flow_cell(cell) if cell is not None else runner.code_cell(number, source)
            if not ok or (cell is not None and cell.name == wanted):
                break
    if wanted is None and not session.errors and session.unused_params():
        raise CommandError(f"no {MAGIC} cell of {path} has a parameter {', '.join(map(repr, session.unused_params()))}.")


def notebook_flows(path: Path) -> list[Flow]:
    """Build every ``%%perfect_flow`` cell's flow, running the other cells but no flow (for ``perfect register``)."""
    cells = read_code_cells(path)
    flow_cells = {n: fc for n, source in cells if (fc := parse_flow_cell(n, source, path)) is not None}
    if not flow_cells:
        raise CommandError(f"{path} has no {MAGIC} cell, so there is no flow to register.")
    session = Session({}, quiet=True)
    runner = _NotebookRunner(_make_shell(), session, wanted="")  # no cell is named "": none runs
    built: dict[str, Flow] = {}
    with _in_folder(path.resolve().parent):
        for number, source in cells:
            cell = flow_cells.get(number)
            if not (runner.flow_cell(cell) if cell is not None else runner.code_cell(number, source)):
                raise CommandError(f"{path}: {session.errors[-1]}")
            if cell is not None:
                built[cell.name] = runner.shell.user_ns[cell.name]
    return list(built.values())


class _NotebookRunner:
    """Runs the cells in ``shell``; a ``%%perfect_flow`` cell here, the others through the shell."""

    def __init__(self, shell: InteractiveShell, session: Session, wanted: str | None) -> None:
        self.shell = shell
        self.session = session
        self.wanted = wanted
        self.broken: list[str] = []  # other flows' cells skipped with --flow, and why

    def _skipped(self) -> str:
        """What was skipped, said when a later cell fails (it may have needed it)."""
        if not self.broken:
            return ""
        return f" Skipped before it, as --flow {self.wanted} did not need them: {'; '.join(self.broken)}."

    def code_cell(self, number: int, source: str) -> bool:
        result = self.shell.run_cell(source, silent=True)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            self.session.fail(f"cell {number} raised {type(error).__name__}: {_first_line(error)} (traceback above); stopped.{self._skipped()}")
            return False
        return True

    def flow_cell(self, cell: FlowCell) -> bool:
        """What the magic does, with a view nobody sees: build, bind, set the form, run."""
        try:
            cell.args = self._expand(cell)
            flow = self._build(cell)
            params = self._params(cell, flow)
            executor = self.session.executor or (make_executor(cell.args.executor) if cell.args.executor else None)
        except CommandError:
            raise
        except Exception as exc:
            why = f"cell {cell.number} ({MAGIC} {cell.name}) raised {type(exc).__name__}: {_first_line(exc)}"
            if self.wanted is not None and cell.name != self.wanted:
                self.broken.append(why)  # not the flow asked for: go on, say so only if needed
                return True
            self.shell.showtraceback()
            self.session.fail(f"{why}; stopped.{self._skipped()}")
            return False
        self.shell.user_ns[cell.name] = flow
        view = views.get(cell.name)
        if isinstance(view, HeadlessView):
            view.horizontal, view.executor = cell.args.horizontal, executor
            view.set_flow(flow)
        else:
            view = views[cell.name] = HeadlessView(flow, self.session, horizontal=cell.args.horizontal, executor=executor)
        view.runs = self.wanted in (None, cell.name)
        view.persist = True if cell.args.persist else None
        if view.form is not None and params:
            view.form.values = {**view.form.values, **params}
        if view.runs:
            self.session.used.update(k for k in params if k in self.session.params)
            view.run(force=flow.tasks if cell.args.no_cache else (), **params)
        return True

    def _expand(self, cell: FlowCell) -> Any:
        """The magic's arguments with ``{expr}`` and ``$name`` expanded from the notebook's variables, as IPython does."""
        try:
            line = DollarFormatter().vformat(cell.line, args=[], kwargs=dict(self.shell.user_ns))
        except Exception:  # as IPython: a line that does not format stays as it is
            line = cell.line
        return cell.args if line == cell.line else parse_argstring(PerfectMagics.perfect_flow, line)

    def _build(self, cell: FlowCell) -> Flow:
        code = self.shell.transform_cell(cell.body)
        flow = Flow(cell.name)
        with flow:
            exec(compile(code, f"<perfect_flow {cell.name}>", "exec"), self.shell.user_ns)
        flow.validate()
        return flow

    def _params(self, cell: FlowCell, flow: Flow) -> dict:
        """The cell's --param values, overridden by the command line's; each checked against
        its Parameter (type, choices, bounds) as the magic and the form check them."""
        own = parse_params(cell.args.param)
        known = {p.name for p in flow.parameters()}
        unknown = sorted(set(own) - known)
        if unknown:
            raise ValueError(f"flow {cell.name!r} has no parameter(s) {unknown}; its parameters are {sorted(known)}.")
        if self.wanted == cell.name:
            self.session.check_params(flow)
        given = self.session.params_for(flow)
        try:
            check_params(flow, given, where="--param")
        except UsageError as exc:
            raise CommandError(f"flow {cell.name!r}: {exc}") from None
        try:
            check_params(flow, own, where=f"cell {cell.number}: --param")
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return {**own, **given}


class HeadlessView(FlowView):
    """The FlowView of a ``%%perfect_flow`` cell when nobody sees it.

    It keeps its states, summary, results and form up to date as on screen, so
    cells that read ``views[NAME]`` work; and every run, whoever starts it
    (the cell, ``%perfect_rerun``, ``form.run()``), prints progress lines and
    a summary through the command's Session. With ``perfect run --flow``, the
    views of the other flows do not run (``runs`` is False).
    """

    def __init__(self, flow: Flow, session: Session, **kwargs: Any) -> None:
        self.session = session
        self.runs = True
        self._listeners: list = []
        super().__init__(flow, **kwargs)

    def run(self, executor: Any = None, force: Any = (), **parameters: Any) -> State:
        if not self.runs:
            print(f"perfect run: flow {self.flow.name!r} is not run (only the --flow one is).", file=sys.stderr, flush=True)
            return Pending(f"Not run: perfect run chose another flow than {self.flow.name!r}.")

        def start(listeners: list) -> State:
            self._listeners = listeners
            try:
                return FlowView.run(self, executor, force, **parameters)
            finally:
                self._listeners = []

        return self.session.track(self.flow, start)

    def _on_event(self, event: Any) -> None:
        super()._on_event(event)
        for listener in self._listeners:
            listener(event)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return {"text/plain": repr(self)}


class _HeadlessShell(InteractiveShell):
    """An IPython shell that writes tracebacks to stderr, leaving stdout to cell output and progress lines."""

    def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
        print(self.InteractiveTB.stb2text(stb), file=sys.stderr, flush=True)


def _make_shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    if InteractiveShell.initialized():  # called inside IPython: a second, private shell
        return _HeadlessShell(config=config)
    return _HeadlessShell.instance(config=config)


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    """Work in ``folder`` with it first on sys.path, as a kernel Jupyter starts for a notebook there."""
    before = os.getcwd()
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        os.chdir(before)


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
