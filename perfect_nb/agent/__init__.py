"""Running registered flows without a person at the keyboard.

- :mod:`perfect_nb.agent.local`: ``perfect agent local start``, which claims due
  runs from the server and starts one process per run;
- :mod:`perfect_nb.agent.execute`: that process (``python -m perfect_nb execute
  flow-run ID``), which loads the registered flow, heartbeats, and runs it.

Both talk to the server only through :class:`perfect_nb.client.Client`.
"""

__all__: list[str] = []
