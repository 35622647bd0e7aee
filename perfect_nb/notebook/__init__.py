"""The notebook layer: ``%%perfect_flow``, the live ``FlowView`` and parameter forms.

Importing this package imports IPython and ipywidgets; the engine never does.
"""

from perfect_nb.notebook.view import DagView, FlowView, views

__all__ = ["DagView", "FlowView", "views"]
