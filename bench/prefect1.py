"""Install Prefect 1.4.1 into its own virtualenv, bench/.prefect1-venv, on first use.

The pins live in bench/prefect1-requirements.txt; the venv is rebuilt when they change.
It uses the interpreter running the benchmark, so both flow engines run on the same Python.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".prefect1-venv"
REQUIREMENTS = HERE / "prefect1-requirements.txt"
STAMP = VENV / ".installed"
LOG = HERE / ".prefect1-install.log"


def _step(cmd, timeout):
    """Run one install step, appending its output to LOG; raise on failure."""
    with LOG.open("a") as log:
        log.write(f"$ {' '.join(map(str, cmd))}\n")
        log.flush()
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=timeout)


def ensure_prefect1() -> tuple[Path | None, str]:
    """Return ``(python, "")`` for the Prefect 1 venv, or ``(None, why it failed)``."""
    python = VENV / "bin" / "python"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python, ""
    print(f"installing Prefect 1.4.1 into {VENV.relative_to(HERE.parent)} (once; log in "
          f"{LOG.relative_to(HERE.parent)})...", file=sys.stderr, flush=True)
    LOG.write_text("")
    try:
        _step([sys.executable, "-m", "venv", "--clear", VENV], 300)
        _step([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "-r", REQUIREMENTS], 1200)
        _step([python, "-c", "import prefect; from prefect import task, Flow, unmapped"], 300)
    except (subprocess.SubprocessError, OSError) as exc:
        tail = [ln for ln in LOG.read_text().splitlines() if ln.strip()][-3:]
        return None, f"{exc}; last log lines: {' / '.join(tail)}"
    STAMP.write_text(wanted)
    return python, ""
