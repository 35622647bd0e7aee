"""Benchmark of the web UI's pages on a real history (issue 13), run by ``make bench``.

Seeds 10,000 flow runs and 1,000,000 task runs (with their states and some logs) into
SQLite and into PostgreSQL with bulk inserts (``executemany`` in one transaction;
``COPY``), starts a real server process on each, and times each page over HTTP:
dashboard, flows, a flow page, the run list (first page, a deep page, by state), a run
page (100 task runs), a task run page. Each time is the median of 7 requests after one
warm-up (so the DAG's layout, made once per graph, is not counted). Target: under 300 ms.

Prints a Markdown table and writes it to bench/results-ui.md. ``python -m bench.ui_pages
--runs 2000 --tasks 20`` for a quick look; ``--only sqlite``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time
from typing import Iterator

from bench import quiet_logs

DAY = 86400.0
FLOWS = 20
UPCOMING = 20  # Scheduled runs in the future, on top of the runs that ran
STATES_OF_A_DAY = ("Success", "Success", "Success", "Success", "Success", "Success", "Failed", "Success", "Cancelled", "Success")


def _graph(tasks: int) -> dict:
    slugs = [f"t{k}" for k in range(tasks)]
    return {"tasks": [{"slug": s, "name": s, "type": "FunctionTask"} for s in slugs],
            "edges": [{"upstream": a, "downstream": b, "key": "x", "mapped": False, "flattened": False} for a, b in zip(slugs, slugs[1:])]}


def seed(url: str, runs: int = 10_000, tasks_per_run: int = 100, task_states: bool = True, logs_per_run: int = 5, flows: int = FLOWS,
         map_size: int = 0, now: float | None = None) -> dict:
    """Fill an empty database at ``url`` (migrated here) with a history, fast.

    ``runs`` flow runs of ``flows`` flows that ran, created evenly over the last 29 days
    (the newest in the last 24 h, the last 5 still Running), each with ``tasks_per_run``
    task runs (two states each when ``task_states``) and ``logs_per_run`` log lines; and
    ``UPCOMING`` more, Scheduled in the future; with ``map_size``, one Running run ``run-map``
    whose task maps over that many children, half of them done. Returns what a page should show: the flow ids, a run
    id with its task runs, the 24-hour counts by state, the runs per flow.
    """
    from perfect_nb.server.db import Database
    from perfect_nb.server.db.migrate import upgrade

    now = time.time() if now is None else now
    db = Database(url)
    upgrade(db)
    db.dispose()
    graph = json.dumps(_graph(tasks_per_run))
    flows = [(f"flow-{f:02d}", "proj-0", f"pipeline-{f:02d}", 1, f"key{f}", "blob0", False, "{}", "[]", graph, None, "[]", None, now - 31 * DAY, True)
             for f in range(flows)]
    n_flows = len(flows)
    flow_runs, states, task_runs, task_state_rows, logs = [], [], [], [], []
    counts: dict[str, int] = {}
    per_flow: dict[str, int] = {}
    state_id = log_id = 0
    for i in range(runs + UPCOMING):
        run_id = f"run-{i:06d}"
        flow = flows[i % n_flows][0]
        created = now - (runs - i) / runs * 29 * DAY if i < runs else now - 60  # the newest last
        if i >= runs:
            state, start, end, scheduled = "Scheduled", None, None, now + (i - runs + 1) * 3600
        elif i >= runs - 5:
            state, start, end, scheduled = "Running", created + 1, None, created
        else:
            state, start, end, scheduled = STATES_OF_A_DAY[i % len(STATES_OF_A_DAY)], created + 1, created + 60, created
        if created >= now - DAY:
            counts[state] = counts.get(state, 0) + 1
        per_flow[flow] = per_flow.get(flow, 0) + 1
        message = "Some reference tasks failed." if state == "Failed" else None
        flow_runs.append((run_id, flow, f"pipeline-{i % n_flows:02d}", f"run {i}", '{"n": 3}', "[]", state, message, 3, 3, scheduled, start, end, created, end or created))
        for k, name in enumerate(["Scheduled"] + (["Running"] if start else []) + ([state] if end else [])):
            state_id += 1
            states.append((state_id, f"s-{run_id}-{k}", run_id, "", name, None, created + k))  # "": the flow run's own
        if start is None:
            continue
        for t in range(tasks_per_run):
            task_state = "Failed" if state == "Failed" and t == tasks_per_run - 1 else ("Running" if end is None and t == tasks_per_run - 1 else "Success")
            task_id = f"{run_id}-t{t}"
            t_end = start + t * 0.5 + 0.4 if task_state != "Running" else None
            task_runs.append((task_id, run_id, f"t{t}", f"t{t}", -1, task_state, None, 2, start + t * 0.5, t_end, t_end or start, 0))
            if task_states:
                for k, name in enumerate(("Running", task_state)[: 1 if task_state == "Running" else 2]):
                    state_id += 1
                    task_state_rows.append((state_id, f"s-{task_id}-{k}", run_id, task_id, name, None, start + t * 0.5 + k * 0.4))
        for k in range(logs_per_run):
            log_id += 1
            logs.append((log_id, f"l-{run_id}-{k}", run_id, f"{run_id}-t{k % max(tasks_per_run, 1)}" if tasks_per_run else None, 20, "perfect_nb.task", f"line {k} of run {i}", start + k))
    if map_size:  # one more run, still going: a mapped task of map_size children, half of them done
        map_run = "run-map"
        flow_runs.append((map_run, flows[0][0], flows[0][2], "a big map", "{}", "[]", "Running", None, 2, 2, now - 600, now - 600, None, now - 600, now))
        task_runs.append((f"{map_run}-t0", map_run, "t0", "t0", -1, "Mapped", None, 2, None, now - 590, now - 590, 0))
        for k in range(map_size):
            done = k < map_size // 2
            task_runs.append((f"{map_run}-t0-{k}", map_run, "t0", "t0", k, "Success" if done else ("Running" if k < map_size // 2 + 4 else "Pending"),
                              None, 2, now - 590 + k * 0.1, now - 590 + k * 0.1 + 0.05 if done else None, now, 0))
    tables = {
        "projects": (("id", "name", "description", "created"), [("proj-0", "proj", "", now - 31 * DAY)]),
        "flow_blobs": (("key", "data"), [("blob0", b"not a pickle: the pages never read it")]),
        "flows": (("id", "project_id", "name", "version", "key", "blob_key", "archived", "meta", "parameters", "graph", "schedule", "labels",
                   "idempotency_key", "created", "schedule_active"), flows),
        "flow_runs": (("id", "flow_id", "flow_name", "name", "parameters", "labels", "state", "message", "version", "seq", "scheduled_start_time",
                       "start_time", "end_time", "created", "updated"), flow_runs),
        "states": (("id", "event_id", "flow_run_id", "task_run_id", "state", "message", "timestamp"), states + task_state_rows),
        "task_runs": (("id", "flow_run_id", "task_slug", "task_name", "map_index", "state", "message", "seq", "start_time", "end_time", "updated", "lease"),
                      task_runs),
        "logs": (("id", "event_id", "flow_run_id", "task_run_id", "level", "name", "message", "timestamp"), logs),
    }
    _bulk(url, tables)
    shown = f"run-{runs - 10:06d}"  # a finished run, of the last day when there are enough runs
    return {"flow_ids": [f[0] for f in flows], "run_id": shown, "task_run_id": f"{shown}-t{max(tasks_per_run - 1, 0)}", "counts_24h": counts,
            "runs_per_flow": per_flow, "task_runs": len(task_runs), "runs": runs, "failed": sum(1 for r in flow_runs if r[6] == "Failed"), "map_size": map_size, "tasks_per_run": tasks_per_run}


def _bulk(url: str, tables: dict) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1])
        try:
            conn.execute("PRAGMA synchronous=OFF")
            with conn:
                for table, (columns, rows) in tables.items():
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
            conn.execute("ANALYZE")
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            for table, (columns, rows) in tables.items():
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            for table in ("states", "logs"):  # the ids were given: move the sequences on
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (Debian's postgresql package) with an empty database: its URL."""
    from tests.backend.conftest import _as_postgres, _pg_tool, free_port

    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError("PostgreSQL is not installed here (apt-get install postgresql)")
    folder = pathlib.Path(tempfile.mkdtemp(prefix="perfect_bench_pg_"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "bench"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "-l", str(folder / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        import psycopg

        with psycopg.connect(f"postgresql://bench@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute('CREATE DATABASE "ui"')
        yield f"postgresql+psycopg://bench@127.0.0.1:{port}/ui"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def pages(facts: dict) -> list[tuple[str, str]]:
    """(what, path) of the pages timed."""
    return [("dashboard", "/"), ("flows", "/flows"), ("projects", "/projects"), ("flow page (its DAG, tasks, 50 newest runs)", f"/flows/{facts['flow_ids'][0]}"),
            ("run list, first page", "/flow-runs"), ("run list, runs 5,001-5,100", "/flow-runs?offset=5000"), ("run list, Failed only", "/flow-runs?state=Failed"),
            (f"run page ({facts['tasks_per_run']} task runs)", f"/flow-runs/{facts['run_id']}"),
            ("task run page", f"/task-runs/{facts['task_run_id']}"), ("agents", "/agents")] + (
            [(f"run page of a running {facts['map_size']:,}-item map", "/flow-runs/run-map")] if facts.get("map_size") else [])


def time_pages(api: str, facts: dict, repeats: int = 7) -> list[tuple[str, float, float]]:
    """(page, median ms over HTTP, median server render ms from Server-Timing) after one warm-up."""
    import httpx

    out = []
    with httpx.Client(base_url=api, timeout=30) as http:
        for what, path in pages(facts):
            first = http.get(path)
            if first.status_code != 200:
                raise RuntimeError(f"{path} answered {first.status_code}: {first.text[:300]}")
            walls, renders = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                response = http.get(path)
                walls.append((time.perf_counter() - start) * 1000)
                renders.append(float(response.headers.get("server-timing", "render;dur=0").split("dur=")[1]))
            out.append((what, statistics.median(walls), statistics.median(renders)))
    return out


def measure(url: str, runs: int, tasks: int) -> tuple[float, list[tuple[str, float, float]]]:
    from tests.backend.conftest import ServerProcess

    home = pathlib.Path(tempfile.mkdtemp(prefix="perfect_bench_ui_"))
    start = time.perf_counter()
    facts = seed(url, runs=runs, tasks_per_run=tasks, map_size=5000)
    seeded = time.perf_counter() - start
    proc = ServerProcess(url, home).start(timeout=60)
    try:
        return seeded, time_pages(proc.api, facts)
    finally:
        proc.stop()
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ui_pages", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=100, help="task runs per flow run")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    results: dict[str, tuple[float, list]] = {}
    if args.only != "postgresql":
        folder = pathlib.Path(tempfile.mkdtemp(prefix="perfect_bench_sqlite_"))
        try:
            results["SQLite"] = measure(f"sqlite:///{folder / 'ui.db'}", args.runs, args.tasks)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.only != "sqlite":
        with postgres() as url:
            results["PostgreSQL"] = measure(url, args.runs, args.tasks)
    names = list(results)
    rows = [r[0] for r in next(iter(results.values()))[1]]
    head = "| page | " + " | ".join(f"{n}: ms (render ms)" for n in names) + " |\n|---|" + "---|" * len(names) + "\n"
    body = "".join(f"| {page} | " + " | ".join(f"{results[n][1][i][1]:.0f} ({results[n][1][i][2]:.0f})" for n in names) + " |\n" for i, page in enumerate(rows))
    seeded = "; ".join(f"{n} seeded in {results[n][0]:.0f} s" for n in names)
    table = head + body
    print(table)
    print(seeded)
    if args.runs == 10_000 and args.tasks == 100:
        (pathlib.Path(__file__).parent / "results-ui.md").write_text(
            f"# Web UI pages benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n\n"
            f"{args.runs:,} flow runs and {args.runs * args.tasks:,} task runs (with two states each), and one running 5,000-item map; median of 7 requests over HTTP "
            f"after a warm-up, the server's template rendering in brackets; target under 300 ms. {seeded}.\n\n{table}")


if __name__ == "__main__":
    quiet_logs()
    main()
