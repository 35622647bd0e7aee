"""Control flow, Prefect 1 style: branch with ``case``, ``switch`` or ``ifelse``,
join branches with ``merge``, and clean up mapped results with ``FilterTask``.

The branch not taken ends Skipped, and skips flow downstream as usual.

>>> from perfect_nb import Flow, task
>>> @task
... def is_even(n):
...     return n % 2 == 0
>>> @task
... def say(text):
...     return text
>>> with Flow("parity") as flow:
...     even = is_even(3)
...     with case(even, True):
...         yes = say("even")
...     with case(even, False):
...         no = say("odd")
...     answer = merge(yes, no)
>>> flow.run().result[answer].result
'odd'
"""

from perfect_nb.tasks.control_flow.case import case
from perfect_nb.tasks.control_flow.conditional import ifelse, merge, switch
from perfect_nb.tasks.control_flow.filter import FilterTask

__all__ = ["FilterTask", "case", "ifelse", "merge", "switch"]
