"""``SecretBase`` and ``PrefectSecret``: tasks whose result is a secret value.

A secret task is never checkpointed and takes no ``result=``; the engine does not log
task results, so the value shows only where the flow's own code puts it.

>>> from perfect_nb import Flow, context
>>> with Flow("uses a secret") as flow:
...     key = flow.add_task(PrefectSecret("API_KEY"))
>>> with context(secrets={"API_KEY": "xyz"}):
...     flow.run().result[key].result
'xyz'
"""

from __future__ import annotations

from typing import Any

from perfect_nb.client.secrets import Secret
from perfect_nb.core.task import Task

__all__ = ["PrefectSecret", "SecretBase"]


class SecretBase(Task):
    """Base of the secret tasks: checkpointing off, result not configurable."""

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        if kwargs.get("result"):
            raise ValueError("Result types for Secrets are not configurable.")
        kwargs["checkpoint"] = False
        self.secret_name = name
        kwargs.setdefault("name", name)
        super().__init__(**kwargs)

    def _name(self, name: str | None) -> str:
        """The secret to read: the one given to run(), else the task's own."""
        name = name if name is not None else self.secret_name
        if name is None:
            raise ValueError("A secret name must be provided.")
        return name


class PrefectSecret(SecretBase):
    """The value of the secret ``name`` (the task is named after it). As in Prefect 1,
    creating it inside ``with Flow(...)`` does not add it to the flow: call it, pass it
    to a task, or ``flow.add_task`` it."""

    def run(self, name: str | None = None) -> Any:
        return Secret(self._name(name)).get()
