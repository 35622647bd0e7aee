"""The context and checkpointing of a flow run started by an agent, against Prefect 1.4.1's
Server runs: real server, real agent, real run process (the orchestra of test_agent.py)."""

from __future__ import annotations

import datetime as dt
import json

from tests.backend.test_agent import orchestra  # noqa: F401  (the fixture)

FLOW = '''
import json
from perfect_nb import Flow, Parameter, context, task
from perfect_nb.engine.results import LocalResult

@task(target="{task_name}.pkl")
def facts(out):
    seen = {"checkpointing": context.checkpointing, "flow_run_name": context.flow_run_name,
            "scheduled": context.scheduled_start_time.timestamp(), "date": context.date.timestamp()}
    with open(out, "w") as f:
        json.dump(seen, f)
    return 1

with Flow("facts", result=LocalResult(dir=%r)) as flow:
    facts(Parameter("out"))
'''


def test_an_agent_run_checkpoints_and_its_context_has_the_runs_schedule(orchestra):  # noqa: F811
    """Prefect 1.4.1's backend runs checkpoint whatever flows.checkpointing says (its CloudTaskRunner
    sets checkpointing=True) and their context's scheduled_start_time is the run's scheduled time
    (CloudFlowRunner), while date is when the run started (read in 1.4.1's engine/cloud code; a
    Prefect Server was not run here). Here: an agent's run of a flow scheduled a minute ago writes
    its target and sees the same context."""
    results = orchestra.tmp / "results"
    flow_id = orchestra.register(FLOW % str(results), name="facts_flow.py")
    scheduled = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=1)
    out = orchestra.tmp / "facts.json"
    run_id = orchestra.client.create_flow_run(flow_id, parameters={"out": str(out)}, scheduled_start_time=scheduled, run_name="nightly")
    orchestra.agent()
    assert orchestra.wait_state(run_id, "Success", "Failed", timeout=30).state.is_successful()
    seen = json.loads(out.read_text())
    assert seen["checkpointing"] is True and (results / "facts.pkl").exists()
    assert seen["flow_run_name"] == "nightly"
    assert seen["scheduled"] == scheduled.timestamp()
    assert seen["date"] > scheduled.timestamp() + 30  # the run started now, not a minute ago
