"""Smoke test of the benchmark harness (bench/): a quick chain run on plain and perfect_nb."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:
    from perfect_nb import Flow, task  # noqa: F401

    PERFECT_NB_MISSING = ""
except ImportError as exc:
    PERFECT_NB_MISSING = f"perfect_nb's Flow/task cannot be imported yet: {exc}"


@pytest.mark.skipif(bool(PERFECT_NB_MISSING), reason=PERFECT_NB_MISSING)
def test_quick_chain_reports_a_perfect_nb_time(tmp_path):
    out = tmp_path / "results.md"
    cmd = [sys.executable, "-m", "bench", "--quick", "--engines", "plain,perfect_nb",
           "--only", "chain", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|") for line in out.read_text().splitlines()
            if line.startswith("| chain |")]
    cells = {row[3].strip(): row[4].strip() for row in rows}
    assert float(cells["perfect_nb"].replace(",", "")) > 0
    assert float(cells["plain Python"].replace(",", "")) > 0
