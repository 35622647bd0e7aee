"""read_regular_file and its readers: a FIFO, a folder or a device where a file is expected is an error, never a hang."""

from __future__ import annotations

import logging
import os

import pytest

from perfect_nb.utilities.files import NotARegularFile, read_regular_file

pytestmark = pytest.mark.timeout(30)


def test_a_regular_file_is_read(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\x00data")
    assert read_regular_file(tmp_path / "a.bin") == b"\x00data"


def test_a_fifo_a_folder_and_a_device_are_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    for path, kind in ((tmp_path / "pipe", "a FIFO"), (tmp_path / "folder", "a folder"), ("/dev/null", "a character device")):
        with pytest.raises(NotARegularFile, match=f"is {kind}"):
            read_regular_file(path)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing")


def test_a_disk_cache_entry_that_is_a_fifo_is_a_miss_with_a_warning(tmp_path, caplog):
    from perfect_nb.cache.store import ResultStore

    store = ResultStore(directory=tmp_path)
    store.put("k1", [1, 2])
    fifo = store._path("k2")
    os.mkfifo(fifo)
    fresh = ResultStore(directory=tmp_path)  # nothing in memory: reads go to disk
    with caplog.at_level(logging.WARNING, logger="perfect_nb.cache"):
        logging.getLogger("perfect_nb.cache").addHandler(caplog.handler)
        try:
            assert fresh.get("k1") == (True, [1, 2])
            assert fresh.get("k2") == (False, None)
        finally:
            logging.getLogger("perfect_nb.cache").removeHandler(caplog.handler)
    assert any("k2.pkl" in r.getMessage() and "FIFO" in r.getMessage() for r in caplog.records)
    fresh.put("k2", "computed again")  # written over the FIFO, atomically
    assert ResultStore(directory=tmp_path).get("k2") == (True, "computed again")
