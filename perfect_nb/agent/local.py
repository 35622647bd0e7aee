"""``perfect agent local start``: claim due runs and run each in its own process.

The agent registers with the server, then loops: it claims as many due runs
as it has free slots (a long poll, so a new run starts within a fraction of a
second), starts ``python -m perfect_nb execute flow-run ID`` for each in its
own process group, heartbeats, stops the processes of runs being cancelled
(SIGTERM, then SIGKILL after ``grace`` seconds), and says how each process
ended. A process that dies before its run finished (``kill -9``, out of
memory, a crash) has its run marked Failed with the exit code or signal and
the host. Run processes outlive the agent: when an agent dies its runs go on
and report on their own; only a run whose process is gone too goes back to
the queue (the server's reaper does that).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from perfect_nb.agent.execute import HEARTBEAT_ENV, LEASE_ENV
from perfect_nb.configuration import home

__all__ = ["LocalAgent"]


@dataclasses.dataclass
class _Child:
    run_id: str
    lease: int
    name: str
    process: subprocess.Popen
    log_path: Path | None
    started: float
    stop_sent: float | None = None
    killed: bool = False


def _signal_text(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {name} ({-returncode})"
    return f"exited with code {returncode}"


class LocalAgent:
    """Claims runs with ``labels`` from the server at ``api`` and runs up to ``concurrency`` at once.

    Parameters
    ----------
    api : str, optional
        The server (default: the configured ``[backend] api``).
    labels : list of str
        A run is taken only when the agent has every one of the run's labels.
    concurrency : int
        How many runs at once.
    show_flow_logs : bool
        Let the run processes print to this agent's output (else each writes to a
        file under ``$PERFECT_NB_HOME/agent-logs/``, named in a failed run's message).
    grace : float
        Seconds a cancelled run's process has to stop after SIGTERM before SIGKILL.
    """

    def __init__(self, api: str | None = None, labels: list[str] | None = None, concurrency: int = 1, name: str | None = None,
                 show_flow_logs: bool = False, grace: float = 10.0, out: Callable[[str], None] | None = None) -> None:
        from perfect_nb.client import Client

        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}.")
        self.client = Client(api=api)
        self.labels = sorted(set(labels or []))
        self.concurrency = concurrency
        self.host = socket.gethostname()
        self.name = name or f"{self.host}-{os.getpid()}"
        self.show_flow_logs, self.grace = show_flow_logs, grace
        self.out = out or (lambda line: print(line, flush=True))
        self.children: dict[str, _Child] = {}
        self.agent_id: str | None = None
        self.heartbeat_seconds = 5.0
        self._stopping = False
        self._server_down_since: float | None = None

    # --- the loop ------------------------------------------------------------
    def start(self, max_runs: int | None = None) -> None:
        """Run until interrupted (or until ``max_runs`` runs have ended)."""
        from perfect_nb.errors import ClientError

        self._register()
        self._say(f"Agent {self.name} ({self.agent_id}) on {self.client.api}: labels {self.labels or '[]'}, concurrency {self.concurrency}.")
        ended, last_beat = 0, 0.0
        try:
            while not self._stopping and (max_runs is None or ended < max_runs):
                try:
                    ended += self._reap()
                    if time.monotonic() - last_beat >= self.heartbeat_seconds:
                        self._heartbeat()
                        last_beat = time.monotonic()
                    free = self.concurrency - len(self.children)
                    if free > 0:
                        for run in self.client.claim_flow_runs(self.agent_id, free, wait=0.5 if self.children else 1.0):
                            self._launch(run)
                    else:
                        time.sleep(0.05)
                    self._server_back()
                except ClientError as exc:
                    self._server_trouble(exc)
        finally:
            if self.children:
                self._say(f"Agent {self.name} stops; {len(self.children)} run(s) go on in their own processes and report on their own.")
            self.client.close()

    def stop(self) -> None:
        self._stopping = True

    def _register(self) -> None:
        row = self.client.register_agent(self.name, self.labels, self.host, os.getpid(), self.concurrency)
        self.agent_id = row["id"]
        self.heartbeat_seconds = float(row.get("heartbeat_seconds") or 5.0)

    def _server_trouble(self, exc: Exception) -> None:
        if getattr(exc, "status", None) == 404 and "agent" in str(exc):  # the server forgot us (database reset)
            self._register()
            return
        if self._server_down_since is None:
            self._server_down_since = time.monotonic()
            self._say(f"The server does not answer ({exc}); retrying every second. Running flows go on.")
        time.sleep(1.0)

    def _server_back(self) -> None:
        if self._server_down_since is not None:
            self._say(f"The server answers again after {time.monotonic() - self._server_down_since:.0f} s.")
            self._server_down_since = None
            from perfect_nb.client.reporter import drain_spool

            drain_spool(self.client)

    # --- starting, stopping and judging run processes ---------------------------------
    def _launch(self, run: dict) -> None:
        env = dict(os.environ)
        env.update({LEASE_ENV: str(run["lease"]), HEARTBEAT_ENV: str(self.heartbeat_seconds), "PERFECT_NB__BACKEND__API": self.client.api})
        if self.client.token:
            env["PERFECT_NB__BACKEND__TOKEN"] = self.client.token
        log_path, output = None, None
        if not self.show_flow_logs:
            log_path = home() / "agent-logs" / f"{run['id']}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            output = open(log_path, "ab")
        try:
            process = subprocess.Popen([sys.executable, "-m", "perfect_nb", "execute", "flow-run", run["id"]], env=env, start_new_session=True,
                                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT if output else None)
        finally:
            if output is not None:
                output.close()
        self.children[run["id"]] = _Child(run["id"], run["lease"], run.get("flow_name") or "?", process, log_path, time.time())
        self._say(f"Started flow run {run['id']} of {run.get('flow_name')!r} (pid {process.pid}).")

    def _heartbeat(self) -> None:
        answer = self.client.agent_heartbeat(self.agent_id, {c.run_id: c.lease for c in self.children.values()})
        for run_id in answer.get("stop", []):
            child = self.children.get(run_id)
            if child is not None and child.stop_sent is None:
                child.stop_sent = time.monotonic()
                self._signal(child, signal.SIGTERM)
        for child in self.children.values():
            if child.stop_sent is not None and not child.killed and time.monotonic() - child.stop_sent > self.grace:
                child.killed = True
                self._signal(child, signal.SIGKILL)

    def _signal(self, child: _Child, sig: int) -> None:
        try:
            os.killpg(child.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self) -> int:
        """Judge every run process that ended; return how many did."""
        ended = [c for c in self.children.values() if c.process.poll() is not None]
        for child in ended:
            self._judge(child)
            del self.children[child.run_id]
        return len(ended)

    def _judge(self, child: _Child) -> None:
        from perfect_nb.client.reporter import drain_spool

        code = child.process.returncode
        drain_spool(self.client)  # what the process could not send itself
        info = self.client.get_flow_run_info(child.run_id)
        state = type(info.state).__name__
        if not info.state.is_finished() and info.get("lease") == child.lease or state == "Cancelling":
            if child.stop_sent is not None:
                how = "SIGKILL after a grace of {:.0f} s".format(self.grace) if child.killed else "SIGTERM"
                state, message = "Cancelled", f"Cancelled: the agent stopped its process on {self.host} ({how})."
            else:
                where = f" See its output in {child.log_path}." if child.log_path else ""
                state, message = "Failed", f"The flow run's process (pid {child.process.pid} on {self.host}) {_signal_text(code)} before the run finished.{where}"
            self.client.end_flow_run(child.run_id, child.lease, state, message)
        self._say(f"Flow run {child.run_id} of {child.name!r} ended {state} after {time.time() - child.started:.1f} s ({_signal_text(code)}).")

    def _say(self, line: str) -> None:
        self.out(f"{time.strftime('%H:%M:%S')} {line}")
