"""The one seam between the engine and the orchestration backend.

``flow.run()`` asks :func:`reporter_for` whether to record the run. With no
backend configured (``[backend] kind = "none"``, the default) it returns None
after reading the configuration, importing nothing of ``perfect_nb.client``.
With ``perfect backend server`` it returns a
:class:`~perfect_nb.client.reporter.Reporter` for the run.

>>> import os, tempfile
>>> os.environ["PERFECT_NB_HOME"] = tempfile.mkdtemp()
>>> reporter_for(None, backend=None) is None
True
>>> del os.environ["PERFECT_NB_HOME"]
"""

from __future__ import annotations

from typing import Any

from perfect_nb.configuration import get_value

__all__ = ["reporter_for"]


def reporter_for(flow: Any, backend: Any = None, context: dict | None = None) -> Any:
    """A Reporter for a run of ``flow``, or None. ``backend=False`` opts out; a
    Client (or an API URL) records into that server whatever the configuration says."""
    if backend is False:
        return None
    if backend is None or backend is True:
        if backend is None and get_value("backend", "kind") != "server":
            return None
        api = None
    else:
        api = backend
    from perfect_nb.client.client import Client
    from perfect_nb.client.reporter import Reporter

    client = api if isinstance(api, Client) else Client(api=api, timeout=5.0)
    context = context or {}
    return Reporter(client, flow, flow_id=context.get("flow_id"), labels=context.get("labels"), lease=context.get("flow_run_lease", 0))
