"""The web UI: HTML pages built on the server (Jinja2, autoescaped), a little JavaScript.

Pages: ``/`` (dashboard), ``/projects``, ``/flows`` (search, by project), ``/flows/{id}`` (versions, schedule,
DAG, tasks, runs, Run form), ``/flow-runs`` (by state and flow, paginated), ``/flow-runs/{id}`` (live DAG, task runs, logs with level
filter, search and download at ``logs.txt``, Cancel, Restart, Mark as),
``/task-runs/{id}`` (state history, result location, logs), ``/agents``, ``/login``. Scripts and styles are files of this package
under ``/ui/static/``: nothing comes from a CDN, and the pages work offline.

Cross-site requests (CSRF). Every state-changing request a page makes is a POST;
this module relies on two checks rather than a per-session token:

1. the server's :class:`~perfect_nb.server.security.Guard` refuses any non-GET
   request whose ``Origin`` is not this server's (browsers send ``Origin`` on every
   cross-origin POST, and ``null`` from sandboxed or no-referrer pages, which is
   refused too); the UI's own form POSTs here also refuse a request that has
   neither an ``Origin`` nor a ``Referer`` of this server, so a browser that strips
   both cannot be led to post either;
2. the token cookie is ``SameSite=Strict`` and ``HttpOnly``: a request started by
   another site never carries it, and no script can read it.

A token would add nothing these do not already stop, and would need state kept
per session; this way the pages stay plain links and forms.
"""

from __future__ import annotations

import functools
import json
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from perfect_nb.engine import state as _state
from perfect_nb.server import api as _api
from perfect_nb.server.db import orchestration as o
from perfect_nb.server.db import queries as q
from perfect_nb.server.ui import data
from perfect_nb.server.ui.forms import fields, page_spec, read_form
from perfect_nb.server.ui.graph import run_svg
from perfect_nb.viz import colors

__all__ = ["router"]

HERE = Path(__file__).parent
STATIC = HERE / "static"
COOKIE = "perfect_nb_token"  # the name security.Guard accepts
FAILED = ("Failed", "TimedOut", "TriggerFailed", "ValidationFailed")
SUCCEEDED = sorted(name for name, cls in _api.STATE_NAMES.items() if issubclass(cls, _state.Success))
TASK_ROWS = 500  # rows of the task-run table; a 5,000-item map is summed up by state above it
TIMELINE_BARS = 200  # bars of the timeline: the first task runs to start
LOG_LINES = 2000  # log lines a run page is rendered with (search and level then ask the server)
MARK_AS = ("Success", "Failed", "Cancelled")
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

router = APIRouter(include_in_schema=False)


# --- templates -------------------------------------------------------------------
def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(start: float | None, end: float | None) -> str:
    if start is None:
        return ""
    seconds = (end if end is not None else time.time()) - start
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _seconds_text(value: Any) -> str:
    seconds = value["microseconds"] / 1e6 if isinstance(value, dict) else float(value)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _when_text(dt: Any) -> str:
    if not isinstance(dt, dict) or "local" not in dt:
        return ""
    tz = dt.get("tz")
    zone = tz if isinstance(tz, str) else (tz or {}).get("name") or f"UTC{(tz or {}).get('offset', 0) / 3600:+g}"
    return f"{dt['local'].replace('T', ' ')[:16]} {zone}"


def _schedule_text(schedule: Any) -> str:
    """A flow's stored schedule in words.

    >>> _schedule_text({"spec": {"clocks": [{"type": "CronClock", "cron": "0 8 * * 1-5", "start_date": None}], "filters": [{"fn": "is_weekday"}]}})
    'cron 0 8 * * 1-5 (and 1 filter(s) or adjustment(s))'
    >>> _schedule_text({"spec": {"clocks": [{"type": "IntervalClock", "interval": 5400, "start_date": {"local": "2024-01-01T08:00:00", "tz": "Europe/Paris"}}]}})
    'every 90 min from 2024-01-01 08:00 Europe/Paris'
    """
    spec = schedule.get("spec") if isinstance(schedule, dict) else None
    if not isinstance(spec, dict):
        return schedule.get("repr", "") if isinstance(schedule, dict) else str(schedule or "")
    parts = []
    for clock in spec.get("clocks") or []:
        kind = clock.get("type")
        if kind == "IntervalClock":
            text = f"every {_seconds_text(clock['interval'])}"
        elif kind == "CronClock":
            text = f"cron {clock.get('cron')}"
        elif kind == "DatesClock":
            text = f"on {len(clock.get('dates') or [])} set date(s)"
        elif kind == "RRuleClock":
            text = f"by the rule {clock.get('rrule')}"
        else:
            text = str(kind)
        start = _when_text(clock.get("start_date") or clock.get("dtstart"))
        text += f" from {start}" if start else ""
        end = _when_text(clock.get("end_date"))
        parts.append(text + (f" until {end}" if end else ""))
    rules = sum(len(spec.get(k) or []) for k in ("filters", "or_filters", "not_filters", "adjustments"))
    return "; ".join(parts) + (f" (and {rules} filter(s) or adjustment(s))" if rules else "")


def _level(number: int) -> str:
    return next((name for name, n in sorted(LEVELS.items(), key=lambda kv: -kv[1]) if number >= n), "DEBUG")


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True, trim_blocks=True, lstrip_blocks=True,
                          undefined=jinja2.StrictUndefined)
@functools.lru_cache(maxsize=256)
def _color(state: str) -> str:
    return colors.color_for(state) if state in colors.STATE_COLORS else colors.color_for("State")


@functools.lru_cache(maxsize=256)
def _text_color(state: str) -> str:  # a badge per task-run row: 500 on a big run's page, worked out once per state
    return colors.text_color(_color(state))


_env.filters.update(when=_when, duration=_duration, level=_level, schedule_text=_schedule_text, color=_color, text_color=_text_color,
                    tojson_safe=lambda v: jinja2.utils.htmlsafe_json_dumps(v))
_env.globals["FAILED"] = FAILED


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    started = time.perf_counter()
    body = _env.get_template(name).render(request=request, path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status)
    response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found(request: Request, what: str) -> HTMLResponse:
    return _page(request, "error.html", status=404, title="Not found", message=what)


async def _read(request: Request, fn, *args, **kwargs):
    """A database read in the thread pool; None when the row is missing."""
    try:
        return await _api._call(request, fn, *args, **kwargs)
    except HTTPException as exc:
        if exc.status_code == 404:
            return None
        raise


def _same_origin(request: Request) -> bool:
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin:
        return origin.split("://", 1)[-1] == host
    referer = request.headers.get("referer")
    return bool(referer) and urllib.parse.urlsplit(referer).netloc == host


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def _refuse_cross_site(request: Request) -> HTMLResponse | None:
    if _same_origin(request):
        return None
    return _page(request, "error.html", status=403, title="Refused",
                 message="This form must be sent from this server's own page (the request named no Origin or Referer of this server). Open the page again and resend.")


# --- static files ------------------------------------------------------------------
@router.get("/ui/static/{name}")
async def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, f"No static file {name!r}.")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


# --- pages -------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    now = time.time()
    board = await _api._call(request, data.dashboard, now, settings.late_after_seconds)
    for key in ("failed", "running", "late", "upcoming"):
        board[key] = [_api._late(request, r) for r in board[key]]
    agents = await _api._call(request, o.list_agents, now, settings.heartbeat_seconds)
    return _page(request, "dashboard.html", title="Dashboard", board=board, agents=agents[:20], now=now)


@router.get("/projects", response_class=HTMLResponse)
async def projects_page(request: Request, search: str = "") -> HTMLResponse:
    rows = await _api._call(request, q.list_projects, search or None, 200, 0)
    counts = await _api._call(request, data.flow_counts)
    return _page(request, "projects.html", title="Projects", projects=rows, counts=counts, search=search)


@router.get("/flows", response_class=HTMLResponse)
async def flows(request: Request, search: str = "", project: str = "", offset: int = 0) -> HTMLResponse:
    offset = max(offset, 0)
    rows = await _api._call(request, q.list_flows, project or None, None, search or None, False, 101, offset)
    return _page(request, "flows.html", title="Flows", flows=rows[:100], more=len(rows) > 100, search=search, project=project, offset=offset)


async def _flow_page(request: Request, flow_id: str, status: int = 200, given: dict | None = None, errors: dict | None = None, problem: str | None = None):
    flow = await _read(request, q.get_flow, flow_id)
    if flow is None:
        return _not_found(request, f"No flow with id {flow_id!r}. It may have been deleted; find it on the Flows page.")
    versions = await _api._call(request, data.flow_versions, flow["project_id"], flow["name"])
    runs = await _api._call(request, q.list_flow_runs, flow_id, None, None, None, None, 50, 0)
    svg, mapped = run_svg(flow["graph"], [])
    return _page(request, "flow.html", status=status, title=flow["name"], flow=flow, versions=versions, runs=[_api._late(request, r) for r in runs],
                 svg=svg, fields=fields(flow["parameters"], given), errors=errors or {}, problem=problem, spec=page_spec(flow["parameters"]),
                 tasks=_tasks(flow["graph"], set(mapped)))


def _tasks(graph: dict | None, mapped: set[str], limit: int = 1000) -> dict:
    """The flow's tasks as its page lists them: name, kind, mapped or not, and the tasks each one waits for."""
    rows = [t for t in (graph or {}).get("tasks") or [] if t.get("type") != "Constant"]  # literals: not drawn, not listed
    names = {t["slug"]: t.get("name") or t["slug"] for t in rows}
    upstream: dict[str, list[str]] = {}
    for e in (graph or {}).get("edges") or []:
        if e["upstream"] not in names:
            continue
        upstream.setdefault(e["downstream"], [])
        if names.get(e["upstream"]) not in upstream[e["downstream"]]:
            upstream[e["downstream"]].append(names.get(e["upstream"], e["upstream"]))
    listed = [{"name": names[t["slug"]], "slug": t["slug"], "type": t.get("type") or "Task", "mapped": t["slug"] in mapped,
               "upstream": upstream.get(t["slug"], [])} for t in rows[:limit]]
    return {"rows": listed, "more": max(len(rows) - limit, 0)}


@router.get("/flows/{flow_id}", response_class=HTMLResponse)
async def flow_page(request: Request, flow_id: str) -> HTMLResponse:
    return await _flow_page(request, flow_id)


@router.post("/flows/{flow_id}/run", response_class=HTMLResponse)
async def run_flow(request: Request, flow_id: str) -> Response:
    refused = _refuse_cross_site(request)
    if refused:
        return refused
    form = await _form(request)
    flow = await _read(request, q.get_flow, flow_id)
    if flow is None:
        return _not_found(request, f"No flow with id {flow_id!r}; it cannot be run.")
    values, errors = read_form(flow["parameters"], form)
    if errors:
        return await _flow_page(request, flow_id, status=200, given=form, errors=errors, problem="Nothing was run: fix the fields marked below.")
    run = await _api._call(request, q.create_flow_run, flow, values, form.get("run_name") or None, write=True)
    _api._publish(request, [{"type": "state", "flow_run_id": run["id"], "task_run_id": None, "state": run["state"], "ts": run["created"]}])
    request.app.state.wakeup.notify()
    return RedirectResponse(f"/flow-runs/{run['id']}", status_code=303)


RUN_PAGE = 100  # runs per page of the run list


@router.get("/flow-runs", response_class=HTMLResponse)
async def flow_runs_page(request: Request, state: str = "", flow: str = "", hours: float = 0, offset: int = 0) -> HTMLResponse:
    """Runs newest first (of the last ``hours``, else of the last 30 days), by state and flow name, 100 a page."""
    offset, now = max(offset, 0), time.time()
    rows = await _api._call(request, q.list_flow_runs, None, flow or None, [state] if state else None, now - hours * 3600 if hours > 0 else None, None,
                            RUN_PAGE + 1, offset)

    def link(at: int) -> str:
        query = {k: v for k, v in (("state", state), ("flow", flow), ("hours", f"{hours:g}" if hours > 0 else "")) if v}
        return "/flow-runs?" + urllib.parse.urlencode({**query, "offset": at})

    return _page(request, "flow_runs.html", title="Flow runs", runs=[_api._late(request, r) for r in rows[:RUN_PAGE]], more=len(rows) > RUN_PAGE,
                 offset=offset, page=RUN_PAGE, state=state, flow=flow, hours=hours if hours > 0 else 0, states=sorted(_api.STATE_NAMES), link=link)


@router.get("/flow-runs/{run_id}", response_class=HTMLResponse)
async def flow_run_page(request: Request, run_id: str, level: str = "DEBUG") -> HTMLResponse:
    run = await _read(request, q.get_flow_run, run_id, with_tasks=True)
    if run is None:
        return _not_found(request, f"No flow run with id {run_id!r}. Old runs are deleted after the server's keep-days; see the dashboard for recent ones.")
    _api._late(request, run)
    flow = await _read(request, q.get_flow, run["flow_id"]) if run["flow_id"] else None
    graph = run["graph"] or (flow or {}).get("graph")
    svg, mapped = run_svg(graph, run["task_runs"])
    floor = LEVELS.get(level.upper(), 0)
    logs = await _api._call(request, q.list_logs, run_id, 0, 0, None, LOG_LINES)
    logs_cut = len(logs) == LOG_LINES
    last_log = (await _api._call(request, data.last_log_id, run_id)) if logs_cut else (logs[-1]["id"] if logs else 0)
    names = {t["id"]: t["task_name"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else "") for t in run["task_runs"]}
    states = await _api._call(request, q.list_states, flow_run_id=run_id)
    shown = run["task_runs"][:TASK_ROWS]
    boot = {"run_id": run_id, "state": run["state"], "mapped": mapped, "colors": colors.STATE_COLORS, "finished": sorted(_api.FINISHED), "order": list(colors.LEGEND_ORDER), "succeeded": SUCCEEDED,
            "restartable": list(FAILED) + ["Cancelled"], "text": {s: colors.text_color(c) for s, c in colors.STATE_COLORS.items()}, "last_log": last_log, "logs_cut": logs_cut,
            "task_runs": {f"{t['task_slug']}|{t['map_index']}": t["state"] for t in run["task_runs"]}, "version": run["version"],
            # what the table and the timeline show of the first rows: [key, id, name, start, end]
            "rows": [[f"{t['task_slug']}|{t['map_index']}", t["id"], t["task_name"], t["start_time"], t["end_time"]] for t in shown],
            "sizes": {t["task_slug"]: t["map_size"] for t in run["task_runs"] if t["map_index"] < 0 and t.get("map_size") is not None},
            "start": run["start_time"], "end": run["end_time"], "table_rows": TASK_ROWS, "timeline_bars": TIMELINE_BARS}
    timeline = _timeline(run, run["task_runs"], TIMELINE_BARS)
    counts: dict[str, int] = {}
    for t in run["task_runs"]:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    return _page(request, "flow_run.html", title=f"{run['name']} · run", run=run, flow=flow, svg=svg, logs=logs, names=names, level=level.upper(),
                 timeline=timeline, shown_tasks=shown, more_tasks=max(len(run["task_runs"]) - TASK_ROWS, 0), task_counts=dict(sorted(counts.items())),
                 floor=floor, levels=LEVELS, logs_cut=logs_cut, log_lines=LOG_LINES, states=states, boot=boot, finished=run["state"] in _api.FINISHED, mark_as=MARK_AS)


def _timeline(run: dict, task_runs: list[dict], limit: int = 200) -> dict | None:  # run.js draws the same from the stream
    """Bars of the task runs that started (the first ``limit``), as percentages of the run's span."""
    started = [t for t in task_runs if t["start_time"] is not None][:limit]
    if not started:
        return None
    now = time.time()
    begin = min(t["start_time"] for t in started)
    end = max([t["end_time"] or now for t in started] + [run["end_time"] or begin])
    span = max(end - begin, 1e-3)
    bars = [{"key": f"{t['task_slug']}|{t['map_index']}", "name": t["task_name"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else ""), "state": t["state"],
             "left": (t["start_time"] - begin) / span * 100, "width": max(((t["end_time"] or now) - t["start_time"]) / span * 100, 0.4),
             "duration": _duration(t["start_time"], t["end_time"])} for t in started]
    return {"bars": bars, "span": _duration(begin, end), "more": max(len([t for t in task_runs if t["start_time"] is not None]) - limit, 0)}


@router.get("/flow-runs/{run_id}/logs.txt")
async def flow_run_logs_text(request: Request, run_id: str, level: int = 0) -> Response:
    """The run's log lines as a text file (at most 100,000)."""
    run = await _read(request, q.get_flow_run, run_id, with_tasks=True)
    if run is None:
        return _not_found(request, f"No flow run with id {run_id!r}.")
    names = {t["id"]: t["task_name"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else "") for t in run["task_runs"]}
    lines, after = [], 0
    while len(lines) < 100_000:
        batch = await _api._call(request, q.list_logs, run_id, level, after, None, 10_000)
        if not batch:
            break
        lines.extend(f"{_when(l['timestamp'])} {_level(l['level']):8s} {names.get(l['task_run_id'], '-')}: {l['message']}" for l in batch)
        after = batch[-1]["id"]
    filename = f"{run['name']}-{run_id[:8]}.log".replace('"', "")
    return Response("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@router.get("/task-runs/{task_run_id}", response_class=HTMLResponse)
async def task_run_page(request: Request, task_run_id: str) -> HTMLResponse:
    task = await _read(request, q.get_task_run, task_run_id)
    if task is None:
        return _not_found(request, f"No task run with id {task_run_id!r}; open its flow run's page to see the task runs it has.")
    run = await _read(request, q.get_flow_run, task["flow_run_id"])
    logs = await _api._call(request, q.list_logs, task["flow_run_id"], 0, 0, task_run_id, 2000)
    return _page(request, "task_run.html", title=f"{task['task_name']} · task run", task=task, run=run, logs=logs)


@router.get("/agents", response_class=HTMLResponse)
async def agents_page(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    agents = await _api._call(request, o.list_agents, time.time(), settings.heartbeat_seconds)
    return _page(request, "agents.html", title="Agents", agents=agents, now=time.time(), heartbeat=settings.heartbeat_seconds)


# --- login -------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return _page(request, "login.html", title="Sign in", next=next if next.startswith("/") and not next.startswith("//") else "/")


@router.post("/login")
async def login(request: Request) -> Response:
    """Turn the token the page sent as ``Authorization: Bearer`` into the UI's cookie.

    The Guard has already checked that token (a wrong one never gets here), so the
    cookie holds a token known to be good: ``HttpOnly`` (no script reads it),
    ``SameSite=Strict`` (no other site's request carries it), ``Secure`` over https.
    """
    refused = _refuse_cross_site(request)
    if refused:
        return refused
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    response = Response(json.dumps({"ok": True, "cookie": bool(token)}), media_type="application/json")
    if token:
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/", max_age=30 * 86400)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    refused = _refuse_cross_site(request)
    if refused:
        return refused
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", samesite="strict", httponly=True)
    return response
