"""``Client``: the server's API from Python, with the method names Prefect 1 users know.

>>> Client(api="http://127.0.0.1:9").api  # nothing is contacted until a call
'http://127.0.0.1:9'
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from perfect_nb.configuration import load_config
from perfect_nb.core.task import Task
from perfect_nb.errors import ClientError

__all__ = ["Client", "ClientError", "FlowRunInfo", "TaskRunInfo", "state_from"]


def state_from(name: str, message: str | None = None):
    """An engine State of the class called ``name`` (Pending for an unknown name)."""
    from perfect_nb.engine import state as _state

    cls = getattr(_state, name, None)
    cls = cls if isinstance(cls, type) and issubclass(cls, _state.State) else _state.Pending
    return cls(message)


class _Info(dict):
    """A dict read by attribute, as Prefect 1's GraphQL results were."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class TaskRunInfo(_Info):
    """A task run: ``id``, ``task_slug``, ``map_index``, ``state`` (a State), ``version``..."""


class FlowRunInfo(_Info):
    """A flow run: ``id``, ``flow_id``, ``name``, ``parameters``, ``state`` (a State), ``version``, ``task_runs``."""


def _info(cls: type, row: dict) -> _Info:
    info = cls(row)
    info["state"] = state_from(row["state"], row.get("message"))
    return info


class Client:
    """A client of one server (``api`` defaults to the configured ``[backend] api``).

    Parameters
    ----------
    api : str, optional
        The server's address, like ``http://127.0.0.1:4200``.
    token : str, optional
        The server's token, when it needs one (default: ``[backend] token``, else ``[server] token``).
    timeout : float
        Seconds to wait for an answer.
    """

    def __init__(self, api: str | None = None, token: str | None = None, timeout: float = 10.0) -> None:
        config = load_config()
        self.api = (api or config.backend.api).rstrip("/")
        self.token = token or config.backend.token or config.server.token or None
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(base_url=self.api, headers=headers, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- transport -------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; the decoded JSON (or bytes), or ClientError saying what went wrong."""
        try:
            response = self._http.request(method, f"/api{path}", **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(f"No perfect_nb server answers at {self.api} ({type(exc).__name__}); start one with `perfect server start` "
                              f"or point [backend] api in config.toml at it.") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:300]
            raise ClientError(f"{method} {path}: {response.status_code} {_detail_text(detail)}", response.status_code)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def health(self) -> dict:
        return self.request("GET", "/health")

    # --- projects and flows ------------------------------------------------------
    def create_project(self, project_name: str, project_description: str | None = None) -> str:
        """Create a project; return its id."""
        return self.request("POST", "/projects", json={"name": project_name, "description": project_description or ""})["id"]

    def register(self, flow: Any, project_name: str, labels: list[str] | None = None, idempotency_key: str | None = None, force: bool = False) -> dict:
        """Store ``flow`` (by value) in ``project_name``; return the stored version's row (``id``, ``version``, ``unchanged``)."""
        from perfect_nb.client.register import registration_payload

        body = registration_payload(flow, project_name, labels=labels, idempotency_key=idempotency_key, force=force)
        return self.request("POST", "/flows", json=body)

    def get_flow(self, flow_id: str) -> dict:
        return self.request("GET", f"/flows/{flow_id}")

    def load_flow(self, flow_id: str) -> Any:
        """The registered Flow object itself (unpickled: only load flows you trust)."""
        from perfect_nb.client.register import load_flow

        return load_flow(self.request("GET", f"/flows/{flow_id}/blob"), self.get_flow(flow_id)["meta"])

    # --- flow runs ---------------------------------------------------------------
    def create_flow_run(self, flow_id: str | None = None, parameters: dict | None = None, run_name: str | None = None, labels: list[str] | None = None,
                        idempotency_key: str | None = None, scheduled_start_time: Any = None, flow_name: str | None = None, project_name: str | None = None) -> str:
        """Create a Scheduled run of a registered flow (by id, or by name and project); return its id."""
        when = scheduled_start_time.timestamp() if hasattr(scheduled_start_time, "timestamp") else scheduled_start_time
        body = dict(flow_id=flow_id, flow_name=flow_name, project=project_name, parameters=parameters or {}, name=run_name, labels=labels,
                    idempotency_key=idempotency_key, scheduled_start_time=when)
        return self.request("POST", "/flow_runs", json=body)["id"]

    def get_flow_run_info(self, flow_run_id: str) -> FlowRunInfo:
        row = self.request("GET", f"/flow_runs/{flow_run_id}")
        info = _info(FlowRunInfo, row)
        info["task_runs"] = [_info(TaskRunInfo, t) for t in row.get("task_runs", [])]
        return info

    def set_flow_run_state(self, flow_run_id: str, state: Any, version: int | None = None) -> FlowRunInfo:
        """Set a run's state (a State or its class name); with ``version``, only if the run is still at it."""
        if version is None:
            version = self.request("GET", f"/flow_runs/{flow_run_id}")["version"]
        name, message = (state, None) if isinstance(state, str) else (type(state).__name__, state.message)
        return _info(FlowRunInfo, self.request("POST", f"/flow_runs/{flow_run_id}/state", json={"state": name, "message": message, "version": version}))

    def get_flow_run_states(self, flow_run_id: str) -> list[dict]:
        return self.request("GET", f"/flow_runs/{flow_run_id}/states")

    def get_task_run_info(self, flow_run_id: str, task_id: Any, map_index: int | None = None) -> TaskRunInfo:
        """The task run of task ``task_id`` (a Task or its slug) in a flow run (``map_index`` for a mapped child)."""
        slug = task_id.slug if isinstance(task_id, Task) else task_id
        index = -1 if map_index is None else map_index
        for row in self.request("GET", f"/flow_runs/{flow_run_id}")["task_runs"]:
            if row["task_slug"] == slug and row["map_index"] == index:
                return _info(TaskRunInfo, self.request("GET", f"/task_runs/{row['id']}"))
        raise ClientError(f"Flow run {flow_run_id} has no task run of {slug!r}" + (f" [{map_index}]" if map_index is not None else "") + ".", 404)

    def flow_runs(self, flow_name: str | None = None, flow_id: str | None = None, state: str | list[str] | None = None,
                  since: float | None = None, until: float | None = None, limit: int = 100, offset: int = 0) -> list[FlowRunInfo]:
        """Flow runs, newest first (the last 30 days unless ``since`` says otherwise)."""
        params: dict[str, Any] = {k: v for k, v in dict(flow_name=flow_name, flow_id=flow_id, since=since, until=until, limit=limit, offset=offset).items() if v is not None}
        if state:
            params["state"] = [state] if isinstance(state, str) else list(state)
        return [_info(FlowRunInfo, row) for row in self.request("GET", "/flow_runs", params=params)]

    def get_logs(self, flow_run_id: str, level: int = 0, after_id: int = 0) -> list[dict]:
        return self.request("GET", f"/flow_runs/{flow_run_id}/logs", params={"level": level, "after_id": after_id})

    # --- orchestration -----------------------------------------------------------------
    def cancel_flow_run(self, flow_run_id: str) -> FlowRunInfo:
        """Cancel a run: Cancelled at once if it has not started, else Cancelling until its agent has stopped it."""
        return _info(FlowRunInfo, self.request("POST", f"/flow_runs/{flow_run_id}/cancel"))

    def restart_flow_run(self, flow_run_id: str) -> FlowRunInfo:
        """Queue a finished, unsuccessful run again; ``rerun`` lists succeeded task runs that kept no result."""
        return _info(FlowRunInfo, self.request("POST", f"/flow_runs/{flow_run_id}/restart"))

    def set_schedule_active(self, flow_name: str, active: bool, project_name: str | None = None) -> dict:
        """Switch a registered flow's server-side schedule on or off."""
        return self.request("POST", "/schedules", json={"name": flow_name, "project": project_name, "active": active})

    def agents(self) -> list[dict]:
        """The agents the server knows, newest first, each with ``alive``."""
        return self.request("GET", "/agents")

    def register_agent(self, name: str, labels: list[str], host: str, pid: int, concurrency: int) -> dict:
        return self.request("POST", "/agents", json={"name": name, "labels": list(labels), "host": host, "pid": pid, "concurrency": concurrency})

    def agent_heartbeat(self, agent_id: str, running: dict[str, int]) -> dict:
        return self.request("POST", f"/agents/{agent_id}/heartbeat", json={"running": running})

    def claim_flow_runs(self, agent_id: str, limit: int, wait: float = 0.0) -> list[dict]:
        """Up to ``limit`` due runs handed to this agent, waiting up to ``wait`` s for one."""
        return self.request("POST", f"/agents/{agent_id}/claim", json={"limit": limit, "wait": wait}, timeout=wait + 10)

    def flow_run_heartbeat(self, flow_run_id: str, lease: int, host: str | None = None, pid: int | None = None) -> dict:
        """The run's process is alive; ClientError 409 when the run is no longer its own."""
        return self.request("POST", f"/flow_runs/{flow_run_id}/heartbeat", json={"lease": lease, "host": host, "pid": pid})

    def end_flow_run(self, flow_run_id: str, lease: int, state: str, message: str) -> bool:
        return self.request("POST", f"/flow_runs/{flow_run_id}/end", json={"lease": lease, "state": state, "message": message})["changed"]

    def post_events(self, events: list[dict]) -> dict:
        """Send a batch of events (encoded with orjson: this is the recording's hot path)."""
        body = orjson.dumps({"events": events}, default=repr, option=orjson.OPT_NON_STR_KEYS)
        return self.request("POST", "/events", content=body, headers={"content-type": "application/json"})

    def wait_for(self, flow_run_id: str, timeout: float = 60.0, poll: float = 0.2) -> FlowRunInfo:
        """Poll until the run is finished (or ``timeout`` seconds); return its info."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.get_flow_run_info(flow_run_id)
            if info.state.is_finished() or time.monotonic() > deadline:
                return info
            time.sleep(poll)


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):  # FastAPI's validation errors
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail)
    return str(detail)
