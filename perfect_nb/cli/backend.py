"""The backend's commands: ``perfect server ...``, ``perfect backend ...``, ``perfect create project``,
``perfect register`` and ``perfect run --name``.

::

    perfect server start [--host 127.0.0.1] [--port 4200] [--database-url URL] [--keep-days 30]
    perfect server status
    perfect server database upgrade|reset [--database-url URL] [--yes]
    perfect backend server [--api http://127.0.0.1:4200] | perfect backend none
    perfect create project NAME [--description TEXT] [--skip-if-exists]
    perfect register --project NAME -p flows.py [-p notebook.ipynb] [--label L] [--force]
    perfect run --name FLOW [--project NAME] [--param k=v] [--execute | --watch]
    perfect agent local start [--label L ...] [--concurrency N] [--api URL] [--show-flow-logs]
    perfect cancel RUN_ID | perfect restart RUN_ID
    perfect flow schedule NAME --on|--off [--project NAME]
    python -m perfect_nb execute flow-run RUN_ID   (what an agent starts for each run)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from perfect_nb.cli.session import EXIT_FAILED, EXIT_OK, CommandError, Session

__all__ = ["add_commands", "run_registered"]


def add_commands(commands: Any) -> None:
    """Add the backend's sub-commands to the ``perfect`` parser."""
    server = commands.add_parser("server", help="the orchestration server: start, status, database")
    server_cmds = server.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    start = server_cmds.add_parser("start", help="start the server (one process: API and database)")
    start.add_argument("--host", help="address to bind (default 127.0.0.1; any other address needs a token)")
    start.add_argument("--port", type=int, help="port (default 4200)")
    start.add_argument("--database-url", help="sqlite:///PATH (default: server.db in $PERFECT_NB_HOME) or postgresql+psycopg://USER:PASSWORD@HOST/DB; also PERFECT_NB_DATABASE_URL")
    start.add_argument("--keep-days", type=float, help="delete runs older than this many days (default 30; 0 keeps all)")
    start.set_defaults(handler=_server_start)
    status = server_cmds.add_parser("status", help="does a server answer at the configured address?")
    status.add_argument("--api", help="the server's address (default: [backend] api)")
    status.set_defaults(handler=_server_status)
    database = server_cmds.add_parser("database", help="upgrade or reset the server's database")
    database.add_argument("action", choices=["upgrade", "reset"])
    database.add_argument("--database-url")
    database.add_argument("--yes", action="store_true", help="reset without asking (every run is deleted)")
    database.set_defaults(handler=_server_database)

    backend = commands.add_parser("backend", help="record flow runs in a server (server) or not (none)")
    backend.add_argument("kind", choices=["server", "none"])
    backend.add_argument("--api", help="the server's address (default http://127.0.0.1:4200)")
    backend.set_defaults(handler=_backend)

    create = commands.add_parser("create", help="create a project in the server")
    create_cmds = create.add_subparsers(dest="create_command", metavar="WHAT", required=True)
    project = create_cmds.add_parser("project", help="create a project")
    project.add_argument("name")
    project.add_argument("--description", default="")
    project.add_argument("--skip-if-exists", action="store_true", help="exit 0 when the project exists already")
    project.set_defaults(handler=_create_project)

    register = commands.add_parser("register", help="register every flow of Python files with the server")
    register.add_argument("--project", required=True)
    register.add_argument("-p", "--path", action="append", required=True,
                          help="a .py file whose Flow objects are registered, or a notebook whose %%%%perfect_flow cells' flows are (built, not run); repeatable")
    register.add_argument("--label", action="append", default=[], help="a label for the flows; repeatable")
    register.add_argument("--force", action="store_true", help="bump the version even when nothing changed")
    register.set_defaults(handler=_register)

    agent = commands.add_parser("agent", help="run registered flows: claim due runs from the server")
    agent_kinds = agent.add_subparsers(dest="agent_kind", metavar="KIND", required=True)
    local = agent_kinds.add_parser("local", help="run each flow run in a process on this machine")
    local_cmds = local.add_subparsers(dest="agent_command", metavar="ACTION", required=True)
    local_start = local_cmds.add_parser("start", help="start a local agent (Ctrl-C stops it; running flows go on)")
    local_start.add_argument("-l", "--label", action="append", default=[], help="a label this agent has; it takes runs all of whose labels it has; repeatable")
    local_start.add_argument("--concurrency", type=int, default=1, help="how many flow runs at once (default 1)")
    local_start.add_argument("--api", help="the server's address (default: [backend] api)")
    local_start.add_argument("--name", help="the agent's name (default HOST-PID)")
    local_start.add_argument("--show-flow-logs", action="store_true", help="let the flow runs print here (default: a file per run under $PERFECT_NB_HOME/agent-logs)")
    local_start.add_argument("--grace", type=float, default=10.0, help="seconds a cancelled run has to stop after SIGTERM before SIGKILL (default 10)")
    local_start.set_defaults(handler=_agent_start)

    execute = commands.add_parser("execute", help="(started by an agent) execute one claimed flow run in this process")
    execute_cmds = execute.add_subparsers(dest="execute_what", metavar="WHAT", required=True)
    execute_run = execute_cmds.add_parser("flow-run", help="execute the flow run RUN_ID")
    execute_run.add_argument("run_id")
    execute_run.set_defaults(handler=_execute_flow_run)

    for verb, text in (("cancel", "cancel a flow run: unfinished task runs end Cancelled, finished ones keep their states"),
                       ("restart", "run again what did not succeed in a finished flow run, reusing the stored results of what did")):
        cmd = commands.add_parser(verb, help=text)
        cmd.add_argument("run_id")
        cmd.add_argument("--watch", action="store_true", help="follow the run until it ends; exit 0 if it succeeded")
        cmd.set_defaults(handler=_cancel if verb == "cancel" else _restart)

    flow = commands.add_parser("flow", help="registered flows: switch a schedule on or off")
    flow_cmds = flow.add_subparsers(dest="flow_command", metavar="ACTION", required=True)
    schedule = flow_cmds.add_parser("schedule", help="switch the server-side schedule of a registered flow")
    schedule.add_argument("name")
    schedule.add_argument("--project")
    onoff = schedule.add_mutually_exclusive_group(required=True)
    onoff.add_argument("--on", dest="active", action="store_true")
    onoff.add_argument("--off", dest="active", action="store_false")
    schedule.set_defaults(handler=_flow_schedule)


def _api_from(config: Any, given: str | None) -> str:
    return (given or config.backend.api).rstrip("/")


def _server_start(args: argparse.Namespace) -> int:
    from perfect_nb.configuration import load_config
    from perfect_nb.server.db import DatabaseError
    from perfect_nb.server.main import start

    config = load_config().server
    url = args.database_url or os.environ.get("PERFECT_NB_DATABASE_URL") or config.database_url or None
    keep = config.keep_days if args.keep_days is None else args.keep_days
    try:
        start(args.host or config.host, args.port or int(config.port), url, keep_days=float(keep))
    except (DatabaseError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


def _server_status(args: argparse.Namespace) -> int:
    from perfect_nb.client import Client, ClientError

    with Client(api=args.api) as client:
        try:
            health = client.health()
        except ClientError as exc:
            print(f"No: {exc}")
            return EXIT_FAILED
        print(f"Yes: perfect_nb {health['version']} server at {client.api}, database {health['database']}.")
    return EXIT_OK


def _server_database(args: argparse.Namespace) -> int:
    from perfect_nb.configuration import load_config
    from perfect_nb.server.db import Database, DatabaseError, redact
    from perfect_nb.server.db.migrate import reset, upgrade

    url = args.database_url or os.environ.get("PERFECT_NB_DATABASE_URL") or load_config().server.database_url or None
    try:
        db = Database(url)
        if args.action == "reset":
            if not args.yes:
                if not sys.stdin.isatty() or input(f"Delete every run in {redact(db.url)}? [y/N] ").strip().lower() != "y":
                    raise CommandError("not reset (give --yes to reset without asking).")
            revision = reset(db)
        else:
            revision = upgrade(db)
    except DatabaseError as exc:
        raise CommandError(str(exc)) from None
    print(f"{redact(db.url)}: schema at revision {revision}.")
    return EXIT_OK


def _backend(args: argparse.Namespace) -> int:
    from perfect_nb.configuration import set_user_config

    path = set_user_config("backend", "kind", args.kind)
    if args.api:
        set_user_config("backend", "api", args.api.rstrip("/"))
    if args.kind == "server":
        from perfect_nb.configuration import load_config

        print(f"Flow runs are now recorded in the server at {load_config().backend.api} (written to {path}).")
    else:
        print(f"Flow runs are no longer recorded in a server (written to {path}).")
    return EXIT_OK


def _create_project(args: argparse.Namespace) -> int:
    from perfect_nb.client import Client, ClientError

    with Client() as client:
        try:
            client.create_project(args.name, args.description)
        except ClientError as exc:
            if exc.status == 409 and args.skip_if_exists:
                print(f"Project {args.name!r} exists already.")
                return EXIT_OK
            raise CommandError(str(exc)) from None
    print(f"Project {args.name!r} created.")
    return EXIT_OK


def _register(args: argparse.Namespace) -> int:
    from perfect_nb.cli.pyfile import load_flows
    from perfect_nb.client.register import register
    from perfect_nb.errors import ClientError, SerializationError

    flows = []
    for given in args.path:
        path = Path(given)
        if not path.is_file() or path.suffix not in (".py", ".ipynb"):
            raise CommandError(f"{given}: not a Python file (.py) or a notebook (.ipynb).")
        if path.suffix == ".ipynb":
            from perfect_nb.cli.notebook import notebook_flows  # imports IPython: only for notebooks

            flows.extend(notebook_flows(path))
            continue
        found = load_flows(path)
        if not found:
            raise CommandError(f"{given} defines no Flow.")
        flows.extend(found.values())
    for flow in flows:
        try:
            register(flow, args.project, labels=args.label, force=args.force)
        except (ClientError, SerializationError) as exc:
            raise CommandError(str(exc)) from None
    return EXIT_OK


def _agent_start(args: argparse.Namespace) -> int:
    from perfect_nb.agent.local import LocalAgent
    from perfect_nb.errors import ClientError

    if args.concurrency < 1:
        raise CommandError(f"--concurrency must be at least 1, got {args.concurrency}.")
    agent = LocalAgent(api=args.api, labels=args.label, concurrency=args.concurrency, name=args.name, show_flow_logs=args.show_flow_logs, grace=args.grace)
    try:
        agent.start()
    except ClientError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _execute_flow_run(args: argparse.Namespace) -> int:
    import logging

    from perfect_nb.agent.execute import execute_flow_run

    if "PERFECT_NB_LOGGING_LEVEL" not in os.environ:  # the run's INFO logs go to the server
        logging.getLogger("perfect_nb").setLevel(logging.INFO)
    return execute_flow_run(args.run_id)


def _client_call(fn_name: str, *args: Any) -> Any:
    from perfect_nb.client import Client, ClientError

    with Client() as client:
        try:
            return getattr(client, fn_name)(*args)
        except ClientError as exc:
            raise CommandError(str(exc)) from None


def _cancel(args: argparse.Namespace) -> int:
    info = _client_call("cancel_flow_run", args.run_id)
    print(f"Flow run {args.run_id}: {type(info.state).__name__}" + (f" ({info.state.message})" if info.state.message else ""), flush=True)
    return _follow(args.run_id) if args.watch else EXIT_OK


def _restart(args: argparse.Namespace) -> int:
    info = _client_call("restart_flow_run", args.run_id)
    print(f"Flow run {args.run_id} is Scheduled again; an agent runs what did not succeed.", flush=True)
    if info.get("rerun"):
        print(f"These task runs succeeded but kept no result (checkpoint=False, or a result that could not be written), so they run again: {', '.join(info['rerun'])}.", flush=True)
    return _follow(args.run_id) if args.watch else EXIT_OK


def _follow(run_id: str) -> int:
    from perfect_nb.client import Client, ClientError

    with Client() as client:
        try:
            return _watch(client, run_id)
        except ClientError as exc:
            raise CommandError(str(exc)) from None


def _flow_schedule(args: argparse.Namespace) -> int:
    out = _client_call("set_schedule_active", args.name, args.active, args.project)
    if args.active:
        extra = "" if out["has_schedule"] else " (it has no schedule: register it with one, e.g. Flow(..., schedule=IntervalSchedule(...)))"
        print(f"Schedule of {args.name!r} is on{extra}.")
    else:
        print(f"Schedule of {args.name!r} is off; {out['deleted_runs']} scheduled run(s) that had not started were deleted.")
    return EXIT_OK


def run_registered(args: argparse.Namespace, params: dict, executor: Any) -> int:
    """``perfect run --name FLOW``: create a run on the server; execute it here or follow it."""
    from perfect_nb.client import Client, ClientError

    with Client() as client:
        try:
            run_id = client.create_flow_run(flow_name=args.name, project_name=args.project, parameters=params)
            print(f"Created flow run {run_id} of {args.name!r}.", flush=True)
            if args.execute:
                return _execute(client, run_id, executor, args.quiet)
            if args.watch:
                return _watch(client, run_id)
        except ClientError as exc:
            raise CommandError(str(exc)) from None
    return EXIT_OK


def _execute(client: Any, run_id: str, executor: Any, quiet: bool) -> int:
    info = client.get_flow_run_info(run_id)
    flow = client.load_flow(info.flow_id)
    session = Session(info.parameters, executor, quiet=quiet)
    session.track(flow, lambda listeners: flow.run(
        parameters=info.parameters, executor=executor, run_on_schedule=False, listeners=listeners, backend=client,
        context={"flow_run_id": run_id, "flow_id": info.flow_id, "flow_run_name": info.name,
                 "checkpointing": True},  # a backend run writes its results (a restart reuses them), as in Prefect Server
    ))
    return session.finish()


def _no_agent_hint(client: Any, info: Any) -> str:
    """Why a run is still Scheduled: no live agent has its labels, or they are all busy."""
    labels = set(info.get("labels") or [])
    able = [a for a in client.agents() if a["alive"] and labels <= set(a["labels"])]
    wanted = f"the labels {sorted(labels)}" if labels else "no labels"
    if not able:
        return (f"Still Scheduled: no running agent has {wanted}. Start one with `perfect agent local start"
                + "".join(f" --label {label}" for label in sorted(labels)) + "` (or run it here with `perfect run --name ... --execute`).")
    return f"Still Scheduled: {len(able)} agent(s) with {wanted} are busy; it starts when one has a free slot (see --concurrency)."


def _watch(client: Any, run_id: str, poll: float = 0.5, hint_after: float = 3.0) -> int:
    """Print the run's state changes and logs until it finishes; exit 0 on success."""
    started, seen_states, last_log, hinted, late_said = time.monotonic(), 0, 0, False, False
    while True:
        states = client.get_flow_run_states(run_id)
        for s in states[seen_states:]:
            print(f"{time.strftime('%H:%M:%S', time.localtime(s['timestamp']))} flow run {s['state']}" + (f"  {s['message']}" if s.get("message") else ""), flush=True)
        seen_states = len(states)
        for record in client.get_logs(run_id, after_id=last_log):
            print(f"{time.strftime('%H:%M:%S', time.localtime(record['timestamp']))} {record['name']}: {record['message']}", flush=True)
            last_log = record["id"]
        info = client.get_flow_run_info(run_id)
        if info.state.is_finished():
            counts: dict[str, int] = {}
            for t in info.task_runs:
                name = type(t.state).__name__
                counts[name] = counts.get(name, 0) + 1
            print(f"Flow run {run_id}: {type(info.state).__name__} ({', '.join(f'{n} {k}' for k, n in sorted(counts.items())) or 'no task runs'}).", flush=True)
            return EXIT_OK if info.state.is_successful() else EXIT_FAILED
        due = type(info.state).__name__ == "Scheduled" and info.scheduled_start_time <= time.time()
        if not hinted and due and time.monotonic() - started > hint_after:
            hinted = True
            print(_no_agent_hint(client, info), file=sys.stderr, flush=True)
        if info.get("late") and not late_said:
            late_said = True
            print(f"{time.strftime('%H:%M:%S')} flow run Late  still Scheduled {time.time() - info.scheduled_start_time:.0f} s after its time", flush=True)
        time.sleep(poll)
