"""A keyed result store: an LRU in memory, bounded in bytes, plus an optional folder on disk.

>>> store = ResultStore(max_bytes=1_000)
>>> store.put("k", [1, 2, 3])
>>> store.get("k")
(True, [1, 2, 3])
>>> store.get("missing")
(False, None)
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

from perfect_nb.utilities.files import read_regular_file

__all__ = ["DEFAULT_MAX_BYTES", "ResultStore"]

logger = logging.getLogger("perfect_nb.cache")
DEFAULT_MAX_BYTES = 2 * 1024**3


def _sizeof(value: Any) -> int:
    from dask.sizeof import sizeof

    try:
        return int(sizeof(value))
    except Exception:
        return 1024


class ResultStore:
    """Results by key. ``max_bytes`` bounds the memory layer (least recently used go first);
    with ``directory``, picklable results are also written there and survive a restart.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, directory: str | os.PathLike | None = None) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}.")
        self.max_bytes = max_bytes
        self.directory = Path(directory) if directory is not None else None
        self._items: collections.OrderedDict[str, tuple[Any, int]] = collections.OrderedDict()
        self._holders: collections.Counter[int] = collections.Counter()  # id(value) -> entries holding it
        self._bytes = 0
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0
        self._warned_unpicklable = False

    # --- reading ---------------------------------------------------------------
    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a stored key, else ``(False, None)``."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return True, self._items[key][0]
        found, value = self._read_disk(key)
        with self._lock:
            if found:
                self.hits += 1
                self._remember(key, value)
            else:
                self.misses += 1
        return found, value

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if key in self._items:
                return True
        return self.directory is not None and self._path(key).exists()

    # --- writing ---------------------------------------------------------------
    def put(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key`` (in memory, and on disk when a directory is set)."""
        with self._lock:
            self._remember(key, value)
        if self.directory is not None:
            self._write_disk(key, value)

    def _remember(self, key: str, value: Any) -> None:
        """Keep ``value``; an object already held under another key costs nothing more."""
        if key in self._items:
            self._forget(key)
        size = _sizeof(value) if not self._holders[id(value)] else 0
        if size > self.max_bytes:
            return
        self._items[key] = (value, size)
        self._holders[id(value)] += 1
        self._bytes += size
        while self._bytes > self.max_bytes and len(self._items) > 1:
            self._forget(next(iter(self._items)))

    def _forget(self, key: str) -> None:
        value, size = self._items.pop(key)
        self._bytes -= size
        self._holders[id(value)] -= 1
        if self._holders[id(value)] <= 0:
            del self._holders[id(value)]
        elif size:  # another entry still holds this object: it carries the cost now
            for other, (held, held_size) in self._items.items():
                if held is value:
                    self._items[other] = (held, size)
                    self._bytes += size
                    break

    def drop(self, keys: Any = None) -> int:
        """Forget ``keys`` (all when None); returns how many entries went."""
        keys = set(self.keys(include_disk=True) if keys is None else keys)
        with self._lock:
            for key in keys & set(self._items):
                self._forget(key)
        if self.directory is not None:
            for key in keys:
                self._path(key).unlink(missing_ok=True)
        return len(keys)

    # --- disk ----------------------------------------------------------------
    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}.pkl"

    def _read_disk(self, key: str) -> tuple[bool, Any]:
        if self.directory is None:
            return False, None
        path = self._path(key)
        try:
            data = read_regular_file(path)
        except FileNotFoundError:
            return False, None
        except (OSError, ValueError) as exc:  # a FIFO, a folder, no permission: a miss, never a hang
            logger.warning("Cache entry %s cannot be read (%s); computing it again.", path, exc)
            return False, None
        try:
            return True, pickle.loads(data)
        except Exception as exc:
            logger.warning("Cache entry %s is unreadable (%s); computing it again.", path, exc)
            path.unlink(missing_ok=True)
            return False, None

    def _write_disk(self, key: str, value: Any) -> None:
        import cloudpickle

        try:
            data = cloudpickle.dumps(value)
        except Exception as exc:
            if not self._warned_unpicklable:
                self._warned_unpicklable = True
                logger.warning("A result cannot be pickled (%s); it is cached in memory only.", exc)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- reporting -------------------------------------------------------------
    def info(self) -> dict:
        with self._lock:
            return {
                "entries": len(self._items), "bytes": self._bytes, "max_bytes": self.max_bytes,
                "hits": self.hits, "misses": self.misses,
                "disk_entries": len(list(self.directory.glob("*.pkl"))) if self.directory is not None and self.directory.exists() else 0,
            }

    def keys(self, include_disk: bool = False) -> list[str]:
        """Keys in memory (and on disk with ``include_disk``)."""
        with self._lock:
            keys = list(self._items)
        if include_disk and self.directory is not None and self.directory.exists():
            keys += [p.stem for p in self.directory.glob("*.pkl") if p.stem not in self._items]
        return keys
