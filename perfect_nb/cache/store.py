"""A keyed result store: an LRU in memory, bounded in bytes, plus an optional folder on disk.

A result is kept as it was when stored: ``put`` takes a snapshot (its pickle)
and every ``get`` hands out a new copy made from it, so a task (or a notebook
cell) that changes a result in place changes its own copy, never the cache.
Each snapshot has a content id (a hash of the snapshot): equal results stored
twice cost memory once, and a cache key can name the exact value a task was
given. A result that cannot be pickled is kept as the object itself (handed
out as is) under a random content id.

>>> store = ResultStore(max_bytes=1_000)
>>> content = store.put("k", [1, 2, 3])
>>> found, value = store.get("k")
>>> found, value
(True, [1, 2, 3])
>>> value.append(4)  # a copy: the stored result is unchanged
>>> store.get("k")
(True, [1, 2, 3])
>>> store.fetch("k")[2] == content == content_id([1, 2, 3])
True
>>> store.get("missing")
(False, None)
"""

from __future__ import annotations

import collections
import errno
import hashlib
import logging
import os
import pickle
import struct
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from perfect_nb.utilities.files import read_regular_file

__all__ = ["DEFAULT_MAX_BYTES", "ResultStore", "content_id", "freeze", "thaw"]

logger = logging.getLogger("perfect_nb.cache")
DEFAULT_MAX_BYTES = 2 * 1024**3
_MAGIC = b"PNB2\n"  # disk entries: magic, content id, newline, pickle


def _sizeof(value: Any) -> int:
    from dask.sizeof import sizeof

    try:
        return int(sizeof(value))
    except Exception:
        return 1024


def _pickle(value: Any) -> tuple[bytes, list] | None:
    """The pickle of ``value`` with its large buffers (arrays) kept out of band, uncopied."""
    for dumps in (pickle.dumps, _cloudpickle_dumps):
        buffers: list = []
        try:
            return dumps(value, protocol=5, buffer_callback=buffers.append), [b.raw() for b in buffers]
        except Exception:
            continue
    return None


def _cloudpickle_dumps(value: Any, **kwargs: Any) -> bytes:
    import cloudpickle

    return cloudpickle.dumps(value, **kwargs)


def _frame(head: bytes, buffers: list) -> list:
    """The pieces of a snapshot: the sizes, the pickle, its buffers (hashed and stored in this order)."""
    sizes = struct.pack(f"<I{len(buffers) + 1}Q", len(buffers), len(head), *(b.nbytes for b in buffers))
    return [sizes, head, *buffers]


def freeze(value: Any, known: Any = ()) -> tuple[bytes | None, str]:
    """``(snapshot, content_id)``: the pickle of ``value`` and its hash, or ``(None, random id)``
    when it cannot be pickled (then no two such values share an id: never a false match).

    The id is computed before the snapshot is assembled, so a value whose id is in ``known``
    (a store already holding it) is not copied: ``(None, id)`` then means "you have it".
    """
    pickled = _pickle(value)
    if pickled is None:
        return None, f"live-{uuid.uuid4().hex}"
    pieces = _frame(*pickled)
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    cid = digest.hexdigest()[:32]
    if cid in known:
        return None, cid
    return b"".join(pieces), cid


def content_id(value: Any) -> str:
    """The content id ``put`` would give ``value``."""
    return freeze(value)[1]


def thaw(blob: bytes) -> Any:
    """A new copy of a snapshot's value (its arrays writable, as the task returned them)."""
    view = memoryview(blob)
    (count,) = struct.unpack_from("<I", view)
    sizes = struct.unpack_from(f"<{count + 1}Q", view, 4)
    offset = 4 + 8 * (count + 1)
    head = view[offset:offset + sizes[0]]
    offset += sizes[0]
    buffers = []
    for size in sizes[1:]:
        buffers.append(bytearray(view[offset:offset + size]))
        offset += size
    return pickle.loads(head, buffers=buffers)


def _check(blob: bytes, cid: str) -> bool:
    return hashlib.sha256(blob).hexdigest()[:32] == cid


class _Entry:
    __slots__ = ("cid", "blob", "live", "size")

    def __init__(self, cid: str, blob: bytes | None, live: Any, size: int) -> None:
        self.cid, self.blob, self.live, self.size = cid, blob, live, size

    def value(self) -> Any:
        return self.live if self.blob is None else thaw(self.blob)


class ResultStore:
    """Results by key. ``max_bytes`` bounds the memory layer (least recently used go first);
    with ``directory``, picklable results are also written there and survive a restart.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, directory: str | os.PathLike | None = None) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}.")
        self.max_bytes = max_bytes
        self.directory = Path(directory) if directory is not None else None
        self._items: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        self._holders: collections.Counter[str] = collections.Counter()  # content id -> entries holding it
        self._blobs: dict[str, bytes] = {}  # content id -> the one copy of that snapshot
        self._bytes = 0
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0
        self._warned_unpicklable = False
        self._disk_faults: set[tuple] = set()  # (what, errno) already warned about

    # --- reading ---------------------------------------------------------------
    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, a new copy of the value)`` for a stored key, else ``(False, None)``."""
        found, value, _ = self.fetch(key)
        return found, value

    def fetch(self, key: str, copies: dict | None = None) -> tuple[bool, Any, str | None]:
        """``(True, a new copy of the value, its content id)``, else ``(False, None, None)``.

        ``copies`` (content id -> copy) shares one copy between fetches of equal values:
        a flow run hands one object to every task that gets that value, as a fresh run would.
        """
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                self.hits += 1
        if entry is None:
            entry = self._read_disk(key)
            with self._lock:
                if entry is None:
                    self.misses += 1
                    return False, None, None
                self.hits += 1
                self._remember(key, entry)
        try:
            if copies is None:
                return True, entry.value(), entry.cid
            if entry.cid not in copies:
                copies[entry.cid] = entry.value()
            return True, copies[entry.cid], entry.cid
        except Exception as exc:  # e.g. the class of a result read from disk is gone
            logger.warning("Cache entry %s cannot be loaded (%s); computing it again.", key, exc)
            self.drop([key])
            with self._lock:
                self.hits -= 1
                self.misses += 1
            return False, None, None

    def blob(self, cid: str) -> bytes | None:
        """The snapshot held under content id ``cid``, if any (to make more copies of it)."""
        with self._lock:
            return self._blobs.get(cid)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if key in self._items:
                return True
        return self.directory is not None and self._path(key).exists()

    # --- writing ---------------------------------------------------------------
    def put(self, key: str, value: Any) -> str:
        """Keep a snapshot of ``value`` under ``key`` (in memory, and on disk when a directory
        is set); returns its content id."""
        blob, cid = freeze(value, self._blobs)  # read only; puts come from one thread (the flow runner's)
        with self._lock:
            if blob is None and cid in self._blobs:  # the same snapshot is held already: share it
                blob = self._blobs[cid]
            entry = _Entry(cid, blob, value if blob is None else None, len(blob) if blob is not None else _sizeof(value))
            self._remember(key, entry)
        if self.directory is not None:
            try:
                self._write_disk(key, entry)
            except OSError as exc:  # a folder in its place, a full disk, a read-only folder: memory only
                self._disk_fault("written", self._path(key), exc, "the result is kept in memory only")
        return cid

    def _remember(self, key: str, entry: _Entry) -> None:
        """Keep ``entry``; a snapshot equal to one held under another key costs nothing more."""
        if key in self._items:
            self._forget(key)
        if entry.size > self.max_bytes:
            return
        if entry.blob is not None and entry.cid in self._blobs:
            entry.blob = self._blobs[entry.cid]  # share the bytes
        else:
            self._bytes += entry.size
            if entry.blob is not None:
                self._blobs[entry.cid] = entry.blob
        self._items[key] = entry
        self._holders[entry.cid] += 1
        while self._bytes > self.max_bytes and len(self._items) > 1:
            self._forget(next(iter(self._items)))

    def _forget(self, key: str) -> None:
        entry = self._items.pop(key)
        self._holders[entry.cid] -= 1
        if self._holders[entry.cid] <= 0:
            del self._holders[entry.cid]
            self._blobs.pop(entry.cid, None)
            self._bytes -= entry.size

    def drop(self, keys: Any = None) -> int:
        """Forget ``keys`` (all when None); returns how many entries went."""
        keys = set(self.keys(include_disk=True) if keys is None else keys)
        with self._lock:
            for key in keys & set(self._items):
                self._forget(key)
        if self.directory is not None:
            for key in keys:
                try:
                    self._path(key).unlink(missing_ok=True)
                except OSError as exc:  # e.g. a folder put in its place: left as it is
                    self._disk_fault("removed", self._path(key), exc, "it is no longer used")
        return len(keys)

    def _disk_fault(self, what: str, path: Path, exc: OSError, outcome: str) -> None:
        """Warn that a disk entry cannot be ``what`` (once per store and kind of fault: a full
        disk says so once, not once per result); the run goes on."""
        kind = (what, exc.errno)
        if kind in self._disk_faults:
            return
        self._disk_faults.add(kind)
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            hint = "Free some disk space (or raise the file size limit)"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            hint = f"Make {path.parent} writable"
        else:
            hint = f"Remove what is at {path} (or above it)"
        logger.warning(
            "Cache entry %s cannot be %s (%s); %s, and the run goes on. %s, or run without --persist.",
            path, what, exc.strerror or exc, outcome, hint,
        )

    # --- disk ----------------------------------------------------------------
    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}.pkl"

    def _read_disk(self, key: str) -> _Entry | None:
        if self.directory is None:
            return None
        path = self._path(key)
        try:
            data = read_regular_file(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # a FIFO, a folder, no permission: a miss, never a hang
            logger.warning("Cache entry %s cannot be read (%s); computing it again.", path, exc)
            return None
        try:
            if not data.startswith(_MAGIC):
                raise ValueError("not a perfect_nb cache entry")
            cid, blob = data[len(_MAGIC):].split(b"\n", 1)
            if not _check(blob, cid.decode()):
                raise ValueError("its content does not match its id")
        except Exception as exc:
            logger.warning("Cache entry %s is unreadable (%s); computing it again.", path, exc)
            path.unlink(missing_ok=True)
            return None
        return _Entry(cid.decode(), blob, None, len(blob))

    def _write_disk(self, key: str, entry: _Entry) -> None:
        if entry.blob is None:
            if not self._warned_unpicklable:
                self._warned_unpicklable = True
                logger.warning("A result cannot be pickled (%s); it is cached in memory only.", type(entry.live).__name__)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MAGIC + entry.cid.encode() + b"\n")
                handle.write(entry.blob)
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
