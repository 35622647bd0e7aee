"""Registration: a Flow as the server stores it, and back.

The flow is stored by value (cloudpickle) with the versions that made it. Its
*key* covers the graph and each task's code fingerprint, so registering an
unchanged flow keeps its version and an edited task body makes a new one.

>>> from perfect_nb import Flow, Parameter, task
>>> def build(with_parameter):
...     with Flow("f") as flow:
...         one = task(lambda: 1, name="one")()
...         if with_parameter:
...             Parameter("n", default=1)
...     return flow
>>> flow_key(build(False)) == flow_key(build(False)), flow_key(build(False)) == flow_key(build(True))
(True, False)

(an edited task body is a new key too: tests/backend/test_server_api.py registers one)
"""

from __future__ import annotations

import base64
import hashlib
import platform
import warnings
import weakref
from typing import Any

import cloudpickle

from perfect_nb.cache.fingerprint import task_fingerprint
from perfect_nb.core.parameter_spec import describe_parameters
from perfect_nb.errors import SerializationError

__all__ = ["flow_graph", "flow_key", "load_flow", "pickle_flow", "registration_payload", "versions"]

def versions() -> dict:
    """The versions a stored flow depends on."""
    from perfect_nb import __version__

    return {"python": platform.python_version(), "cloudpickle": cloudpickle.__version__, "perfect_nb": __version__}

_GRAPHS: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


def flow_graph(flow: Any) -> dict:
    """The flow's tasks and edges as JSON (what the UI draws and the server shows).

    Made once per shape of the flow: every change to its tasks or edges makes the flow
    sort its tasks again, and a task renamed or other reference tasks make it anew too
    (a 2,000-task graph costs ~10 ms to build, and every recorded run sends it)."""
    tasks = flow.sorted_tasks()
    shape = (getattr(flow, "_sorted", None), tuple(t.name for t in tasks), sorted(t.slug for t in flow.reference_tasks()))
    try:
        cached = _GRAPHS.get(flow)
    except TypeError:  # not weak-referenceable: build it every time
        cached = None
    if cached is not None and cached[0] is shape[0] and shape[0] is not None and cached[1:-1] == shape[1:]:
        return cached[-1]
    graph = {
        "tasks": [{"slug": t.slug, "name": t.name, "type": type(t).__name__} for t in tasks],
        "edges": sorted(
            ({"upstream": e.upstream_task.slug, "downstream": e.downstream_task.slug, "key": e.key, "mapped": e.mapped, "flattened": e.flattened}
             for e in flow.edges),
            key=lambda e: (e["upstream"], e["downstream"], e["key"] or ""),
        ),
        "reference_tasks": shape[2],
    }
    try:
        _GRAPHS[flow] = (*shape, graph)
    except TypeError:
        pass
    return graph


def flow_key(flow: Any) -> str:
    """A content key: graph, parameters and each task's code fingerprint (a random
    part for a task that cannot be fingerprinted, so it is never taken as unchanged)."""
    import uuid

    digest = hashlib.sha256(repr(flow_graph(flow)).encode())
    digest.update(repr(describe_parameters(flow)).encode())
    digest.update(repr(flow.schedule).encode())
    for task in sorted(flow.tasks, key=lambda t: t.slug):
        digest.update(f"{task.slug}={task_fingerprint(task) or uuid.uuid4()}".encode())
    return digest.hexdigest()

def pickle_flow(flow: Any) -> bytes:
    """cloudpickle the flow; on failure name the task that holds what cannot be pickled."""
    try:
        return cloudpickle.dumps(flow)
    except Exception as exc:
        culprit = None
        for task in flow.sorted_tasks():
            try:
                cloudpickle.dumps(task)
            except Exception:
                culprit = task
                break
        where = f"task {culprit.slug!r} holds something" if culprit is not None else "the flow holds something"
        raise SerializationError(
            f"Flow {flow.name!r} cannot be registered: {where} that cannot be pickled ({type(exc).__name__}: {exc}). "
            "Create such objects (connections, locks, open files) inside the task's run() instead."
        ) from None

def registration_payload(flow: Any, project_name: str, labels: list[str] | None = None, idempotency_key: str | None = None, force: bool = False) -> dict:
    """The body of ``POST /api/flows``."""
    flow.validate()
    blob = pickle_flow(flow)
    return {
        "project": project_name, "name": flow.name, "key": flow_key(flow), "blob": base64.b64encode(blob).decode(), "meta": versions(),
        "parameters": describe_parameters(flow), "graph": flow_graph(flow),
        "schedule": _schedule_payload(flow.schedule),
        "labels": sorted(set(labels or [])), "idempotency_key": idempotency_key, "force": force,
    }

def _schedule_payload(schedule: Any) -> dict | None:
    """The schedule as the server's scheduler reads it: plain JSON (SerializationError when the
    server could not evaluate it, e.g. a filter of the user's own)."""
    if schedule is None:
        return None
    from perfect_nb.schedules.serialize import schedule_to_dict

    return {"spec": schedule_to_dict(schedule), "repr": repr(schedule)}


def load_flow(blob: bytes, meta: dict) -> Any:
    """Unpickle a stored flow; if that fails, say which version differs from the one that stored it."""
    here = versions()
    differ = [f"{k} {meta.get(k)} (stored) vs {here[k]} (here)" for k in here if meta.get(k) and meta.get(k) != here[k]]
    try:
        flow = cloudpickle.loads(blob)
    except Exception as exc:
        hint = f"; versions differ: {', '.join(differ)}" if differ else ""
        raise SerializationError(f"The stored flow cannot be loaded here ({type(exc).__name__}: {exc}){hint}. Install what it needs, or register it again from here.") from None
    if differ:
        warnings.warn(f"Flow {flow.name!r} was registered with other versions: {', '.join(differ)}.", stacklevel=2)
    return flow


def register(flow: Any, project_name: str | None, labels: list[str] | None = None, idempotency_key: str | None = None, force: bool = False,
             api: str | None = None, quiet: bool = False) -> str:
    """What ``flow.register()`` does: store the flow, print its version and address, return its id."""
    from perfect_nb.client.client import Client

    if not project_name:
        raise ValueError(f"Flow {flow.name!r}: register(project_name=...) needs a project; create one with `perfect create project NAME`.")
    with Client(api=api) as client:
        row = client.register(flow, project_name, labels=labels, idempotency_key=idempotency_key, force=force)
        if not quiet:
            what = "unchanged, still" if row["unchanged"] else "registered as"
            print(f"Flow {flow.name!r} in project {project_name!r}: {what} version {row['version']} (id {row['id']})\n  {client.api}/api/flows/{row['id']}")
    return row["id"]
