"""Markdown report: machine header, one row per workload and engine, overhead ratios."""

from __future__ import annotations

import datetime
import math
import os
import platform

from bench.engines import LABELS


def machine_header(versions: dict[str, str], notes: list[str]) -> list[str]:
    """Date, cores, CPU, Python and engine versions, plus free-form notes."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    engines = ", ".join(f"{'python' if e == 'plain' else e} {v}" for e, v in versions.items())
    lines = [
        "# perfect_nb benchmark",
        "",
        f"- date: {now}",
        f"- machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.machine()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); "
        f"measured versions: {engines}",
    ]
    return lines + [f"- {note}" for note in notes]


def _num(x: float) -> str:
    """Three significant digits, never in exponent notation: 0.000123, 1.23, 12,345."""
    if x == 0 or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{2 - math.floor(math.log10(abs(x)))}f}"


def _overhead(rows, workload, engine):
    """Per-task overhead in microseconds, or None when it cannot be computed."""
    found = {r["engine"]: r for r in rows if r["workload"] == workload}
    row, plain = found.get(engine), found.get("plain")
    if not row or not plain or "seconds" not in row or "seconds" not in plain:
        return None
    return (row["seconds"] - plain["seconds"]) / row["size"] * 1e6


def _cluster_rss(row) -> str:
    """'scheduler 95; workers 88, 87' for a workload on a running cluster, else ''."""
    peaks = row.get("cluster_rss_mb")
    if not peaks:
        return ""
    workers = ", ".join("?" if w is None else f"{w:.0f}" for w in peaks["workers"])
    scheduler = "?" if peaks["scheduler"] is None else f"{peaks['scheduler']:.0f}"
    return f"scheduler {scheduler}; workers {workers}"


def _ratio(rows, workload, engine):
    mine, ours = _overhead(rows, workload, engine), _overhead(rows, workload, "perfect_nb")
    if mine is None or ours is None or ours <= 0:
        return "n/a"
    return f"{mine / ours:,.1f}×"


def tables(rows: list[dict]) -> list[str]:
    """The results table and the ratio table, as Markdown lines."""
    out = [
        "| workload | n | engine | seconds | overhead µs/task | peak RSS MB | import s | runs "
        "| cluster peak RSS MB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        head = f"| {r['workload']} | {r['size']:,} | {LABELS[r['engine']]} |"
        if "skipped" in r:
            out.append(f"{head} {r['skipped']} | | | | | |")
        elif "error" in r:
            out.append(f"{head} error: {r['error'][:120].replace('|', '/')} | | | | | |")
        else:
            over = _overhead(rows, r["workload"], r["engine"])
            over_s = "—" if r["engine"] == "plain" or over is None else _num(over)
            out.append(f"{head} {_num(r['seconds'])} | {over_s} | {r['rss_mb']:.0f} "
                       f"| {r['import_s']:.2f} | {r['repeats']} | {_cluster_rss(r)} |")
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    out += [
        "",
        "| workload | Prefect 1 / perfect_nb | dask.delayed / perfect_nb |",
        "|---|---:|---:|",
    ]
    out += [f"| {w} | {_ratio(rows, w, 'prefect')} | {_ratio(rows, w, 'dask')} |"
            for w in workloads]
    return out
