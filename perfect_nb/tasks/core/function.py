"""``FunctionTask``, the task ``@task`` makes from a function (Prefect 1's
``tasks.core.function``).

>>> double = FunctionTask(lambda x: 2 * x, name="double")
>>> double.name, double.run(4)
('double', 8)
"""

from perfect_nb.core.task import FunctionTask

__all__ = ["FunctionTask"]
