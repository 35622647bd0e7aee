"""One flow run in its own process: ``python -m perfect_nb execute flow-run ID``.

An agent starts it with the run's lease in ``PERFECT_NB_FLOW_RUN_LEASE``. It
heartbeats from a thread from the first moment (so a slow import never looks
like a death), loads the registered flow, hands the task runs that succeeded
in an earlier attempt their stored results (a restart), and runs the flow with
the backend's reporter. Task results are written under
``$PERFECT_NB_HOME/results/`` unless the flow has its own ``result``, so a
restart can reuse them. SIGTERM (a cancel) interrupts the run: unfinished task
runs end Cancelled and finished ones keep their states. A refused heartbeat
(the run was given to someone else, or its state was set from outside) stops
the process the same way.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import socket
import threading
from typing import Any

from perfect_nb.configuration import home

__all__ = ["LEASE_ENV", "HEARTBEAT_ENV", "execute_flow_run", "restart_states"]

LEASE_ENV = "PERFECT_NB_FLOW_RUN_LEASE"
HEARTBEAT_ENV = "PERFECT_NB_HEARTBEAT_SECONDS"
PREVIEW = 300  # characters of a result's preview on its task run's page


class _Heartbeat(threading.Thread):
    """Tell the server every ``every`` s that this process runs ``run_id``; interrupt the run
    when the server says it is cancelled or no longer ours."""

    def __init__(self, client: Any, run_id: str, lease: int, every: float) -> None:
        super().__init__(name="perfect-heartbeat", daemon=True)
        self.client, self.run_id, self.lease, self.every = client, run_id, lease, every
        self.stopped = threading.Event()
        self.reason: str | None = None

    def run(self) -> None:
        from perfect_nb.errors import ClientError

        host, pid = socket.gethostname(), os.getpid()
        while not self.stopped.is_set():
            try:
                answer = self.client.flow_run_heartbeat(self.run_id, self.lease, host, pid)
                if answer.get("cancel"):
                    self._interrupt("cancelled")
            except ClientError as exc:
                if exc.status == 409:
                    self._interrupt(f"the server took the run back: {exc}")
                # anything else (server restarting): try again next beat
            self.stopped.wait(self.every)

    def _interrupt(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            os.kill(os.getpid(), signal.SIGTERM)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def restart_states(flow: Any, task_runs: list) -> tuple[dict, list[str]]:
    """The states to start a restarted run from: each task run that succeeded with a stored
    result, as its state with that result read back (by the task's ``result``, else the
    flow's). Returns (task_states, names of the succeeded task runs that kept no result,
    or whose result cannot be read, and so run again)."""
    from perfect_nb.engine.state import Mapped, Success

    by_slug = {t.slug: t for t in flow.tasks}
    parents: dict[str, dict[int, Any]] = {}
    states, rerun = {}, []
    for row in task_runs:
        task = by_slug.get(row["task_slug"])
        if task is None or not row["state"].is_successful():
            continue
        if type(row["state"]).__name__ == "Mapped":
            parents.setdefault(row["task_slug"], {})
            continue
        location = row.get("result_location")
        if not location:
            rerun.append(row["task_slug"] + (f"[{row['map_index']}]" if row["map_index"] >= 0 else ""))
            continue
        try:
            store = task.result if task.result is not None else flow.result
            state = Success("Result kept from an earlier attempt.", result=store.read(location).value)
        except Exception:
            rerun.append(row["task_slug"])
            continue
        state.context["result_location"] = location
        if row["map_index"] >= 0:
            parents.setdefault(row["task_slug"], {})[row["map_index"]] = state
        else:
            states[task] = state
    for slug, children in parents.items():
        if children:
            size = max(children) + 1
            states[by_slug[slug]] = Mapped("Mapped in an earlier attempt.", map_states=[children.get(i) for i in range(size)])
    return states, rerun


def result_locations(run_id: str, final: Any) -> list[tuple[str, str, str]]:
    """(server task-run id, location, preview) of every task run of a finished flow run whose
    result was stored; the preview is a short repr of the value (the server never unpickles it)."""
    from perfect_nb.client.reporter import task_run_key
    from perfect_nb.utilities.reprs import short_repr

    found = []
    for task, state in (final.result or {}).items():
        children = getattr(state, "map_states", None)
        for index, s in ([(None, state)] if children is None else enumerate(children)):
            location = s.context.get("result_location") if s is not None and s.context else None
            if isinstance(location, str):
                found.append((task_run_key(run_id, task.slug, index), location, short_repr(s.result, PREVIEW)))
    return found


def _send_locations(client: Any, run_id: str, lease: int, final: Any) -> None:
    """Tell the server where the results are and what they look like (a restart reuses them, the
    task run's page shows the preview). Best effort: a restart without them runs those tasks again."""
    import uuid

    from perfect_nb.errors import ClientError

    events = [{"id": f"loc-{uuid.uuid4().hex}", "type": "location", "flow_run_id": run_id, "task_run_id": tid, "location": loc, "preview": preview, "lease": lease}
              for tid, loc, preview in result_locations(run_id, final)]
    for start in range(0, len(events), 1000):
        try:
            client.post_events(events[start:start + 1000])
        except ClientError:
            return


def execute_flow_run(run_id: str, lease: int | None = None, api: str | None = None) -> int:
    """Run the registered flow run ``run_id``; the exit status (0 when it succeeded)."""
    from perfect_nb.cli.session import EXIT_FAILED, EXIT_OK, CommandError
    from perfect_nb.client import Client
    from perfect_nb.errors import ClientError

    lease = int(os.environ.get(LEASE_ENV, "0")) if lease is None else lease
    if not lease:
        raise CommandError(f"execute flow-run is started by an agent (it sets {LEASE_ENV}); to run {run_id} here use "
                           "`perfect agent local start`, or `perfect run --name FLOW --execute` for a new run.")
    every = float(os.environ.get(HEARTBEAT_ENV) or 5.0)
    client = Client(api=api)
    beat = _Heartbeat(client, run_id, lease, every)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # an agent started in the background passes SIGINT on ignored
    beat.start()
    try:
        info = client.get_flow_run_info(run_id)
        try:
            flow = client.load_flow(info.flow_id)
        except Exception as exc:  # a missing module, other versions, a server error
            client.end_flow_run(run_id, lease, "Failed", f"The registered flow cannot be loaded on {socket.gethostname()}: {exc}")
            return EXIT_FAILED
        results = home() / "results"
        if flow.result is None:
            from perfect_nb.engine.results import LocalResult

            flow.result = LocalResult(dir=results)
        task_states, _ = restart_states(flow, info.task_runs)
        context = {"flow_run_id": run_id, "flow_id": info.flow_id, "flow_run_name": info.name, "flow_run_lease": lease,
                   "checkpointing": True}  # results are written, whatever config.flows.checkpointing says: a restart reuses them
        if info.get("scheduled_start_time") is not None:  # context.scheduled_start_time is the run's, as in Prefect Server
            context["scheduled_start_time"] = _dt.datetime.fromtimestamp(info["scheduled_start_time"], _dt.timezone.utc)
        try:
            state = flow.run(parameters=info.parameters, run_on_schedule=False, backend=client, context=context, task_states=task_states)
        except KeyboardInterrupt:  # interrupted before the flow runner took over
            client.end_flow_run(run_id, lease, "Cancelled", f"Cancelled ({beat.reason or 'interrupted'}) before it started.")
            return EXIT_FAILED
        _send_locations(client, run_id, lease, state)
        return EXIT_OK if state.is_successful() else EXIT_FAILED
    except ClientError as exc:
        raise CommandError(str(exc)) from None
    finally:
        beat.stopped.set()
        client.close()
