"""Benchmark of the agent (issue 12), run by ``make bench``.

- pickup latency: from creating a run (its Scheduled state) to its Running
  state, reported by the run's own process, with one idle agent; the median and
  the worst of 20 runs, one after the other;
- throughput: 200 queued runs of a 10-task flow on one agent with concurrency 4:
  runs per minute, and the peak resident memory of the server, of the agent, and
  of all run processes together.

Both use a real server on SQLite in its own process and a real agent process.
Prints a Markdown table and writes it to bench/results-agent.md.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

from bench.backend import _rss_mb

FLOW = """
from perfect_nb import Flow, task

@task
def step(x):
    return x + 1

with Flow("ten") as flow:
    x = 0
    for _ in range(10):
        x = step(x)
"""


def _children_rss(pid: int) -> float:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return sum(_rss_mb(int(c)) for c in out if pathlib.Path(f"/proc/{c}").exists())


class _Peak(threading.Thread):
    def __init__(self, server: int, agent: int) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = (server, agent), [0.0, 0.0, 0.0], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                values = [_rss_mb(self.pids[0]), _rss_mb(self.pids[1]), _children_rss(self.pids[1])]
            except (FileNotFoundError, ProcessLookupError):
                values = [0.0, 0.0, 0.0]
            self.peak = [max(a, b) for a, b in zip(self.peak, values)]
            self.stop.wait(0.1)


def pickup_latencies(client, flow_id: str, runs: int) -> list[float]:
    """Create ``runs`` runs one after the other; seconds from each one's Scheduled to its Running state."""
    latencies = []
    for _ in range(runs):
        run_id = client.create_flow_run(flow_id)
        client.wait_for(run_id, timeout=60, poll=0.05)
        states = {s["state"]: s["timestamp"] for s in client.get_flow_run_states(run_id)}
        latencies.append(states["Running"] - states["Scheduled"])
    return latencies


def main() -> None:
    from perfect_nb.cli.pyfile import load_flows
    from perfect_nb.client import Client
    from tests.backend.conftest import ServerProcess

    home = pathlib.Path(tempfile.mkdtemp(prefix="perfect_bench_agent_"))
    os.environ["PERFECT_NB_HOME"] = str(home)
    server = ServerProcess(f"sqlite:///{home / 'server.db'}", home).start()
    env = {**server.env, "PERFECT_NB__BACKEND__API": server.api, "PERFECT_NB_LOGGING_LEVEL": "ERROR"}
    (home / "ten.py").write_text(textwrap.dedent(FLOW))
    rows = []
    agent = None
    try:
        with Client(api=server.api) as client:
            client.create_project("bench")
            (flow,) = load_flows(home / "ten.py").values()
            flow_id = client.register(flow, "bench")["id"]
            agent = subprocess.Popen([sys.executable, "-m", "perfect_nb", "agent", "local", "start", "--concurrency", "4"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(2.0)
            latencies = pickup_latencies(client, flow_id, 20)
            rows.append(("pickup latency, create to Running, one idle agent (20 runs)",
                         f"median {statistics.median(latencies):.2f} s, worst {max(latencies):.2f} s", "target: median under 1 s (Prefect 3's process worker: 5-7 s, not measured here)"))
            peak = _Peak(server.proc.pid, agent.pid)
            peak.start()
            ids = [client.create_flow_run(flow_id) for _ in range(200)]
            start = time.perf_counter()
            for run_id in ids:
                client.wait_for(run_id, timeout=600, poll=0.2)
            elapsed = time.perf_counter() - start
            peak.stop.set()
            peak.join()
            ok = sum(client.get_flow_run_info(r).state.is_successful() for r in ids)
            rows.append(("throughput, 200 queued runs of a 10-task flow, concurrency 4", f"{200 / elapsed * 60:.0f} runs per minute",
                         f"{elapsed:.1f} s in all, {ok}/200 succeeded"))
            rows.append(("peak resident memory during that", f"server {peak.peak[0]:.0f} MB, agent {peak.peak[1]:.0f} MB",
                         f"run processes together {peak.peak[2]:.0f} MB"))
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        server.stop()
    table = "| measurement | value | note |\n|---|---|---|\n" + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)
    print(table)
    (pathlib.Path(__file__).parent / "results-agent.md").write_text(f"# Agent benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n\n{table}")


if __name__ == "__main__":
    main()
