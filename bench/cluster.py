"""A dask.distributed cluster that is already running when the timing starts.

``running_cluster(workers)`` starts a scheduler and ``workers`` single-threaded workers,
each in a process of its own (``python -m distributed.cli.dask_scheduler`` and
``dask_worker --no-nanny``), like a cluster a user connects to with an address. The
timed flow run then pays for the executor, not for starting processes, and each
process's peak memory can be read afterwards::

    with running_cluster(2) as cluster:
        flow.run(executor=DaskExecutor(cluster.address))
        cluster.peak_rss_mb()   # {"scheduler": 95.1, "workers": [88.0, 87.6]}
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

START_TIMEOUT = 60.0


@dataclass
class RunningCluster:
    """Its scheduler ``address`` and the processes behind it."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]

    def peak_rss_mb(self) -> dict:
        """Peak resident memory (VmHWM) of the scheduler and of each worker, in MB."""
        return {"scheduler": _peak_mb(self.scheduler.pid),
                "workers": [_peak_mb(w.pid) for w in self.workers]}


def _peak_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None  # not Linux, or the process is gone
    return kb / 1024


def _wait_for(path: Path, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dask scheduler exited with code {proc.returncode}")
        with contextlib.suppress(OSError, ValueError, KeyError):
            return json.loads(path.read_text())["address"]
        time.sleep(0.05)
    raise RuntimeError(f"the dask scheduler did not start within {START_TIMEOUT:.0f} s")


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT) as client:
        client.wait_for_workers(count, timeout=START_TIMEOUT)


@contextlib.contextmanager
def running_cluster(workers: int, python: str = sys.executable) -> Iterator[RunningCluster]:
    """Start the cluster, yield it, then stop every process it started."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        info = Path(tmp) / "scheduler.json"
        try:
            scheduler = subprocess.Popen(
                [python, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--no-dashboard", "--scheduler-file", str(info)], **quiet)
            procs.append(scheduler)
            address = _wait_for(info, scheduler)
            for _ in range(workers):
                procs.append(subprocess.Popen(
                    [python, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                     "--nthreads", "1", "--no-nanny", "--no-dashboard"], **quiet))
            _wait_for_workers(address, workers)
            yield RunningCluster(address, scheduler, procs[1:])
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
