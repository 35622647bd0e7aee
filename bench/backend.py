"""Benchmark of the orchestration backend (issue 11), run by ``make bench``.

- the 2,000-task fan-in workload with reporting on (a real server on SQLite, in
  its own process) against reporting off, in the same process: the per-task cost
  of recording a run, amortised over the run including the final flush;
- event ingestion into SQLite through the API: state changes per second;
- the server's start-up time (process start to first answer) and idle resident memory.

Prints a Markdown table and writes it to bench/results-backend.md.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import time
import uuid

from bench import quiet_logs
from bench.cache import _best  # best of five wall-clock runs

N_TASKS = 2_000


def _fan_in():
    from perfect_nb import Flow, task

    @task
    def inc(x):
        return x + 1

    @task
    def total(xs):
        return sum(xs)

    with Flow("fan_in") as flow:
        total([inc(i) for i in range(N_TASKS)])
    return flow


def _rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fan_in_times(client, flow=None) -> tuple[float, float]:
    """Best-of-five seconds of the fan-in with reporting off, then recorded through ``client``."""
    flow = flow or _fan_in()
    off = _best(lambda: flow.run(backend=False))
    on = _best(lambda: flow.run(backend=client))
    return off, on


def first_run_time(client) -> float:
    """Best-of-five seconds of a flow's first recorded run in this process, which sends
    its DAG (later runs of the same flow send only the key the server gave it)."""
    flows = iter([_fan_in() for _ in range(5)])
    return _best(lambda: next(flows).run(backend=client))


def _states_batch(run_id: str, b: int) -> list[dict]:
    """One request as the reporter makes it: a run's ``states`` event, each task run Running then Success."""
    from perfect_nb.client.reporter import task_run_key

    tasks = [[task_run_key(run_id, f"t-{b}-{i}", None), f"t-{b}-{i}", "t", None] for i in range(500)]
    now = time.time()
    rows = [[i // 2, "Success" if i % 2 else "Running", "Task run succeeded." if i % 2 else None, bool(i % 2), b * 1000 + i + 1, now, None, None]
            for i in range(1000)]
    return [{"id": f"bench-{b * 1000 + 1}", "type": "states", "flow_run_id": run_id, "lease": 0, "prefix": "bench", "tasks": tasks, "rows": rows}]


ROUNDS = 3  # off/on pairs, one after the other: the machine's noise shows as their spread
WARM_UP = 3  # recorded runs first, so a round measures what every later run of a flow costs (the first one has its own row)


def main() -> None:
    from perfect_nb.client import Client
    from tests.backend.conftest import ServerProcess

    home = pathlib.Path(tempfile.mkdtemp(prefix="perfect_bench_"))
    proc = ServerProcess(f"sqlite:///{home / 'server.db'}", home)
    started = time.perf_counter()
    proc.start()
    ready = time.perf_counter() - started
    time.sleep(1.0)
    idle_rss = _rss_mb(proc.proc.pid)
    rows = []
    try:
        with Client(api=proc.api) as client:
            flow = _fan_in()
            for _ in range(WARM_UP):
                flow.run(backend=client)
            pairs = sorted((fan_in_times(client, flow) for _ in range(ROUNDS)), key=lambda p: p[1] - p[0])
            off, on = pairs[len(pairs) // 2]
            spread = ", ".join(f"+{(b - a) / N_TASKS * 1e6:.1f}" for a, b in pairs)
            first = first_run_time(client)
            rows.append(("2,000-task fan-in, reporting off", f"{off * 1e3:.0f} ms", f"{off / N_TASKS * 1e6:.0f} us per task"))
            rows.append(("same, recorded in the server (SQLite)", f"{on * 1e3:.0f} ms",
                         f"+{(on - off) / N_TASKS * 1e6:.1f} us per task, the median of {ROUNDS} rounds ({spread}); target: at most 30"))
            rows.append(("same, a flow's first recorded run in the process (it sends its DAG)", f"{first * 1e3:.0f} ms", f"+{(first - off) / N_TASKS * 1e6:.1f} us per task"))
            run_id = str(uuid.uuid4())
            batches = [_states_batch(run_id, b) for b in range(20)]
            start = time.perf_counter()
            for batch in batches:
                client.post_events(batch)
            rate = 20_000 / (time.perf_counter() - start)
            rows.append(("event ingestion, 20 batches of 1,000 state changes (500 task runs each, as the reporter sends them)", f"{rate:,.0f} per s",
                         "target: at least 10,000 per s"))
    finally:
        proc.stop()
    rows.append(("server start-up (process start to first answer)", f"{ready:.2f} s", "target: under 2 s"))
    rows.append(("server resident memory when idle", f"{idle_rss:.0f} MB", "target: under 100 MB"))
    table = "| measurement | value | note |\n|---|---|---|\n" + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)
    print(table)
    (pathlib.Path(__file__).parent / "results-backend.md").write_text(
        f"# Backend benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n\n{table}")


if __name__ == "__main__":
    quiet_logs()
    main()
