"""Messages that quote a value stay small however large the value is."""

import pytest

from perfect_nb import Flow, Parameter, task
from perfect_nb.errors import ParameterError

BIG = "x" * 50_000_000  # 50 MB


def test_a_huge_parameter_value_gives_a_short_error():
    with Flow("choices") as flow:
        Parameter("mode", default="a", choices=["a", "b"])
    with pytest.raises(ParameterError) as info:
        flow.run(mode=BIG)
    message = str(info.value)
    assert len(message) < 1_000 and "'mode'" in message and "must be one of" in message


def test_a_task_failing_with_a_huge_value_gives_a_short_state_message():
    @task
    def explode():
        raise ValueError(BIG)

    with Flow("big failure") as flow:
        boom = explode()
    state = flow.run().result[boom]
    assert state.is_failed() and state.message.startswith("Error during execution of task: ValueError('xxx")
    assert len(state.message) < 1_000
    assert state.result.args[0] is BIG  # the exception itself is kept whole
