"""Tasks that gather results into a list, tuple, set or dict (Prefect 1's
``tasks.core.collections``).

They appear when a collection holding tasks is passed as an argument:
``total(values=[a, b, 3])`` makes a ``List`` task fed by ``a`` and ``b``. Called
in a flow they take positional arguments, which become ``arg_1``, ``arg_2``, ...
as in Prefect 1. Defined in :mod:`perfect_nb.core.implicit`, with the other tasks
the model makes by itself; this module is their Prefect 1 path.

>>> List().run(arg_2="b", arg_1="a"), Dict().run(keys=["k"], values=[1])
(['a', 'b'], {'k': 1})
"""

from perfect_nb.core.implicit import Dict, List, Set, Tuple, VarArgsTask

__all__ = ["Dict", "List", "Set", "Tuple", "VarArgsTask"]
