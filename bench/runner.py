"""One measurement in a fresh interpreter: ``python -m bench.runner ENGINE WORKLOAD SIZE REPEATS``.

The child imports the engine (timed separately), runs the workload REPEATS times, each
timed from building the flow to the end of ``flow.run()``, and prints one JSON line
prefixed with ``MARK``: best and all times, peak RSS of the process (and of the
scheduler and workers of a ``cluster`` workload, started before the timing), result, versions.
``measure`` is the parent side: it starts that child and parses its line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

MARK = "BENCH-RESULT "
ROOT = Path(__file__).resolve().parent.parent
QUIET = {"PREFECT__LOGGING__LEVEL": "ERROR", "PERFECT_NB_LOGGING_LEVEL": "ERROR"}


def run_once(api, workload, size, executor=None):
    """Build and run the workload once (on ``executor``, default the workload's); return its result."""
    flow, handle = workload.fn(api, size)
    return api.run(flow, handle, executor or workload.executor)


def child(engine, name, size, repeats):
    """Measure in this process and print the result line."""
    from bench.cluster import running_cluster
    from bench.engines import make_api
    from bench.workloads import WORKLOADS

    workload = WORKLOADS[name]
    start = time.perf_counter()
    api = make_api(engine)
    import_s = time.perf_counter() - start
    with contextlib.ExitStack() as stack:
        executor, cluster = workload.executor, None
        if executor.kind == "cluster" and engine != "plain":
            cluster = stack.enter_context(running_cluster(executor.workers))
            executor = dataclasses.replace(executor, address=cluster.address)
        for _ in range(workload.warmup):
            run_once(api, workload, size, executor)
        times, value = [], None
        for _ in range(repeats):
            value = None
            gc.collect()
            start = time.perf_counter()
            value = run_once(api, workload, size, executor)
            times.append(time.perf_counter() - start)
        cluster_rss = cluster.peak_rss_mb() if cluster else None
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {
        "seconds": min(times),
        "times": times,
        "import_s": import_s,
        "rss_mb": peak_kb / 1024,
        "result": repr(value),
        "version": api.version,
    }
    if cluster_rss:
        out["cluster_rss_mb"] = cluster_rss
    print(MARK + json.dumps(out), flush=True)


def measure(python, engine, name, size, repeats, timeout):
    """Run one child; return its result dict, or ``{"error": reason}``."""
    cmd = [str(python), "-m", "bench.runner", engine, name, str(size), str(repeats)]
    env = {**os.environ, **QUIET}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return {"error": lines[-1].strip() if lines else f"exit code {proc.returncode}",
            "stderr": proc.stderr[-4000:]}


if __name__ == "__main__":
    engine_arg, name_arg, size_arg, repeats_arg = sys.argv[1:5]
    child(engine_arg, name_arg, int(size_arg), int(repeats_arg))
