"""The backend's commands, as a user types them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PERFECT = [sys.executable, "-m", "perfect_nb"]


def perfect(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*PERFECT, *args], capture_output=True, text=True, timeout=120, env=env, input=stdin)


def test_backend_server_writes_the_config_and_status_answers(server, home):
    out = perfect("backend", "server", "--api", server.api)
    assert out.returncode == 0 and server.api in out.stdout
    from perfect_nb.configuration import load_config

    assert (load_config().backend.kind, load_config().backend.api) == ("server", server.api)
    status = perfect("server", "status")
    assert status.returncode == 0 and status.stdout.startswith("Yes:")
    assert perfect("backend", "none").returncode == 0 and load_config().backend.kind == "none"


def test_status_without_a_server_says_how_to_start_one(home):
    out = perfect("server", "status", "--api", "http://127.0.0.1:9")
    assert out.returncode == 1 and "perfect server start" in out.stdout


def test_create_project_twice(server, home):
    env = {**server.env, "PERFECT_NB__BACKEND__API": server.api}
    assert perfect("create", "project", "p", env=env).returncode == 0
    again = perfect("create", "project", "p", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert perfect("create", "project", "p", "--skip-if-exists", env=env).returncode == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_database_upgrade_and_reset(database_url, home):
    from perfect_nb.server.db.migrate import head_revision

    up = perfect("server", "database", "upgrade", "--database-url", database_url)
    assert up.returncode == 0 and f"revision {head_revision()}" in up.stdout
    refused = perfect("server", "database", "reset", "--database-url", database_url, stdin="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert perfect("server", "database", "reset", "--database-url", database_url, "--yes").returncode == 0


def test_run_needs_a_file_or_a_name(home):
    out = perfect("run")
    assert out.returncode == 2 and "--name FLOW" in out.stderr
    out = perfect("run", "x.py", "--watch")
    assert out.returncode == 2 and "go with --name" in out.stderr


def test_register_a_notebooks_flows_builds_them_without_running(server, tmp_path):
    import nbformat

    marker = tmp_path / "ran"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from perfect_nb import task\n@task\ndef touch(n):\n    open(%r, 'w').write('x')\n    return n" % str(marker)),
        nbformat.v4.new_code_cell("%%perfect_flow touched\ntouch(n)"),
        nbformat.v4.new_code_cell("n = 2"),
    ]
    nb.cells.insert(1, nbformat.v4.new_code_cell("from perfect_nb import Parameter\nn = Parameter('n', default=1)"))
    path = tmp_path / "flows.ipynb"
    nbformat.write(nb, path)
    env = {**server.env, "PERFECT_NB__BACKEND__API": server.api}
    assert perfect("create", "project", "nb", env=env).returncode == 0
    out = perfect("register", "--project", "nb", "-p", str(path), env=env)
    assert out.returncode == 0, out.stderr
    assert "'touched' in project 'nb': registered as version 1" in out.stdout
    assert not marker.exists(), "registering builds the flow; it does not run it"


def test_magic_register_flag_registers_the_cells_flow(server, ip, monkeypatch, capsys):
    from IPython.core.error import UsageError

    from perfect_nb.client import Client

    monkeypatch.setenv("PERFECT_NB__BACKEND__API", server.api)
    with Client(api=server.api) as client:
        client.create_project("nb")
        ip.run_cell("from perfect_nb import task\n@task\ndef one():\n    return 1")
        ip.run_cell_magic("perfect_flow", "magicflow --no-run --register nb", "one()")
        assert "registered as version 1" in capsys.readouterr().out
        assert [f["name"] for f in client.request("GET", "/flows", params={"project": "nb"})] == ["magicflow"]
        with pytest.raises(UsageError, match="--register nope: .*'nope'"):
            ip.run_cell_magic("perfect_flow", "magicflow --no-run --register nope", "one()")


def test_a_bad_server_setting_is_one_line_naming_the_key(home):
    env = {**os.environ, "PERFECT_NB__SERVER__HEARTBEAT_SECONDS": "abc"}
    out = subprocess.run([sys.executable, "-m", "perfect_nb", "server", "start", "--port", "9"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "heartbeat_seconds must be a positive number, got 'abc'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_perfect_backend_magic_shows_and_switches_the_backend(ip, server, capsys):
    ip.run_line_magic("perfect_backend", "")
    assert "Backend: none; runs are not recorded" in capsys.readouterr().out
    ip.run_line_magic("perfect_backend", f"server --api {server.api}")
    shown = capsys.readouterr().out
    assert f"Backend: server at {server.api} (perfect_nb" in shown and "is recorded there" in shown
    ip.run_line_magic("perfect_backend", "server --api http://127.0.0.1:9")
    assert "http://127.0.0.1:9, which does not answer" in capsys.readouterr().out
    ip.run_line_magic("perfect_backend", "none")
    assert "Backend: none" in capsys.readouterr().out
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--api goes with `server`"):
        ip.run_line_magic("perfect_backend", "none --api http://x")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_recorded_notebook_run_links_to_its_run_page(ip, server, client):
    import httpx

    from perfect_nb.notebook import views

    ip.run_line_magic("perfect_backend", f"server --api {server.api}")
    try:
        ip.run_cell("from perfect_nb import task\n@task\ndef one():\n    return 1\n")
        ip.run_cell_magic("perfect_flow", "linked", "one()\n")
        summary = views["linked"].summary.value
        (run,) = client.flow_runs(flow_name="linked")
        url = f"{server.api}/flow-runs/{run.id}"
        assert f"href='{url}'" in summary
        assert httpx.get(url).status_code == 200, "the link opens the run's page"
    finally:
        ip.run_line_magic("perfect_backend", "none")
    ip.run_cell_magic("perfect_flow", "linked", "one()\n")
    assert "pnb-run-link" not in views["linked"].summary.value, "an unrecorded run has no link"
