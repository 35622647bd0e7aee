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


def _step(what, cmd, timeout):
    """Run one install step, appending its output to LOG; raise RuntimeError on failure."""
    with LOG.open("a") as log:
        log.write(f"$ {' '.join(map(str, cmd))}\n")
        log.flush()
        try:
            subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True,
                           timeout=timeout)
        except (subprocess.SubprocessError, OSError) as exc:
            raise RuntimeError(f"{what} failed ({type(exc).__name__})") from exc


def ensure_prefect1() -> tuple[Path | None, str]:
    """Return ``(python, "")`` for the Prefect 1 venv, or ``(None, why it failed)``."""
    python = VENV / "bin" / "python"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python, ""
    print(f"installing Prefect 1.4.1 into {VENV} (first run only; log: {LOG})...",
          file=sys.stderr, flush=True)
    LOG.write_text("")
    try:
        _step("creating the venv", [sys.executable, "-m", "venv", "--clear", VENV], 300)
        _step("pip install", [python, "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "-r", REQUIREMENTS], 1200)
        _step("importing prefect", [python, "-c", "from prefect import task, Flow, unmapped"],
              300)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in LOG.read_text().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines[-1:]
        return None, f"{exc}: " + "; ".join(ln[:160] for ln in errors[-2:])
    STAMP.write_text(wanted)
    return python, ""
