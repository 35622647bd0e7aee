"""``Constant``: a task that returns a fixed value (Prefect 1's ``tasks.core.constants``).

Defined in :mod:`perfect_nb.core.implicit`, with the other tasks the model makes
by itself; this module is its Prefect 1 path.

>>> Constant([1, 2]).run(), Constant([1, 2]).name, Constant(list(range(9))).name
([1, 2], '[1, 2]', 'Constant[list]')
"""

from perfect_nb.core.implicit import Constant

__all__ = ["Constant"]
