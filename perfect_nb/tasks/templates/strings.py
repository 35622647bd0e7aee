"""``StringFormatter`` and ``JinjaTemplate``: render a template from context and arguments.

>>> from perfect_nb import Flow
>>> with Flow("greet") as flow:
...     msg = StringFormatter(template="{flow_name}: hi {who}")(who="ann")
>>> flow.run().result[msg].result
'greet: hi ann'
"""

from __future__ import annotations

from typing import Any

from perfect_nb.core.context import context
from perfect_nb.core.task import Task
from perfect_nb.utilities.tasks import defaults_from_attrs

__all__ = ["JinjaTemplate", "StringFormatter"]

def _values(format_kwargs: dict) -> dict:
    """The run context (``flow_name``, ``today``, ``parameters`` ...), the call's keywords winning."""
    return {**context.to_dict(), **format_kwargs}


class StringFormatter(Task):
    """``template.format(**values)``; a key missing from both context and arguments fails
    the task with the ``KeyError``."""

    def __init__(self, template: str | None = None, **kwargs: Any) -> None:
        self.template = template or ""
        super().__init__(**kwargs)

    @defaults_from_attrs("template")
    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        return template.format(**_values(format_kwargs))


class JinjaTemplate(Task):
    """Render ``template`` with Jinja2 (a dependency of perfect_nb); a missing name renders empty."""

    def __init__(self, template: str | None = None, **kwargs: Any) -> None:
        self.template = template or ""
        super().__init__(**kwargs)

    @defaults_from_attrs("template")
    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        import jinja2

        return jinja2.Template(template).render(**_values(format_kwargs))
