"""Prefect 1's template tasks: ``StringFormatter`` (``str.format``) and ``JinjaTemplate``.

Both fill the template from the run context (``flow_name``, ``today``, ``parameters`` ...;
a parameter is not a key of its own, as in Prefect 1) and from the call's keyword
arguments, which win.
"""

from perfect_nb.tasks.templates.strings import JinjaTemplate, StringFormatter

__all__ = ["JinjaTemplate", "StringFormatter"]
