"""Drawing a flow: state colours (``colors``), DOT text (``dot``) and DOT -> SVG (``render``).

Nothing here imports the ``graphviz`` Python package; SVG comes from the system ``dot`` or
from Graphviz compiled to WebAssembly (see `perfect_nb.viz.render`).
"""
