"""Faults of the disk cache never break a cell: a warning, the result kept in memory, the run goes on.

The faults are real: a folder where an entry should be, a cache folder that is a file,
a disk that is full (a 64 kB tmpfs mounted in a private mount namespace) and a file size
limit (RLIMIT_FSIZE) reached while a result is written.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from perfect_nb.notebook import caches

TASKS = """
from perfect_nb import task
ran = []

@task
def extract():
    ran.append("extract")
    return list(range(5))

@task
def total(xs):
    ran.append("total")
    return sum(xs)
"""

BODY = "result = total(extract())\n"


def run_flow(ip, line="faults --persist"):
    ip.user_ns["ran"].clear()
    outcome = ip.run_cell(f"%%perfect_flow {line}\n{BODY}")
    assert outcome.error_in_exec is None and outcome.error_before_exec is None, outcome.error_in_exec
    state = ip.user_ns[line.split()[0]].last_run
    return sorted(ip.user_ns["ran"]), {t.name: (s.type, s.result) for t, s in state.result.items()}


@pytest.fixture
def nb(ip, run_cell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cell(TASKS)
    return ip


def entries(tmp_path):
    return sorted((tmp_path / ".perfect_cache" / "faults").glob("*.pkl"))


def test_an_entry_replaced_by_a_folder_is_a_warning_and_the_result_stays_in_memory(nb, tmp_path, perfect_nb_log):
    run_flow(nb)
    assert len(entries(tmp_path)) == 2
    caches.clear()  # a kernel restart
    for path in entries(tmp_path):
        path.unlink()
        path.mkdir()
        (path / "something.txt").write_text("a user's file")
    ran, states = run_flow(nb)
    assert ran == ["extract", "total"]
    assert states["total"] == ("Success", 10)
    assert "folder" in perfect_nb_log.text and "kept in memory" in perfect_nb_log.text
    ran, states = run_flow(nb)  # the same kernel: served from memory
    assert ran == [] and states["total"] == ("Cached", 10)
    assert all((path / "something.txt").exists() for path in entries(tmp_path))  # nothing of the user's removed


def test_clearing_a_cache_whose_entry_is_a_folder_goes_on(nb, tmp_path, perfect_nb_log):
    run_flow(nb)
    for path in entries(tmp_path):
        path.unlink()
        path.mkdir()
    outcome = nb.run_cell("%perfect_cache clear faults")
    assert outcome.error_in_exec is None
    assert "cannot be removed" in perfect_nb_log.text
    assert run_flow(nb)[0] == ["extract", "total"]


def test_a_cache_folder_that_is_a_file_is_a_warning(nb, tmp_path, perfect_nb_log):
    (tmp_path / ".perfect_cache").write_text("not a folder")
    ran, states = run_flow(nb)
    assert ran == ["extract", "total"] and states["total"] == ("Success", 10)
    assert "kept in memory" in perfect_nb_log.text
    assert run_flow(nb)[0] == []


FULL_DISK = textwrap.dedent(
    """
    import logging, os, sys
    from perfect_nb import Flow, task
    from perfect_nb.notebook.cache import config, get_cache

    config.directory = sys.argv[1]
    ran = []

    @task
    def big():
        ran.append("big")
        return os.urandom(200_000)  # larger than the disk / the file size limit

    @task
    def size(data):
        ran.append("size")
        return len(data)

    with Flow("full") as flow:
        n = size(big())
    for attempt in range(2):
        state = flow.run(cache=get_cache("full", persist=True).plan(flow))
        print(attempt, state.type, state.result[n].type, state.result[n].result, sorted(ran))
        ran.clear()
    print("left on disk:", sorted(p.name for p in os.scandir(os.path.join(sys.argv[1], "full")) if p.name.startswith(".tmp")))
    """
)


def _run_full(argv, folder, **kwargs):
    out = subprocess.run([*argv, sys.executable, "-c", FULL_DISK, str(folder)], capture_output=True, text=True, timeout=60, **kwargs)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines(), out.stderr


def _check_full(lines, stderr):
    assert lines[0] == "0 Success Success 200000 ['big', 'size']"
    assert lines[1] == "1 Success Cached 200000 []"  # kept in memory: the second run is a hit
    assert lines[2] == "left on disk: []"  # no half-written temporary file
    assert "kept in memory" in stderr
    assert stderr.count("kept in memory") == 1  # one warning per store and kind of fault, not per result


def test_a_full_disk_while_persisting_is_a_warning(tmp_path):
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare(1) and mount(8) to mount a small tmpfs")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    folder = tmp_path / "disk"
    folder.mkdir()
    script = f'mount -t tmpfs -o size=64k tmpfs {folder} && exec "$@"'
    lines, stderr = _run_full(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"], folder)
    assert "No space left on device" in stderr
    _check_full(lines, stderr)


def test_a_file_size_limit_while_persisting_is_a_warning(tmp_path):
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    lines, stderr = _run_full([], tmp_path, preexec_fn=limit)
    assert "File too large" in stderr
    _check_full(lines, stderr)


def test_an_unreadable_entry_is_a_miss_with_a_warning(nb, tmp_path, perfect_nb_log):
    run_flow(nb)
    caches.clear()
    for path in entries(tmp_path):
        path.unlink()
        if os.geteuid() == 0:  # root reads any file: a link to itself cannot be opened by anyone
            path.symlink_to(path.name)
        else:
            path.write_bytes(b"x")
            path.chmod(0)
    ran, states = run_flow(nb)
    assert ran == ["extract", "total"] and states["total"] == ("Success", 10)
    assert "cannot be read" in perfect_nb_log.text
    caches.clear()
    assert run_flow(nb)[0] == []  # written again in its place
