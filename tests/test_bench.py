"""Smoke test of the benchmark harness (bench/): a quick chain run on plain and perfect_nb."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_report(tmp_path, workload: str) -> str:
    """The report of ``python -m bench --quick`` on plain Python and perfect_nb."""
    out = tmp_path / "results.md"
    cmd = [sys.executable, "-m", "bench", "--quick", "--engines", "plain,perfect_nb",
           "--only", workload, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out.read_text()


def test_quick_chain_reports_a_perfect_nb_time(tmp_path):
    report = _quick_report(tmp_path, "chain")
    rows = [line.split("|") for line in report.splitlines() if line.startswith("| chain |")]
    cells = {row[3].strip(): row[4].strip() for row in rows}
    assert float(cells["perfect_nb"].replace(",", "")) > 0
    assert float(cells["plain Python"].replace(",", "")) > 0


def test_quick_cluster_map_reports_scheduler_and_worker_memory(tmp_path):
    report = _quick_report(tmp_path, "map_5k_cluster2")
    row = next(line.split("|") for line in report.splitlines()
               if line.startswith("| map_5k_cluster2 |") and "perfect_nb" in line)
    assert float(row[4].replace(",", "")) > 0
    memory = row[9].strip()  # "scheduler 70; workers 68, 69": measured, not left blank
    assert memory.startswith("scheduler ") and memory.count(",") == 1 and "?" not in memory


def test_importing_bench_modules_leaves_the_environment_as_it_was():
    """Tests import bench.ui_pages to seed databases; a module that quieted logs on import
    left PERFECT_NB_LOGGING_LEVEL=ERROR for every later test, notebook kernel and worker."""
    code = ("import importlib, os, pkgutil, bench; before = dict(os.environ)\n"
            "names = [m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != '__main__']\n"
            "for name in names: importlib.import_module('bench.' + name)\n"
            "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
            "print(len(names), changed)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    count, changed = proc.stdout.split(" ", 1)
    assert int(count) >= 5 and changed.strip() == "[]"
