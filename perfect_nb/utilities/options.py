"""Run options shared by ``%%perfect_flow`` and ``perfect run``: ``--param`` and ``--executor``.

Both raise ``ValueError`` subclasses with a one-line message; the magic turns
them into IPython ``UsageError``, the command line into exit status 2. Nothing
here imports IPython or dask.
"""

from __future__ import annotations

import ast
import socket
from typing import Any

from perfect_nb.errors import ParameterError

__all__ = ["EXECUTOR_CHOICES", "check_address", "make_executor", "parse_params"]

EXECUTOR_CHOICES = ("local", "threads", "processes", "dask")
PROBE_TIMEOUT = 3.0  # seconds to wait for a scheduler address to answer


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``["n=5", "name=abc"]`` -> ``{"n": 5, "name": "abc"}`` (values as Python literals when they parse).

    Raises ``ParameterError`` (a ``ValueError``) for a pair that is not ``KEY=VALUE``.

    >>> parse_params(["n=5", "tags=['a']", "who=world"])
    {'n': 5, 'tags': ['a'], 'who': 'world'}
    >>> parse_params(["5"])
    Traceback (most recent call last):
    ...
    perfect_nb.errors.ParameterError: --param takes KEY=VALUE, got '5'.
    """
    values: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ParameterError(f"--param takes KEY=VALUE, got {pair!r}.")
        try:
            values[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            values[key] = raw
    return values


def make_executor(spec: str | None) -> Any:
    """An executor from ``--executor``: local, threads, processes, dask, or a scheduler address.

    Raises ``ValueError`` for anything else.

    >>> type(make_executor("local")).__name__
    'LocalExecutor'
    >>> make_executor("fast")
    Traceback (most recent call last):
    ...
    ValueError: --executor must be local, threads, processes, dask or a scheduler address like tcp://host:8786, got 'fast'.
    """
    if spec in (None, "local"):
        from perfect_nb.executors import LocalExecutor

        return LocalExecutor()
    if spec in ("threads", "processes"):
        from perfect_nb.executors import LocalDaskExecutor

        return LocalDaskExecutor(scheduler=spec)
    if spec == "dask" or "://" in spec:
        from perfect_nb.executors import DaskExecutor

        if spec != "dask":
            check_address(spec)
        return DaskExecutor(address=None if spec == "dask" else spec)
    raise ValueError(f"--executor must be local, threads, processes, dask or a scheduler address like tcp://host:8786, got {spec!r}.")


def check_address(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise ``ValueError`` unless something listens at a ``tcp://`` or ``tls://`` scheduler address.

    Asked before a run, so that an address nobody answers at is a usage error
    within ``timeout`` seconds, not a Dask connection timeout half a minute later.
    Other schemes (``ucx://``, ``inproc://``) are left to Dask.

    >>> check_address("tcp://localhost")
    Traceback (most recent call last):
    ...
    ValueError: --executor tcp://localhost: a scheduler address needs a port, like tcp://localhost:8786.
    """
    scheme, _, rest = address.partition("://")
    if scheme not in ("tcp", "tls"):
        return
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--executor {address}: a scheduler address needs a port, like {scheme}://{rest or 'host'}:8786.")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as conn:
            # a Dask scheduler starts with its handshake; a TLS one waits for ours
            if scheme == "tcp" and not conn.recv(8):
                raise ConnectionResetError(0, "it closed the connection without a Dask handshake")
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            reason = f"no Dask handshake within {timeout:g} s"
        else:
            reason = (exc.strerror or str(exc)).lower()
        raise ValueError(
            f"--executor {address}: no Dask scheduler answers at that address ({reason}). Start one there "
            f"(`dask scheduler`, then `dask worker {address}`), or use --executor dask for a local cluster."
        ) from None
