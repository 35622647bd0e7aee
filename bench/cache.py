"""Benchmark of the notebook cache (issue 6), run by ``make bench`` after the engine table.

- re-running an unchanged 200-task ``%%perfect_flow`` cell (graph build plus 200 hits),
  against its first run;
- the cost of one cache hit, against one task run;
- keying a chain whose tasks pass a 10 MB and a 1 GB array: upstream data is never
  hashed again, so the cost does not grow with the array;
- what the snapshots cost on that chain (issue 15): a first run stores each result as a
  snapshot with a content id (one pickle pass and a SHA-256 per result, one copy per new
  value), against the same run without the cache; a re-run of it, all hits, hands out one
  copy of the array.

Prints a Markdown table and writes it to bench/results-cache.md.
"""

from __future__ import annotations

import os
import pathlib
import time

from bench import quiet_logs

CELL = "x = step(0)\n" + "".join("x = step(x)\n" for _ in range(199))
DEFINE = """
import numpy as np
from perfect_nb import task

@task
def step(x):
    return x + 1

@task
def make(n):
    return np.ones(n, dtype=np.uint8)

@task
def touch(a):
    return a
"""


def _best(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> str:
    from IPython.testing.globalipapp import get_ipython

    from perfect_nb.notebook.cache import get_cache

    ip = get_ipython()
    ip.run_line_magic("load_ext", "perfect_nb")
    ip.run_cell(DEFINE)
    ip.run_cell_magic("perfect_flow", "cell200 --no-run", CELL)
    first = _best(lambda: ip.run_cell_magic("perfect_flow", "cell200 --no-cache", CELL), repeats=3)
    rerun = _best(lambda: ip.run_cell_magic("perfect_flow", "cell200", CELL))
    states = {s.type for s in ip.user_ns["cell200"].last_run.result.values()}
    assert states == {"Cached"}, states
    flow, cache = ip.user_ns["cell200"], get_cache("cell200")
    hits = _best(lambda: flow.run(cache=cache.plan(flow)))
    runs = _best(lambda: flow.run())
    rows = [
        ("re-run unchanged 200-task cell (build + view + 200 hits)", rerun, f"{first / rerun:.1f}x faster than running it ({first:.3f} s)", "<= 0.2 s"),
        ("one cache hit (flow.run with 200 hits) / task", hits / 200, f"{runs / 200 * 1e6:.1f} us per task run without cache", "<= 50 us"),
    ]
    for size in (10_000_000, 1_000_000_000):
        name = f"array{size}"
        ip.user_ns["SIZE"] = size
        ip.run_cell_magic("perfect_flow", f"{name} --no-run", "a = make(SIZE)\nfor _ in range(5):\n    a = touch(a)\n")
        arrays, store = ip.user_ns[name], get_cache(name)
        plain = _best(lambda: arrays.run(), repeats=2)
        start = time.perf_counter()
        arrays.run(cache=store.plan(arrays))
        first_run = time.perf_counter() - start
        keying = _best(lambda: store.plan(arrays))
        all_hits = _best(lambda: arrays.run(cache=store.plan(arrays)), repeats=2)
        mb = f"{size / 1e6:,.0f} MB"
        rows.append((f"keying a 6-task chain passing a {mb} array", keying, "independent of the array size", "same at 10 MB and 1 GB"))
        rows.append((f"first run of that chain ({mb}): 6 snapshots and ids", first_run, f"{plain:.3f} s without the cache", "one pickle + SHA-256 per result"))
        rows.append((f"re-run of that chain ({mb}), all hits", all_hits, "one copy of the array handed out", "one copy"))
    lines = ["# notebook cache benchmark", "", f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores", "",
             "| measurement | seconds | compared with | target |", "|---|---:|---|---|"]
    lines += [f"| {what} | {seconds:.6f} | {versus} | {target} |" for what, seconds, versus, target in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    quiet_logs()
    table = main()
    print(table)
    pathlib.Path(__file__).with_name("results-cache.md").write_text(table)
