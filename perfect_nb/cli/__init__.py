"""The ``perfect`` command: run flows headlessly from a Python file or a notebook.

::

    perfect run flows/etl.py --param n=5 --executor threads
    perfect run notebooks/01-quickstart.ipynb --flow etl
    python -m perfect_nb run flows/etl.py --quiet

Every state change of a task run prints one line, and every flow run ends
with a summary line::

    12:00:01 flow etl            Running
    12:00:01 extract             Running
    12:00:02 transform[3]        Failed  Error during execution of task: ValueError('bad')
    12:00:02 flow etl            Failed  5 task runs: 4 Success, 1 Failed in 0.41s. Some reference tasks failed.

Exit status: 0 when every flow run succeeded, 1 when one did not (or a
notebook cell raised), 2 for a usage mistake, explained in one line on stderr.

A Python file is loaded like a script (its folder first on ``sys.path``) but
with ``__name__ == "__perfect_run__"``, so an ``if __name__ == "__main__":``
block does not run its flow a second time. Loading it imports neither IPython
nor ipywidgets; only notebooks need them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from perfect_nb.cli.pyfile import load_flows, select_flow
from perfect_nb.cli.session import EXIT_USAGE, CommandError, Session
from perfect_nb.utilities.options import make_executor, parse_params

__all__ = ["CommandError", "build_parser", "main"]

DESCRIPTION = "Run perfect_nb flows headlessly, from a Python file or from a notebook's %%perfect_flow cells."

RUN_HELP = """\
Run the flow(s) in FILE headlessly: one line per state change of each task
run (HH:MM:SS, task slug, [i] for the i-th mapped child, state, and the
message of a failed, skipped or retrying state), then a summary line per
flow run with its final state and its task runs counted by state.

FILE.py     is loaded like a script, but with __name__ == "__perfect_run__"
            (an `if __name__ == "__main__":` block does not run); the Flow
            objects in its globals are found. A single flow runs; with
            several, choose one with --flow (its name or its variable).
FILE.ipynb  runs the notebook's code cells in order in a fresh IPython shell,
            in the notebook's folder. Each %%perfect_flow cell builds its
            flow as the magic does and runs it (with the magic's result
            cache, so a flow a later cell runs again may end Cached), with
            the cell's --param values overridden by the command line's.
            Without --flow every %%perfect_flow cell runs and each --param
            goes to the flows that declare it; with --flow NAME only that
            flow runs (other %%perfect_flow cells are built, not run) and the
            run stops after its cell. A cell that raises stops the run.
"""

RUN_EPILOG = """\
examples:
  {prog} run flows/etl.py
  {prog} run flows/etl.py --flow etl --param n=5 --param "names=['a', 'b']"
  {prog} run flows/etl.py --executor threads --quiet
  {prog} run notebooks/01-quickstart.ipynb --flow etl --param n=10
  {prog} run flows/etl.py --executor tcp://127.0.0.1:8786

exit status:
  0  every flow run succeeded
  1  a flow run did not succeed, or a notebook cell raised
  2  usage error (one line on stderr): FILE missing or not .py/.ipynb,
     FILE.py raised while loading, unknown --flow, bad or unknown --param,
     bad --executor

logging:
  task failures are also logged on stderr; PERFECT_NB_LOGGING_LEVEL=INFO or
  DEBUG logs more (the default here is WARNING)
"""


# --- command line ------------------------------------------------------------
def build_parser(prog: str = "perfect") -> argparse.ArgumentParser:
    """The ``perfect`` argument parser: ``run`` and the backend's commands (see :mod:`perfect_nb.cli.backend`)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n  {prog} run flows/etl.py --param n=5\n  {prog} run notebooks/01-quickstart.ipynb --flow etl\n\n"
        f"See '{prog} run --help' for every option.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run", help="run a flow from a .py file or a notebook", description=RUN_HELP, epilog=RUN_EPILOG.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("file", metavar="FILE", nargs="?", help="a Python file (.py) or a notebook (.ipynb); or give --name")
    run.add_argument("--flow", metavar="NAME", help="the flow to run: its name or, in a .py file, its variable")
    run.add_argument(
        "--param", action="append", metavar="KEY=VALUE", default=[],
        help="a parameter value, repeatable; VALUE is read as a Python literal when it is one (5, 2.5, 'x', [1, 2]), else as a string",
    )
    run.add_argument(
        "--executor", metavar="EXECUTOR",
        help="where task bodies run: local (the default), threads, processes, dask (a local Dask cluster) or a scheduler address like tcp://host:8786; overrides a %%%%perfect_flow cell's --executor",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print only the summary line of each flow run")
    run.add_argument("--name", metavar="FLOW", help="instead of FILE: create a run of this flow registered in the server")
    run.add_argument("--project", metavar="NAME", help="with --name: the flow's project (needed when several projects have the flow)")
    how = run.add_mutually_exclusive_group()
    how.add_argument("--execute", action="store_true", help="with --name: run it here, recording it in the server")
    how.add_argument("--watch", action="store_true", help="with --name: follow its states and logs until it ends (exit 0 on success)")
    from perfect_nb.cli.backend import add_commands

    add_commands(commands)
    return parser


def main(argv: list[str] | None = None, prog: str = "perfect") -> int:
    """Entry point of ``perfect`` and ``python -m perfect_nb``; returns the exit status."""
    args = build_parser(prog).parse_args(argv)
    if "PERFECT_NB_LOGGING_LEVEL" not in os.environ:  # the progress lines already say what INFO logs would
        logging.getLogger("perfect_nb").setLevel(logging.WARNING)
    try:
        return _run_command(args)
    except CommandError as exc:
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted.", file=sys.stderr)
        return 130


def _run_command(args: argparse.Namespace) -> int:
    if getattr(args, "handler", None) is not None:
        return args.handler(args)
    if args.name:
        return _run_registered(args)
    if args.file is None:
        raise CommandError("give a FILE to run, or --name FLOW for a flow registered in the server.")
    if args.execute or args.watch or args.project:
        raise CommandError("--execute, --watch and --project go with --name FLOW, not with a FILE.")
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{args.file}: no such file." if not path.exists() else f"{args.file} is not a file.")
    if path.suffix not in (".py", ".ipynb"):
        raise CommandError(f"{args.file} is neither a Python file (.py) nor a notebook (.ipynb).")
    try:
        params = parse_params(args.param)
        executor = make_executor(args.executor) if args.executor else None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    session = Session(params, executor, quiet=args.quiet)
    if path.suffix == ".py":
        flow = select_flow(load_flows(path), args.flow, path)
        session.check_params(flow)
        session.check_values(flow)
        session.run(flow, params)
    else:
        from perfect_nb.cli.notebook import run_notebook  # imports IPython: only for notebooks

        run_notebook(path, args.flow, session)
    return session.finish()


def _run_registered(args: argparse.Namespace) -> int:
    from perfect_nb.cli.backend import run_registered

    if args.file is not None:
        raise CommandError("give either a FILE or --name FLOW, not both.")
    try:
        params = parse_params(args.param)
        executor = make_executor(args.executor) if args.executor else None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return run_registered(args, params, executor)


def _version() -> str:
    from perfect_nb import __version__

    return __version__


