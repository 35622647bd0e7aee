"""Flows from a Python file: load it like a script, find its Flow objects, pick one.

The file runs with ``__name__ == "__perfect_run__"`` (so an
``if __name__ == "__main__": flow.run()`` block does not run the flow a second
time), its folder first on ``sys.path`` and ``sys.argv == [FILE]``. Nothing
here imports IPython.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from pathlib import Path

from perfect_nb.cli.session import CommandError
from perfect_nb.core.flow import Flow

__all__ = ["RUN_NAME", "load_flows", "select_flow"]

RUN_NAME = "__perfect_run__"


def load_flows(path: Path) -> dict[str, Flow]:
    """Execute the file at ``path`` and return its module-level flows: variable name -> Flow.

    A flow bound to several variables appears once, under the first. An
    exception while loading prints its traceback (from the file's first
    frame) on stderr and raises CommandError.
    """
    path = Path(path)
    sys.path.insert(0, str(path.resolve().parent))
    argv, sys.argv = sys.argv, [str(path)]
    try:
        namespace = runpy.run_path(str(path), run_name=RUN_NAME)
    except (Exception, SystemExit) as exc:
        _print_user_traceback(exc, path)
        raise CommandError(f"{path} raised {type(exc).__name__} while loading, so no flow was run (traceback above).") from None
    finally:
        sys.argv = argv
    flows: dict[str, Flow] = {}
    for var, value in namespace.items():
        if isinstance(value, Flow) and all(value is not f for f in flows.values()):
            flows[var] = value
    return flows


def select_flow(flows: dict[str, Flow], wanted: str | None, path: Path | str) -> Flow:
    """The flow to run: by ``wanted`` (a flow name, else a variable name) or the only one.

    >>> a, b = Flow("etl"), Flow("report")
    >>> select_flow({"a": a, "b": b}, "report", "f.py") is b, select_flow({"a": a, "b": b}, "a", "f.py") is a
    (True, True)
    >>> select_flow({"a": a, "b": b}, None, "f.py")
    Traceback (most recent call last):
    ...
    perfect_nb.cli.session.CommandError: f.py defines 2 flows; choose one with --flow NAME: 'etl' (variable a), 'report' (variable b).
    """
    if not flows:
        raise CommandError(f"{path} defines no Flow at module level (flows built under `if __name__ == \"__main__\":` are not seen).")
    listing = ", ".join(repr(f.name) if var == f.name else f"{f.name!r} (variable {var})" for var, f in flows.items())
    if wanted is None:
        if len(flows) > 1:
            raise CommandError(f"{path} defines {len(flows)} flows; choose one with --flow NAME: {listing}.")
        return next(iter(flows.values()))
    for matches in ([f for f in flows.values() if f.name == wanted], [f for v, f in flows.items() if v == wanted]):
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise CommandError(f"{path} has {len(matches)} flows named {wanted!r}; choose one by its variable name: {listing}.")
    raise CommandError(f"{path} has no flow {wanted!r}; its flows: {listing}.")


def _print_user_traceback(exc: BaseException, path: Path) -> None:
    """Print the traceback from the first frame in the user's file (no runpy frames)."""
    tb = exc.__traceback__
    target = os.path.realpath(path)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
