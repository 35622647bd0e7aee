"""``python -m bench``: run every workload on every engine and write a Markdown report.

Examples: ``python -m bench``; ``python -m bench --quick --engines plain,perfect_nb
--only chain``; ``python -m bench --all`` (Prefect 1 and dask.delayed on map_100k too: slow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.engines import ENGINES, LABELS, PlainAPI
from bench.prefect1 import ensure_prefect1
from bench.report import machine_header, tables
from bench.runner import measure, run_once
from bench.workloads import WORKLOADS

HERE = Path(__file__).resolve().parent
NOTES = [
    "seconds: best of `runs`, each building the flow and running it (`flow.run()`, "
    "LocalExecutor) in a fresh subprocess per engine and workload; import time not included",
    "overhead µs/task = (engine seconds - plain Python seconds) / n, n = items (the one "
    "reducer task is not counted); "
    "peak RSS = ru_maxrss of that subprocess",
    'dask.delayed uses `scheduler="sync"` for LocalExecutor workloads: one thread like '
    "LocalExecutor, so it measures graph and scheduling overhead without thread hand-offs",
    "dask.delayed's cost grows faster than linearly with graph size (each call merges and "
    "culls its arguments' graphs), which is why it is skipped on map_100k without `--all`",
    "skip estimates assume linear scaling from the engine's largest measured workload "
    "on the same kind of executor",
    "`cluster` workloads run on a scheduler and 2 single-threaded workers, each in its own "
    "process, started before the timing (bench/cluster.py); their peak RSS is VmHWM",
]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, 1 repeat (smoke test)")
    p.add_argument("--only", help=f"comma-separated workloads: {', '.join(WORKLOADS)}")
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines")
    p.add_argument("--all", action="store_true", help="also run slow engines (map_100k on Prefect 1, dask)")
    p.add_argument("--repeats", type=int, help="override every workload's repeat count")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    p.add_argument("--out", type=Path, help="report path (default bench/results.md, "
                   "bench/results-quick.md with --quick)")
    args = p.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.only = [w.strip() for w in args.only.split(",")] if args.only else list(WORKLOADS)
    for name, known in [(args.engines, ENGINES), (args.only, WORKLOADS)]:
        if bad := [x for x in name if x not in known]:
            p.error(f"unknown {', '.join(bad)}; choose from {', '.join(known)}")
    args.out = args.out or HERE / ("results-quick.md" if args.quick else "results.md")
    return args


def estimate(rows, engine, size, kind):
    """'skipped (est. ≥ N min)' from the engine's per-task time on its largest workload
    on the same kind of executor (any kind if it has none)."""
    done = [r for r in rows if r["engine"] == engine and "seconds" in r]
    done = [r for r in done if WORKLOADS[r["workload"]].executor.kind == kind] or done
    if not done:
        return "skipped (`--all` runs it)"
    biggest = max(done, key=lambda r: r["size"])
    minutes = biggest["seconds"] / biggest["size"] * size / 60
    return f"skipped (est. ≥ {minutes:.0f} min; `--all` runs it)"


def run_row(workload, engine, python, size, args, rows) -> dict:
    """Measure (or skip) one workload on one engine; print a progress line."""
    row = {"workload": workload.name, "size": size, "engine": engine}
    if engine in workload.slow and not (args.all or args.quick):
        row["skipped"] = estimate(rows, engine, size, workload.executor.kind)
    else:
        row["repeats"] = args.repeats or (1 if args.quick else workload.repeats)
        row.update(measure(python, engine, workload.name, size, row["repeats"], args.timeout))
    shown = row.get("skipped") or row.get("error") or f"{row['seconds']:.4f} s"
    print(f"{workload.name:>10} n={size:<7,} {LABELS[engine]:<14} {shown}",
          file=sys.stderr, flush=True)
    if "error" in row and row.get("stderr"):
        print(row["stderr"], file=sys.stderr)
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    pythons = {e: Path(sys.executable) for e in args.engines}
    notes = []
    if "prefect" in pythons:
        python, why = ensure_prefect1()
        if python is None:
            print(f"Prefect 1.4.1 could not be installed, skipping it: {why}", file=sys.stderr)
            notes.append(f"Prefect 1.4.1 column missing: install failed ({why})")
            del pythons["prefect"]
        else:
            pythons["prefect"] = python
    rows, versions = [], {}
    for workload in (WORKLOADS[name] for name in args.only):
        size = workload.quick_size if args.quick else workload.size
        expected = repr(run_once(PlainAPI(), workload, size))
        for engine, python in pythons.items():
            row = run_row(workload, engine, python, size, args, rows)
            if "result" in row and row["result"] != expected:
                row["error"] = f"wrong result {row['result'][:40]}, expected {expected[:40]}"
            if "version" in row:
                versions.setdefault(engine, row["version"])
            rows.append(row)
    report = "\n".join(machine_header(versions, NOTES + notes) + [""] + tables(rows)) + "\n"
    print(report)
    args.out.write_text(report)
    print(f"written to {args.out}", file=sys.stderr)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
