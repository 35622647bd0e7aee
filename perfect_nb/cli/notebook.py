"""Run a notebook without Jupyter: what ``perfect run NOTEBOOK.ipynb`` does.

The code cells run in order in a fresh IPython shell, in the notebook's folder
(as a kernel started by Jupyter would), so ``%load_ext perfect_nb`` and other
magics work. A ``%%perfect_flow NAME`` cell is handled here instead of by the
magic: its flow is built the same way (the cell body inside
``with Flow(NAME)``, then bound to ``NAME``) and run with the command's
progress printer instead of the live widget, through the same per-flow
result cache, so a notebook behaves as it does in JupyterLab. ``%perfect_rerun``
works too; other perfect_nb magics are the real ones.

A cell that raises stops the run: its traceback goes to stderr, and the exit
status is 1.
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
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import parse_argstring
from traitlets.config import Config

from perfect_nb.cli.session import CommandError, Session
from perfect_nb.core.flow import Flow
from perfect_nb.notebook.magics import PerfectMagics
from perfect_nb.utilities.options import make_executor, parse_params

__all__ = ["FlowCell", "read_code_cells", "run_notebook"]

MAGIC = "%%perfect_flow"


@dataclasses.dataclass
class FlowCell:
    """A parsed ``%%perfect_flow`` cell: its number in the notebook, the magic's arguments and its body."""

    number: int
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
    return FlowCell(number, args, lines[1] if len(lines) > 1 else "")


def run_notebook(path: Path, wanted: str | None, session: Session) -> None:
    """Run the notebook at ``path``: every ``%%perfect_flow`` cell, or only ``wanted`` (then stop)."""
    cells = read_code_cells(path)
    flow_cells = {n: fc for n, source in cells if (fc := parse_flow_cell(n, source, path)) is not None}
    names = list(dict.fromkeys(fc.name for fc in flow_cells.values()))
    if not names:
        raise CommandError(f"{path} has no {MAGIC} cell, so there is no flow to run.")
    if wanted is not None and wanted not in names:
        raise CommandError(f"{path} has no {MAGIC} cell named {wanted!r}; its flows: {', '.join(map(repr, names))}.")
    runner = _NotebookRunner(_make_shell(), session, wanted)
    with _in_folder(path.resolve().parent):
        for number, source in cells:
            cell = flow_cells.get(number)
            ok = runner.flow_cell(cell) if cell is not None else runner.code_cell(number, source)
            if not ok or (cell is not None and cell.name == wanted):
                break
    if wanted is None and not session.errors and session.unused_params():
        raise CommandError(f"no {MAGIC} cell of {path} has a parameter {', '.join(map(repr, session.unused_params()))}.")


class _NotebookRunner:
    """Runs cells in ``shell``; remembers each flow's last run for ``%perfect_rerun``."""

    def __init__(self, shell: InteractiveShell, session: Session, wanted: str | None) -> None:
        self.shell = shell
        self.session = session
        self.wanted = wanted
        self.last: dict[str, tuple[Flow, dict, Any, bool | None]] = {}
        self.magics = HeadlessMagics(shell, runner=self)
        shell.register_magics(self.magics)

    def code_cell(self, number: int, source: str) -> bool:
        result = self.shell.run_cell(source, silent=True)
        self.shell.register_magics(self.magics)  # again: %load_ext perfect_nb registers the widget magics
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            self.session.fail(f"cell {number} raised {type(error).__name__}: {_first_line(error)} (traceback above); stopped.")
            return False
        return True

    def flow_cell(self, cell: FlowCell) -> bool:
        try:
            flow = self._build(cell)
        except Exception as exc:
            self.shell.showtraceback()
            self.session.fail(f"cell {cell.number} ({MAGIC} {cell.name}) raised {type(exc).__name__}: {_first_line(exc)}; stopped.")
            return False
        self.shell.user_ns[cell.name] = flow
        if self.wanted not in (None, cell.name):
            return True
        try:
            params = self._params(cell, flow)
            executor = make_executor(cell.args.executor) if cell.args.executor and self.session.executor is None else None
        except ValueError as exc:
            self.session.fail(f"cell {cell.number} ({MAGIC} {cell.name}): {exc}")
            return False
        persist = True if cell.args.persist else None
        self.last[cell.name] = (flow, params, executor, persist)
        force = flow.tasks if cell.args.no_cache else ()
        self.session.run(flow, params, executor, cache=_plan(flow, params, persist, force))
        return True

    def rerun(self, line: str) -> None:
        """Headless ``%perfect_rerun NAME TASK [--only]``: run TASK (and its downstream) again, inputs from the cache."""
        try:
            args = parse_argstring(PerfectMagics.perfect_rerun, line)
        except SystemExit:
            raise UsageError(f"Bad arguments {line!r}; usage: %perfect_rerun NAME TASK [--only]") from None
        if self.wanted not in (None, args.name):
            return  # with --flow, only that flow runs
        if args.name not in self.last:
            raise UsageError(f"No {MAGIC} cell named {args.name!r} has run; flows run so far: {sorted(self.last)}.")
        flow, params, executor, persist = self.last[args.name]
        try:
            target = flow.get_task(args.task)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
        force = [target] if args.only else flow.sorted_tasks(root_tasks=[target])
        self.session.run(flow, params, executor, cache=_plan(flow, params, persist, force))

    def _build(self, cell: FlowCell) -> Flow:
        code = self.shell.transform_cell(cell.body)
        flow = Flow(cell.name)
        with flow:
            exec(compile(code, f"<perfect_flow {cell.name}>", "exec"), self.shell.user_ns)
        flow.validate()
        return flow

    def _params(self, cell: FlowCell, flow: Flow) -> dict:
        """The cell's --param values, overridden by the command line's."""
        own = parse_params(cell.args.param)
        known = {p.name for p in flow.parameters()}
        unknown = sorted(set(own) - known)
        if unknown:
            raise ValueError(f"flow {cell.name!r} has no parameter(s) {unknown}; its parameters are {sorted(known)}.")
        if self.wanted is not None:
            self.session.check_params(flow)
        return {**own, **self.session.params_for(flow)}


@magics_class
class HeadlessMagics(Magics):
    """The magics that differ without a widget: ``%perfect_rerun`` prints progress lines."""

    def __init__(self, shell: InteractiveShell, runner: _NotebookRunner) -> None:
        super().__init__(shell)
        self.runner = runner

    @line_magic
    def perfect_rerun(self, line: str) -> None:
        """Run one task again with its inputs from the cache (then its downstream tasks)."""
        self.runner.rerun(line)


def _plan(flow: Flow, params: dict, persist: bool | None, force: Any) -> Any:
    from perfect_nb.notebook.cache import get_cache

    return get_cache(flow.name, persist).plan(flow, params, force)


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
