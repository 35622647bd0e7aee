"""Prefect 3 side by side with perfect_nb's backend and agent (issues 11 and 12).

Installs Prefect 3 into its own virtualenv, bench/.prefect3-venv, on first use
(like bench/prefect1.py does for Prefect 1.4.1); prefect is never imported here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from bench import quiet_logs
from bench.backend import N_TASKS

HERE = Path(__file__).resolve().parent
VENV = HERE / ".prefect3-venv"
REQUIREMENT = "prefect>=3,<4"
STAMP = VENV / ".installed"
LOG = HERE / ".prefect3-install.log"


def _step(what, cmd, timeout):
    """Run one install step, appending its output to LOG; raise RuntimeError on failure."""
    with LOG.open("a") as log:
        log.write(f"$ {' '.join(map(str, cmd))}\n")
        log.flush()
        try:
            subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=timeout)
        except (subprocess.SubprocessError, OSError) as exc:
            raise RuntimeError(f"{what} failed ({type(exc).__name__})") from exc


def ensure_prefect3() -> tuple[Path | None, str]:
    """Return ``(python, "")`` for the Prefect 3 venv, or ``(None, why it failed)``."""
    python = VENV / "bin" / "python"
    if python.exists() and STAMP.exists() and STAMP.read_text() == REQUIREMENT:
        return python, ""
    print(f"installing {REQUIREMENT} into {VENV} (first run only; log: {LOG})...", file=sys.stderr, flush=True)
    LOG.write_text("")
    try:
        _step("creating the venv", [sys.executable, "-m", "venv", "--clear", VENV], 300)
        _step("pip install", [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REQUIREMENT], 1800)
        _step("importing prefect", [python, "-c", "from prefect import flow, task, get_client"], 300)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in LOG.read_text().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines[-1:]
        return None, f"{exc}: " + "; ".join(ln[:160] for ln in errors[-2:])
    STAMP.write_text(REQUIREMENT)
    return python, ""


# ---------------------------------------------------------------- Prefect 3 scripts
# Written to a temporary folder and run with the Prefect 3 venv's interpreter.

FAN_IN = '''
import json, os, sys, time
import httpx
from prefect import flow, task
from prefect.runtime import flow_run

n, repeats, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

@task
def inc(x):
    return x + 1

@task
def total(xs):
    return sum(xs)

@flow
def fan_in(n: int):
    if mode == "submit":
        parts = [inc.submit(i) for i in range(n)]   # futures on the default ThreadPoolTaskRunner
    else:
        parts = [inc(i) for i in range(n)]          # direct calls, one after the other
    return total(parts), str(flow_run.id)

out = []
with httpx.Client(base_url=os.environ["PREFECT_API_URL"], timeout=30) as api:
    for _ in range(repeats):
        start = time.perf_counter()
        value, run_id = fan_in(n)
        returned = time.perf_counter() - start
        assert value == n * (n + 1) // 2, value
        query = {"flow_runs": {"id": {"any_": [run_id]}}, "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
        count = 0
        while time.perf_counter() - start < returned + 60:   # POST /task_runs/count, the REST API's count
            count = api.post("/task_runs/count", json=query).json()
            if count >= n + 1:
                break
            time.sleep(0.1)
        out.append({"returned": returned, "recorded": time.perf_counter() - start, "task_runs": count})
print("RESULT " + json.dumps(out))
'''

TEN = '''
from prefect import flow, task

@task
def step(x):
    return x + 1

@flow
def ten():
    x = 0
    for _ in range(10):
        x = step(x)
    return x
'''

DEPLOY = '''
import sys
from prefect import flow
flow.from_source(source=sys.argv[1], entrypoint="ten.py:ten").deploy(
    name="ten", work_pool_name=sys.argv[2], print_next_steps=False)
'''

PICKUP = '''
import json, sys, time
from prefect import get_client

with get_client(sync_client=True) as client:
    deployment = client.read_deployment_by_name("ten/ten")
    latencies = []
    for _ in range(int(sys.argv[1])):
        run = client.create_flow_run_from_deployment(deployment.id)
        deadline = time.time() + 120
        while time.time() < deadline:
            state = client.read_flow_run(run.id).state
            if state is not None and state.is_final():
                break
            time.sleep(0.1)
        first = {}
        for s in client.read_flow_run_states(run.id):
            first.setdefault(s.type.value, s.timestamp)
        latencies.append((first["RUNNING"] - first["SCHEDULED"]).total_seconds())
        print(json.dumps({"state": state.type.value if state else None, "latency": latencies[-1]}), flush=True)
print("RESULT " + json.dumps(latencies))
'''


# ---------------------------------------------------------------- running them

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Prefect3:
    """A Prefect 3 server on SQLite in a temporary PREFECT_HOME, and the processes around it."""

    def __init__(self, python: Path, work: Path) -> None:
        self.python, self.bin, self.work = python, python.parent, work
        home = work / "home"
        home.mkdir()
        port = _free_port()
        self.api = f"http://127.0.0.1:{port}/api"
        self.port = port
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERFECT_NB"))}
        self.env.update({
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",   # no telemetry on start-up (offline here)
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",   # never a temporary server: only ours
            "PREFECT_LOGGING_LEVEL": "WARNING",            # quiet consoles, as bench runs perfect_nb at ERROR
        })
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, cmd: list) -> subprocess.Popen:
        log = (self.work / f"{name}.log").open("w")
        proc = subprocess.Popen([str(c) for c in cmd], env=self.env, cwd=self.work, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_server(self) -> float:
        started = time.perf_counter()
        proc = self.start("server", [self.bin / "prefect", "server", "start", "--host", "127.0.0.1", "--port", self.port])
        while time.perf_counter() - started < 120:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server start exited with {proc.returncode}: {self.tail('server')}")
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the Prefect 3 server did not answer in 120 s: {self.tail('server')}")

    def script(self, name: str, text: str, *args, timeout: float = 900) -> str:
        path = self.work / f"{name}.py"
        path.write_text(text)
        done = subprocess.run([self.python, path, *map(str, args)], env=self.env, cwd=self.work,
                              capture_output=True, text=True, timeout=timeout)
        (self.work / f"{name}.log").write_text(done.stdout + done.stderr)
        if done.returncode:
            raise RuntimeError(f"{name}.py exited with {done.returncode}: {self.tail(name)}")
        return next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))[7:] if "RESULT " in done.stdout else ""

    def tail(self, name: str) -> str:
        lines = [ln for ln in (self.work / f"{name}.log").read_text().splitlines() if ln.strip()]
        return " / ".join(lines[-3:])[-400:]

    def stop(self) -> None:
        for proc in reversed(self.procs):   # worker first, then the server
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


def prefect3_side(python: Path, n_tasks: int, repeats: int, pickups: int) -> dict:
    """Run the Prefect 3 measurements; a missing piece is recorded under ``errors``, the rest kept."""
    work = Path(tempfile.mkdtemp(prefix="perfect_bench_prefect3_"))
    p3 = _Prefect3(python, work)
    out: dict = {"errors": [], "work": str(work)}
    try:
        out["server_ready"] = p3.start_server()
        try:
            (work / "flows").mkdir()
            (work / "flows" / "ten.py").write_text(TEN)
            subprocess.run([p3.bin / "prefect", "work-pool", "create", "bench", "--type", "process"], env=p3.env, cwd=work,
                           capture_output=True, timeout=300, check=True)
            worker = p3.start("worker", [p3.bin / "prefect", "worker", "start", "--pool", "bench", "--type", "process"])
            started = time.perf_counter()
            for attempt in range(3):   # a busy server may answer 503
                try:
                    p3.script("deploy", DEPLOY, work / "flows", "bench", timeout=300)
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
                    time.sleep(5)
            out["deploy_seconds"] = time.perf_counter() - started
            time.sleep(3.0)
            if worker.poll() is not None:
                raise RuntimeError(f"prefect worker start exited with {worker.returncode}: {p3.tail('worker')}")
            out["pickup"] = json.loads(p3.script("pickup", PICKUP, pickups, timeout=150 * pickups))
        except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            out["errors"].append(f"worker pickup: {exc}")
        for mode in ("submit", "call"):
            try:
                out[mode] = json.loads(p3.script(f"fan_in_{mode}", FAN_IN, n_tasks, repeats, mode))
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                out["errors"].append(f"fan-in ({mode}): {exc}")
        out["dropped"] = sum("dropping message" in ln for ln in (work / "server.log").read_text().splitlines())
    except RuntimeError as exc:
        out["errors"].append(f"server: {exc}")
    finally:
        p3.stop()
    return out


def our_side(pickups: int) -> dict:
    """perfect_nb's numbers from bench.backend and bench.agent, with their own server on SQLite."""
    from bench.agent import FLOW, pickup_latencies
    from bench.backend import fan_in_times
    from perfect_nb.cli.pyfile import load_flows
    from perfect_nb.client import Client
    from tests.backend.conftest import ServerProcess

    out = {}
    home = Path(tempfile.mkdtemp(prefix="perfect_bench_p3ours_"))
    server = ServerProcess(f"sqlite:///{home / 'server.db'}", home).start()
    try:
        with Client(api=server.api) as client:
            out["off"], out["on"] = fan_in_times(client)
    finally:
        server.stop()

    home = Path(tempfile.mkdtemp(prefix="perfect_bench_p3agent_"))
    os.environ["PERFECT_NB_HOME"] = str(home)
    server = ServerProcess(f"sqlite:///{home / 'server.db'}", home).start()
    env = {**server.env, "PERFECT_NB__BACKEND__API": server.api, "PERFECT_NB_LOGGING_LEVEL": "ERROR"}
    (home / "ten.py").write_text(textwrap.dedent(FLOW))
    agent = None
    try:
        with Client(api=server.api) as client:
            client.create_project("bench")
            (flow,) = load_flows(home / "ten.py").values()
            flow_id = client.register(flow, "bench")["id"]
            agent = subprocess.Popen([sys.executable, "-m", "perfect_nb", "agent", "local", "start"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(2.0)
            out["pickup"] = pickup_latencies(client, flow_id, pickups)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        server.stop()
    return out


def _x(a: float, b: float) -> str:
    return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def main() -> str:
    n, repeats, pickups = N_TASKS, 3, 8
    python, why = ensure_prefect3()
    version = ""
    if python is not None:
        version = subprocess.run([python, "-c", "import prefect; print(prefect.__version__)"],
                                 capture_output=True, text=True).stdout.strip()
    ours = our_side(pickups)
    theirs = prefect3_side(python, n, repeats, pickups) if python is not None else {"errors": [f"install: {why}"]}

    us_on = ours["on"] / n * 1e6
    us_over = (ours["on"] - ours["off"]) / n * 1e6
    rows = [("2,000-task fan-in, reporting off (perfect_nb only)", f"{ours['off'] / n * 1e6:.0f} us per task",
             "no such mode in Prefect 3", "")]
    for mode, how in (("submit", "`inc.submit(i)` futures, `total(futures)`"), ("call", "direct calls `inc(i)`, then `total(list)`")):
        if mode not in theirs:
            continue
        best = min(theirs[mode], key=lambda r: r["returned"])
        full = [r["recorded"] for r in theirs[mode] if r["task_runs"] >= n + 1]
        seen = ", ".join(f"{r['recorded']:.1f} s ({r['task_runs']:,} seen)" for r in theirs[mode])
        p3_us = best["returned"] / n * 1e6
        rows.append((f"same, recorded in its own server (SQLite), total per task; Prefect 3: {how}",
                     f"{us_on:.0f} us", f"{p3_us:,.0f} us", f"{_x(p3_us, us_on)} less"))
        rows.append((f"  per-task cost of recording: ours on minus off; Prefect 3 ({mode}): its whole per-task time (trivial body)",
                     f"{us_over:.1f} us", f"{p3_us:,.0f} us", f"{_x(p3_us, us_over)} less (target: at least 50x)"))
        rows.append((f"  from the flow's start until the server holds all 2,001 task runs Completed ({mode}; each run, "
                     "polled up to 60 s after the flow returned)",
                     f"{ours['on']:.2f} s (final flush included)", seen,
                     f"{_x(min(full), ours['on'])} less" if full else "Prefect 3 never got there"))
    if "pickup" in theirs:
        mine, p3 = statistics.median(ours["pickup"]), statistics.median(theirs["pickup"])
        rows.append((f"pickup latency, create to Running, one idle agent / process worker ({pickups} runs each)",
                     f"median {mine:.2f} s (worst {max(ours['pickup']):.2f})",
                     f"median {p3:.2f} s (worst {max(theirs['pickup']):.2f})", f"{_x(p3, mine)} less"))
    else:
        rows.append((f"pickup latency, create to Running ({pickups} runs)",
                     f"median {statistics.median(ours['pickup']):.2f} s", "not measured (see below)", ""))
    table = ("| measurement | perfect_nb | Prefect " + (version or "3") + " | perfect_nb vs Prefect 3 |\n|---|---|---|---|\n"
             + "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows))
    notes = [
        f"Both sides in one invocation of `python -m bench.prefect3`, on {os.cpu_count()} cores shared with other work: "
        f"perfect_nb's fan-in times are the best of 5 (bench.cache._best), Prefect 3's the best of {repeats} runs in one process; "
        "pickup latencies are medians of runs made one after the other, each timed from the server's own Scheduled and Running state timestamps.",
        "Prefect 3 always records: with PREFECT_API_URL unset its default profile starts a temporary server in a subprocess "
        "(still SQLite, still recorded), and with that switched off (PREFECT_SERVER_EPHEMERAL_ENABLED=false) a flow fails with "
        "'No Prefect API URL provided'. So its whole per-task time stands against our recording overhead.",
        "Prefect 3 ran against a real `prefect server start --host 127.0.0.1 --port <free port>` on SQLite, analytics and UI off, "
        "console logging at WARNING; its worker is `prefect worker start --pool bench --type process` with its default settings "
        f"(it polls every 10 s: PREFECT_WORKER_QUERY_SECONDS), the deployment `flow.from_source(<folder>, 'ten.py:ten').deploy(...)` of a 10-task flow.",
    ]
    if "server_ready" in theirs:
        notes.append(f"Prefect 3 server: ready (answering /api/health) {theirs['server_ready']:.1f} s after start"
                     + (f"; the deploy step took {theirs['deploy_seconds']:.1f} s" if "deploy_seconds" in theirs else "") + ".")
    notes.append("Prefect 3 records task runs from events that its server processes after the flow has returned; "
                 "its runs follow each other on one server, so a run's recording can wait behind the backlog of the run before it "
                 "(submit ran first, then call).")
    if theirs.get("dropped"):
        notes.append(f"The Prefect 3 server logged {theirs['dropped']:,} times 'Subscription queue is full, dropping message for "
                     "topic=\'events\'' during the fan-ins (its in-memory event queue holds 10,000): the 'task runs seen' "
                     "column says how many of the 2,001 task runs it ended up holding as Completed.")
    for err in theirs["errors"]:
        notes.append(f"FAILED, not measured: {err}")
    text = table + "\n" + "".join(f"- {ln}\n" for ln in notes)
    print(text)
    (HERE / "results-prefect3.md").write_text(
        f"# perfect_nb against Prefect {version or '3'} ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n\n{text}")
    return text


if __name__ == "__main__":
    quiet_logs()
    main()
