"""Prefect 1's ``prefect.utilities.context``: the :class:`Context` class and the ``context``
object (the same as ``perfect_nb.context``).

>>> from perfect_nb.utilities.context import Context, context
>>> import perfect_nb
>>> context is perfect_nb.context and isinstance(context, Context)
True
"""

from perfect_nb.core.context import Context, context

__all__ = ["Context", "context"]
