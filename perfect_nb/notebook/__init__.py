"""The notebook layer: ``%%perfect_flow``, the live ``FlowView`` and parameter forms.

Importing this package imports IPython and ipywidgets; the engine never does.
"""

from typing import Any

from perfect_nb.notebook.cache import caches, config, get_cache
from perfect_nb.notebook.view import DagView, FlowView, views

__all__ = ["DagView", "FlowView", "caches", "config", "get_cache", "rerun", "views"]


def rerun(flow: Any, task: Any, downstream: bool = True):
    """Run ``task`` (a Task, slug or name) of ``flow`` again with its inputs from the cache,
    then its downstream tasks (only it with ``downstream=False``). Returns the flow State.

    Uses the view ``%%perfect_flow`` displayed for this flow (and its last parameters) when
    there is one, so that view recolours.
    """
    from perfect_nb.notebook.magics import cell_views

    shown = [views.get(flow.name), *cell_views.values()]  # a cell's own view, when two cells share a name
    view = next((v for v in shown if v is not None and v.flow is flow), None)
    if view is None:
        view = FlowView(flow)
    return view.rerun(task, downstream=downstream)
