"""perfect_nb's version, in a module of its own so that any layer may read it without
importing the package's face (``perfect_nb/__init__.py``, which imports nearly everything)."""

__version__ = "0.1.0"
