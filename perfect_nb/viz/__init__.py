"""Drawing a flow: state colours (``colors``), DOT text (``dot``) and DOT -> SVG (``render``).

SVG comes from the system ``dot`` or from Graphviz compiled to WebAssembly (see
`perfect_nb.viz.render`). The ``graphviz`` Python package is imported only inside
`perfect_nb.viz.dot.visualize`, for the ``graphviz.Digraph`` that ``flow.visualize()`` returns.
"""
