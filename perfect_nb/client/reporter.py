"""Recording runs in the backend: one listener on the engine's events.

:class:`Reporter` is a listener (``flow.run(listeners=[...])`` style) plus a
logging handler. The listener only appends the event to a list; a background
thread turns them into the API's events (each flow run's state changes of a
batch as one compact ``states`` event, see :mod:`perfect_nb.server.db.ingest`)
and sends them in batches (every ~200 ms, or sooner once 250 are waiting), and
:meth:`Reporter.close` sends the rest before ``flow.run`` returns. If the server is down or answers an error, the run goes on: one
warning says so, the events go to a spool file under
``$PERFECT_NB_HOME/spool/``, and they are sent when a server answers again
(by this run or a later one). Each event has an id the server deduplicates
on, so nothing is stored twice.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from perfect_nb.configuration import home
from perfect_nb.core import context as _context
from perfect_nb.core.parameter_spec import json_safe
from perfect_nb.errors import ClientError

__all__ = ["Reporter", "drain_spool", "spool_dir", "task_run_key"]

logger = logging.getLogger("perfect_nb.backend")
BATCH = 1000  # events per request when a spool file is sent
CHUNK = 2000  # events per request at most while recording (what arrives meanwhile goes in the next)
SEND_FROM = 250  # this many waiting events wake the sending thread (else every INTERVAL): the server starts early
INTERVAL = 0.2
RETRY_EVERY = 2.0


def spool_dir() -> Path:
    return home() / "spool"


def _message(state: Any) -> str | None:
    message = state.message
    if message is None:
        return None
    text = message if isinstance(message, str) else repr(message)
    return text if len(text) <= 2000 else text[:1997] + "..."


def _location(state: Any) -> Any:
    """Where the state's result was written, read without making a context the state lacks."""
    ctx = getattr(state, "_context", None) if hasattr(state, "_context") else state.context
    return ctx.get("result_location") if ctx else None


class _LogHandler(logging.Handler):
    """Hands the log records of this process's runs to the reporter."""

    def __init__(self, reporter: "Reporter") -> None:
        super().__init__(logging.NOTSET)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("perfect_nb.backend"):
            return  # never report the reporter's own warnings
        ctx = _context.current()
        run_id = ctx.get("flow_run_id")
        if run_id is None or run_id not in self.reporter.runs:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message += f"\n{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        elif record.exc_text:  # a record from a worker process: its traceback came as text
            message += "\n" + record.exc_text.rstrip().rsplit("\n", 1)[-1]
        task = (ctx.get("task_slug"), ctx.get("map_index")) if ctx.get("task_run_id") else None
        self.reporter._append(("log", run_id, task, record.levelno, record.name, message, record.created))


class Reporter:
    """Send a run's events to the server at ``api``; call the instance with each StateChange.

    Parameters
    ----------
    client : perfect_nb.client.Client
    flow : Flow
        The flow being run (its name and graph go with the run's first event).
    flow_id : str, optional
        The registered flow's id, for a run of a registered flow.
    labels : list, optional
    lease : int
        The lease the server gave this run's process (0 for a run started by hand).
    """

    def __init__(self, client: Any, flow: Any, flow_id: str | None = None, labels: list | None = None, lease: int = 0) -> None:
        self.client = client
        self.flow, self.flow_id, self.labels, self.lease = flow, flow_id, list(labels or []), int(lease)
        self.runs: set[str] = set()
        self._last: dict[tuple, Any] = {}  # (run id, slug, map index) -> its latest state sent, for the result locations at the run's end
        self._items: list = []
        self._fields: dict[tuple, list] = {}  # (run id, task, map index) -> the task run as a states event lists it
        self._graphs: dict[str, dict] = {}  # run id -> its graph, while the server may still ask for it
        self._seq = 0
        self._prefix = uuid.uuid4().hex  # event ids are PREFIX-SEQ: unique, and the same when resent
        self._wake = threading.Event()
        self._stop = False
        self._send_lock = threading.Lock()
        self._down_since: float | None = None
        self._warned = False
        self.spool_file = spool_dir() / f"{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        self._handler = _LogHandler(self)
        logging.getLogger("perfect_nb").addHandler(self._handler)
        self._thread = threading.Thread(target=self._loop, name="perfect-reporter", daemon=True)
        self._thread.start()

    # --- the engine's side: cheap ------------------------------------------------
    def __call__(self, event: Any) -> None:
        if event.flow_run_id not in self.runs:
            self.runs.add(event.flow_run_id)
            self._items.append(("flow_run", event.flow_run_id, _context.current().get("parameters"), event.timestamp))
        self._items.append(event)
        if len(self._items) == SEND_FROM:  # once per batch: the event stays set until the sender takes them
            self._wake.set()

    def _append(self, item: tuple) -> None:
        self._items.append(item)

    # --- the background side ---------------------------------------------------------
    def _take(self) -> list:
        items, self._items = self._items, []
        return items

    def _encode(self, items: list) -> list[dict]:
        """Items as the API's events (see :mod:`perfect_nb.server.db.ingest`): the state
        changes of each flow run in one ``states`` event that names each task run once,
        a flow run's start, logs and result locations one event each."""
        events: list[dict] = []
        blocks: dict[str, _StatesBlock] = {}
        for item in items:
            if type(item) is tuple:
                events.append(self._other(item))
                continue
            run_id, task, new = item.flow_run_id, item.task, item.new_state
            block = blocks.get(run_id)
            if block is None:
                block = blocks[run_id] = _StatesBlock(run_id, self.lease, self._prefix, self._seq + 1)
                events.append(block.event)
            name = type(new).__name__
            if task is None:
                ti, location, map_size = -1, None, None
                if new.is_finished():  # where the results are, before the run's final state (a restart reuses them at once)
                    events += self._locations(run_id)
            else:
                ti = block.task_index(task, item.map_index, self._task_run)
                self._last[(run_id, task.slug, item.map_index)] = new
                location = _location(new)
                map_size = len(new.map_states or ()) if name == "Mapped" else None
            self._seq += 1
            block.rows.append([ti, name, _message(new), new.is_finished(), self._seq, item.timestamp or time.time(),
                               location if isinstance(location, str) else None, map_size])
        return events

    def _locations(self, run_id: str) -> list[dict]:
        """Location events for the results of a run's task runs whose last state has one."""
        out = []
        for key in [k for k in self._last if k[0] == run_id]:
            location = _location(self._last.pop(key))
            if isinstance(location, str):
                out.append(self._other(("location", *key, location)))
        return out

    def _other(self, item: tuple) -> dict:
        """A flow run's start, a log record or a result location as its event."""
        self._seq += 1
        event_id = f"{self._prefix}-{self._seq}"
        kind = item[0]
        if kind == "flow_run":
            from perfect_nb.client.register import flow_graph

            _, run_id, params, ts = item
            event = {"id": event_id, "type": "flow_run", "flow_run_id": run_id, "flow_name": self.flow.name, "flow_id": self.flow_id,
                     "name": self.flow.name, "parameters": {k: json_safe(v) for k, v in (params or {}).items()}, "labels": self.labels, "ts": ts}
            if not self.flow_id:  # a registered flow's runs show their flow's graph
                graph = self._graphs[run_id] = flow_graph(self.flow)
                key = _known_graph(self.client, graph)
                event.update({"graph_key": key} if key else {"graph": graph})
            return event
        if kind == "graph":
            return {"id": event_id, "type": "graph", "flow_run_id": item[1], "graph": self._graphs[item[1]]}
        if kind == "location":
            _, run_id, slug, index, location = item
            return {"id": event_id, "type": "location", "flow_run_id": run_id, "task_run_id": task_run_key(run_id, slug, index), "location": location, "lease": self.lease}
        _, run_id, task, level, name, message, ts = item
        task_run_id = task_run_key(run_id, *task) if task else None
        return {"id": event_id, "type": "log", "flow_run_id": run_id, "task_run_id": task_run_id, "level": level, "name": name, "message": message, "ts": ts}

    def _task_run(self, run_id: str, task: Any, index: int | None) -> list:
        """A task run as a ``states`` event lists it: [task_run_id, task_slug, task_name, map_index], made once."""
        key = (run_id, task, index)
        fields = self._fields.get(key)
        if fields is None:
            fields = self._fields[key] = [task_run_key(run_id, task.slug, index), task.slug, task.name, index]
        return fields

    def _loop(self) -> None:
        drain_spool(self.client, skip=self.spool_file)
        while not self._stop:
            self._wake.wait(INTERVAL)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Send what has arrived, a chunk at a time, each stored before the next is sent
        (or spool it while the server does not answer). Sending from this one thread,
        with no other waiting on it, keeps the hand-overs between threads, each a wait
        for the interpreter while the engine runs, to one per request."""
        with self._send_lock:
            items = self._take()
            if not items:
                return
            ok = self._down_since is None or time.monotonic() - self._down_since >= RETRY_EVERY
            for start in range(0, len(items), CHUNK):
                events = self._encode(items[start:start + CHUNK])
                ok = ok and self._post(events)  # after a chunk the server did not take, the rest is kept too
                if not ok:
                    self._spool(events)
            if ok and self._down_since is not None:  # it answers again: send what was kept
                self._down_since = None
                drain_spool(self.client)

    def _post(self, events: list[dict]) -> bool:
        """Send one chunk; False if the server did not take it."""
        try:
            answer = self.client.post_events(events)
        except Exception as exc:  # the server is down or refused: the run goes on regardless
            self._went_down(exc)
            return False
        self._learn_graphs(answer if isinstance(answer, dict) else {})
        return True

    def _learn_graphs(self, answer: dict) -> None:
        """Remember the keys the server stored this run's graphs under (later runs of the
        flow send only the key); send a graph the server turned out not to have."""
        for run_id, key in (answer.get("graph_keys") or {}).items():
            if run_id in self._graphs:
                _remember_graph(self.client, self._graphs[run_id], key)
        for run_id in answer.get("missing_graphs") or ():
            if run_id in self._graphs:
                _forget_graph(self.client, self._graphs[run_id])
                self._append(("graph", run_id))

    def _went_down(self, exc: Exception) -> None:
        self._down_since = time.monotonic()
        if not self._warned:
            self._warned = True
            logger.warning("The perfect_nb server did not take this run's events (%s). The run goes on; its events are kept in %s "
                           "and sent when the server answers.", exc, self.spool_file)

    def _spool(self, events: list[dict]) -> None:
        """Keep events for later; a run's graph goes in whole (the server that reads them may not have it)."""
        events = [{**e, "graph": self._graphs[e["flow_run_id"]]} if e["type"] == "flow_run" and "graph_key" in e else e for e in events]
        try:
            self.spool_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.spool_file, "a", encoding="utf-8") as f:
                f.write("".join(json.dumps(e, default=repr) + "\n" for e in events))
        except OSError as exc:
            logger.warning("Cannot write the spool file %s (%s): %d events of this run are not recorded.", self.spool_file, exc, len(events))

    def close(self) -> None:
        """Send the rest, stop the thread, and remove the log handler."""
        logging.getLogger("perfect_nb").removeHandler(self._handler)
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=30)
        self._down_since = None  # one last try for what is left
        self.flush()
        if self._items:  # the last answer asked for a graph
            self.flush()


# The graphs each server has, by the key it stored them under: (API URL, id(graph)) -> (graph, key).
# flow_graph() gives the same object while a flow keeps its shape; the entry holds it, so its id
# is not reused. Kept for this process's newest 64 graphs.
_SERVER_GRAPHS: collections.OrderedDict[tuple, tuple] = collections.OrderedDict()
_GRAPH_MEMORY = 64
_graphs_lock = threading.Lock()  # reporters of concurrent runs share it


def _known_graph(client: Any, graph: dict) -> str | None:
    """The key the client's server stored this graph under, if it said so before."""
    with _graphs_lock:
        entry = _SERVER_GRAPHS.get((client.api, id(graph)))
    return entry[1] if entry is not None and entry[0] is graph else None


def _remember_graph(client: Any, graph: dict, key: str) -> None:
    with _graphs_lock:
        _SERVER_GRAPHS[(client.api, id(graph))] = (graph, key)
        _SERVER_GRAPHS.move_to_end((client.api, id(graph)))
        while len(_SERVER_GRAPHS) > _GRAPH_MEMORY:
            _SERVER_GRAPHS.popitem(last=False)


def _forget_graph(client: Any, graph: dict) -> None:
    with _graphs_lock:
        _SERVER_GRAPHS.pop((client.api, id(graph)), None)


def task_run_key(flow_run_id: str, slug: str, map_index: int | None) -> str:
    """The id a task run has in the server: the same for every attempt of a flow run,
    so a restarted run updates the task runs it has. It starts with the flow run's id,
    so the task runs of one run sit together in the server's indexes (recording a run
    writes a few index pages, not one page per task run of a random id).

    >>> task_run_key("r1", "add-1", None) == task_run_key("r1", "add-1", None) != task_run_key("r1", "add-1", 0)
    True
    >>> task_run_key("3b0c0e1e-6f57-4b5c-9a43-0d3f3f0e2a10", "add-1", 0)
    '3b0c0e1e-6f57-4b5c-9a43-0d3f3f0e2a10.8110a9c059dd9fa525fd'
    """
    return f"{flow_run_id}.{_task_digest(slug, -1 if map_index is None else map_index)}"


@functools.lru_cache(maxsize=1 << 16)
def _task_digest(slug: str, map_index: int) -> str:
    """The part of a task run's id that names the task run within its flow run: the same
    in every run of a flow, so it is hashed once, not once per task per run."""
    return hashlib.sha1(f"{slug}/{map_index}".encode()).hexdigest()[:20]


class _StatesBlock:
    """One flow run's ``states`` event of a batch, and where each of its task runs is in ``tasks``."""

    __slots__ = ("event", "rows", "tasks", "_index")

    def __init__(self, run_id: str, lease: int, prefix: str, seq: int) -> None:
        self.tasks: list[list] = []
        self.rows: list[list] = []
        self.event = {"id": f"{prefix}-{seq}", "type": "states", "flow_run_id": run_id, "lease": lease, "prefix": prefix, "tasks": self.tasks, "rows": self.rows}
        self._index: dict[tuple, int] = {}  # (task, map index) -> its position in tasks

    def task_index(self, task: Any, map_index: int | None, fields: Any) -> int:
        """The position of the task run in ``tasks``, listing it (``fields(run_id, task, map_index)``) the first time."""
        key = (task, map_index)
        ti = self._index.get(key)
        if ti is None:
            ti = self._index[key] = len(self.tasks)
            self.tasks.append(fields(self.event["flow_run_id"], task, map_index))
        return ti


def drain_spool(client: Any, skip: Path | None = None) -> int:
    """Send every spool file's events (claimed by renaming, so two processes never send
    one file); a corrupt line is skipped with a warning. Returns the events sent."""
    folder = spool_dir()
    if not folder.is_dir():
        return 0
    sent = 0
    for path in sorted(folder.glob("*.jsonl")):
        if skip is not None and path == skip:
            continue
        claimed = path.with_suffix(f".sending-{os.getpid()}")
        try:
            path.rename(claimed)
        except OSError:
            continue  # another process took it
        events, bad = [], 0
        for line in claimed.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
                if not isinstance(event, dict) or "type" not in event:
                    raise ValueError
                events.append(event)
            except ValueError:
                bad += 1
        if bad:
            logger.warning("Spool file %s: %d corrupt line(s) skipped; the other %d events are sent.", path, bad, len(events))
        try:
            for start in range(0, len(events), BATCH):
                client.post_events(events[start:start + BATCH])
        except ClientError:
            claimed.rename(path)  # keep it for the next try (the server drops what it already has)
            return sent
        claimed.unlink()
        sent += len(events)
    return sent
