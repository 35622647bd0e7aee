"""IPython magics: ``%%perfect_flow`` builds, shows and runs a flow from one cell.

::

    %load_ext perfect_nb

    %%perfect_flow etl --param n=3
    n = Parameter("n", default=2)
    numbers = extract(n)
    total = add_up(numbers)

The cell body runs in the notebook's namespace inside ``with Flow("etl")``;
``etl`` is then bound to the Flow, its live view is displayed and the flow runs.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from perfect_nb.core.flow import Flow
from perfect_nb.errors import CycleError, ParameterError
from perfect_nb.notebook.view import FlowView, views
from perfect_nb.utilities import options

__all__ = ["PerfectMagics", "check_params", "load_ipython_extension", "make_executor", "parse_params"]

#: The view each cell displayed, by the cell's id (JupyterLab and nbclient send one):
#: a cell run again updates its own view in place; another cell with the same flow
#: name gets a view of its own, so each output keeps showing (and running) its flow.
cell_views: dict[str, FlowView] = {}


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``["n=5", "name=abc"]`` -> ``{"n": 5, "name": "abc"}``; a bad pair is a ``UsageError``.

    >>> parse_params(["n=5", "tags=['a']", "who=world"])
    {'n': 5, 'tags': ['a'], 'who': 'world'}
    """
    try:
        return options.parse_params(pairs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_params(flow: Flow, params: dict[str, Any], where: str = "--param") -> dict[str, Any]:
    """``params`` checked against ``flow``'s Parameters as the form checks them (names,
    types, choices, bounds); the first mistake is a ``UsageError``, before anything runs."""
    from perfect_nb.notebook.forms import check_value

    by_name = {p.name: p for p in flow.parameters()}
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        raise UsageError(f"Flow {flow.name!r} has no parameter(s) {unknown}; its parameters are {sorted(by_name)}.")
    checked = {}
    for name, value in params.items():
        try:
            checked[name] = check_value(by_name[name], value)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{where} {name}={value!r}: {exc} Give a valid value (Python literals are parsed).") from None
    return checked


def make_executor(spec: str | None) -> Any:
    """An executor from ``--executor`` (see :func:`perfect_nb.utilities.options.make_executor`); a bad one is a ``UsageError``."""
    try:
        return options.make_executor(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _register(flow: Flow, project: str) -> None:
    """``--register PROJECT``: store the flow in the server; a server that is down or refuses is a UsageError."""
    from perfect_nb.client.register import register
    from perfect_nb.errors import ClientError, SerializationError

    try:
        register(flow, project)
    except (ClientError, SerializationError) as exc:
        raise UsageError(f"--register {project}: {exc}") from None


@magics_class
class PerfectMagics(Magics):
    """The perfect_nb magics."""

    @magic_arguments()
    @argument("name", help="Name of the flow; also the variable it is bound to.")
    @argument("--no-run", action="store_true", help="Build and show the flow without running it.")
    @argument("--executor", default=None, help="local (default), threads, processes, dask, or a Dask scheduler address.")
    @argument("--param", action="append", metavar="KEY=VALUE", help="A parameter value (repeatable); Python literals are parsed.")
    @argument("--horizontal", action="store_true", help="Lay the graph out left to right.")
    @argument("--no-cache", action="store_true", help="Run every task, ignoring cached results (and refresh them).")
    @argument("--persist", action="store_true", help="Also keep picklable results in .perfect_cache/ so they survive a kernel restart.")
    @argument("--register", metavar="PROJECT", default=None, help="Also register the flow in this project of the configured server.")
    @cell_magic
    def perfect_flow(self, line: str, cell: str) -> None:
        """Build a flow from the cell body, bind it to NAME, show its live view and run it.

        Its runs checkpoint: a task's ``target=`` or ``result=`` file is written, as in a
        backend run, whatever ``config.flows.checkpointing`` says (a plain ``flow.run()``
        writes them only when it is on, as in Prefect 1). ``--persist`` is the notebook
        cache's own store and does not depend on it."""
        args = self._parse(self.perfect_flow, line)
        name = args.name
        if not name.isidentifier():
            raise UsageError(f"The flow name {name!r} must be a valid Python identifier: it becomes a variable.")
        params = parse_params(args.param)
        executor = make_executor(args.executor) if args.executor else None
        flow = self._build(name, cell)
        params = check_params(flow, params)
        self.shell.user_ns[name] = flow
        if args.register:
            _register(flow, args.register)
        cell_id = self._cell_id
        view = cell_views.get(cell_id) if cell_id else views.get(name)
        if view is None:
            view = FlowView(flow, horizontal=args.horizontal, executor=executor)
        else:
            view.horizontal, view.executor = args.horizontal, executor
            view.set_flow(flow)
        views[name] = view
        if cell_id:
            cell_views[cell_id] = view
        view.persist = True if args.persist else None
        if view.form is not None and params:
            view.form.values = {**view.form.values, **params}
        missing = sorted(p.name for p in flow.parameters() if p.required and p.name not in params)
        if args.no_run or missing:
            if missing:  # shown with the form marking the fields to fix, and no "running…"
                if view.form is not None:
                    view.form.validate()
                view.summary.value = f"<div class='pnb-summary'><b>Not run</b>: no value for the required parameter(s) {', '.join(missing)}.</div>"
            display(view)
            _forget_replaced_outputs(view)
            if missing:
                raise UsageError(f"Flow {name!r} was not run: the required parameter(s) {missing} have no value. In this cell: --param KEY=VALUE, or fill the form and press Run.")
            return
        with _shown(view):
            try:
                view.run(force=flow.tasks if args.no_cache else (), **params)
            except ParameterError as exc:
                if view.form is not None:
                    view.form.validate()  # the form marks the fields to fix
                raise UsageError(f"{exc} In this cell: --param KEY=VALUE, or fix the form and press Run.") from None

    @magic_arguments()
    @argument("name", help="The flow (a %%perfect_flow NAME).")
    @argument("task", help="Slug or name of the task to run again.")
    @argument("--only", action="store_true", help="Run only this task, not its downstream tasks.")
    @line_magic
    def perfect_rerun(self, line: str) -> None:
        """Run one task again with its inputs from the cache (then its downstream tasks)."""
        args = self._parse(self.perfect_rerun, line)
        view = self._view(args.name)
        try:
            task = view.flow.get_task(args.task)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
        with _shown(view):
            view.rerun(task, downstream=not args.only)

    @magic_arguments()
    @argument("action", choices=["info", "clear"], help="info: list entries; clear: drop entries.")
    @argument("name", nargs="?", help="A flow name (default: every flow).")
    @argument("task", nargs="?", help="With clear: only this task's entries.")
    @line_magic
    def perfect_cache(self, line: str) -> Any:
        """``%perfect_cache info [NAME]`` or ``%perfect_cache clear [NAME] [TASK]``."""
        from perfect_nb.notebook.cache import caches

        args = self._parse(self.perfect_cache, line)
        if args.name is not None and args.name not in caches:
            raise UsageError(f"No cache for flow {args.name!r}; cached flows: {sorted(caches)}.")
        names = [args.name] if args.name else sorted(caches)
        if args.action == "info":
            return CacheReport({name: caches[name].store.info() for name in names})
        if args.task is not None:
            view = self._view(args.name)
            try:
                slug = view.flow.get_task(args.task).slug
            except KeyError as exc:
                raise UsageError(exc.args[0]) from None
            dropped = caches[args.name].clear([slug])
        else:
            dropped = sum(caches[name].clear() for name in names)
        print(f"Dropped {dropped} cached result(s).")
        return None

    def _view(self, name: str) -> FlowView:
        view = views.get(name)
        if view is None:
            raise UsageError(f"No %%perfect_flow cell named {name!r} has run in this kernel; known: {sorted(views)}.")
        return view

    def _parse(self, magic: Any, line: str) -> Any:
        """Parse the magic's arguments; any mistake is a one-line UsageError with the usage."""
        try:
            return parse_argstring(magic, line)
        except (UsageError, SystemExit) as exc:
            usage = " ".join(magic.parser.format_usage().split()).replace("usage: ", "").replace(":: ", "")
            reason = str(exc) if isinstance(exc, UsageError) else "bad arguments"
            raise UsageError(f"Bad arguments {line!r}: {reason}. Usage: {usage}") from None

    def _build(self, name: str, cell: str) -> Flow:
        """Run the cell body inside ``with Flow(name)``; raise (binding nothing) if it fails."""
        code = self.shell.transform_cell(cell)
        flow = Flow(name)
        with flow:
            exec(compile(code, f"<perfect_flow {name}>", "exec"), self.shell.user_ns)
        try:
            flow.validate()
        except CycleError as exc:  # the cell's mistake, not perfect_nb's: one line
            raise UsageError(str(exc)) from None
        return flow

    _cell_id: str | None = None

    def _pre_run_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None)

    def _post_run_cell(self, result: Any) -> None:
        self._cell_id = None


@contextlib.contextmanager
def _shown(view: FlowView) -> Iterator[None]:
    """Display ``view`` for a run, then refresh that output so its static copy (what
    GitHub and nbconvert show) has the final colours and summary."""
    handle = display(view, display_id=True)
    try:
        yield
    finally:
        if handle is not None:
            handle.update(view)
        _forget_replaced_outputs(view)


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _forget_replaced_outputs(view: FlowView) -> None:
    """Keep only the newest of the outputs IPython recorded for ``view``.

    IPython 9 keeps every bundle a cell displays (``history_manager.outputs``)
    until ``%reset``. A view shows one flow run at a time, and a re-run replaces
    its output on screen, so the older records (the view's static SVG copy,
    ~5 kB each, two per run) only made every re-run of a cell grow the kernel.
    """
    from IPython import get_ipython

    outputs = getattr(getattr(get_ipython(), "history_manager", None), "outputs", None)
    if not isinstance(outputs, dict):
        return
    model_id = view.model_id
    newest = None
    for entries in outputs.values():
        for entry in entries:
            if _shows(entry, model_id):
                newest = entry
    if newest is None:
        return
    for entries in outputs.values():
        entries[:] = [e for e in entries if e is newest or not _shows(e, model_id)]


def _shows(entry: Any, model_id: str) -> bool:
    bundle = getattr(entry, "bundle", None)
    return isinstance(bundle, dict) and bundle.get(_WIDGET_VIEW, {}).get("model_id") == model_id


class CacheReport(dict):
    """What ``%perfect_cache info`` returns: flow name -> stats, shown as a small table."""

    def __repr__(self) -> str:
        if not self:
            return "No cached flows."
        lines = [f"{'flow':<20} {'entries':>8} {'MB':>9} {'hits':>6} {'misses':>7} {'on disk':>8}"]
        for name, info in self.items():
            lines.append(f"{name:<20} {info['entries']:>8} {info['bytes'] / 1e6:>9.2f} {info['hits']:>6} {info['misses']:>7} {info['disk_entries']:>8}")
        return "\n".join(lines)


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics with IPython (``%load_ext perfect_nb``)."""
    magics = PerfectMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._pre_run_cell)  # which cell runs: see cell_views
    ipython.events.register("post_run_cell", magics._post_run_cell)
