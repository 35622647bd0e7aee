"""Real backend parts: a PostgreSQL server started here, a perfect_nb server process on a free port.

Every test that takes ``server`` (or ``database_url``) runs twice: on SQLite and on
PostgreSQL. PostgreSQL comes from Debian's ``postgresql`` package (``.ci/run``
installs it); initdb refuses root, so as root the cluster runs as the ``postgres`` user.
On a machine without it the PostgreSQL half is skipped with the reason, except in CI
(``CI=true``), where it fails.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return None


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL cluster for the session: ``postgresql+psycopg://test@127.0.0.1:PORT``."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run should have installed Debian's postgresql package.")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); the SQLite half still runs.")
    folder = Path(tempfile.mkdtemp(prefix="perfect_pg_"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "test"]), check=True, capture_output=True)
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "-l", str(folder / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://test@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


_db_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A new, empty database for one test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    import psycopg

    base = request.getfixturevalue("postgres_url")
    name = f"t{os.getpid()}_{next(_db_numbers)}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


class ServerProcess:
    """``perfect server start`` in its own process, on a free 127.0.0.1 port."""

    def __init__(self, database_url: str, home: Path, env: dict | None = None, port: int | None = None) -> None:
        self.database_url, self.home = database_url, home
        self.port = port or free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = home / f"server-{self.port}.log"

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFECT_NB__", "PREFECT__"))}
        return {**env, "PERFECT_NB_HOME": str(self.home), **self.extra_env}

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        cmd = [sys.executable, "-m", "perfect_nb", "server", "start", "--port", str(self.port), "--database-url", self.database_url]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.api}/api/health", timeout=1, headers=self.headers).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer within {timeout} s: {self.log.read_text()}")

    @property
    def headers(self) -> dict:
        token = self.extra_env.get("PERFECT_NB__SERVER__TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty $PERFECT_NB_HOME for this test (and the processes it starts)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("PERFECT_NB_HOME", str(folder))
    return folder


@pytest.fixture
def server(database_url, home):
    proc = ServerProcess(database_url, home).start()
    yield proc
    proc.stop()


@pytest.fixture
def client(server):
    from perfect_nb.client import Client

    with Client(api=server.api) as c:
        yield c
