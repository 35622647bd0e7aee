"""State colours, their fallback along the class hierarchy, the legend and label contrast."""

import doctest
import random
import re

import pytest

from perfect_nb.engine import state as S
from perfect_nb.viz import colors
from perfect_nb.viz.colors import (
    LEGEND_ORDER,
    NO_STATE_COLOR,
    STATE_COLORS,
    color_for,
    legend,
    text_color,
)

STATE_CLASSES = [
    obj for obj in vars(S).values() if isinstance(obj, type) and issubclass(obj, S.State)
]

EXPECTED = {  # Prefect Core 1.x's state colours
    S.State: "#696969",
    S.Pending: "#7ebdff",
    S.Scheduled: "#ffab00",
    S.Paused: "#99a8e8",
    S.Resume: "#f58c0c",
    S.Retrying: "#f66a0a",
    S.MetaState: "#696969",  # no colour of its own: State's
    S.Submitted: "#ffdf5d",
    S.Queued: "#ffea7f",
    S.Running: "#3d67ff",
    S.Cancelling: "#e8e8e8",
    S.Finished: "#003ccb",
    S.Success: "#28a745",
    S.Cached: "#34d058",
    S.Mapped: "#003ccb",
    S.Skipped: "#62757f",
    S.Looped: "#003ccb",
    S.Cancelled: "#bdbdbd",
    S.Failed: "#eb0000",
    S.TimedOut: "#ff4e33",
    S.TriggerFailed: "#ff5131",
    S.ValidationFailed: "#ff5131",
    S.ClientFailed: "#eb0000",  # 1.4.1's ClientFailed.color (a MetaState with a colour of its own)
}


def test_doctests():
    assert doctest.testmod(colors).failed == 0


def test_every_state_class_is_covered():
    assert set(STATE_CLASSES) == set(EXPECTED)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_color_of_each_state(cls):
    want = EXPECTED[cls]
    assert color_for(cls()) == want
    assert color_for(cls) == want
    assert color_for(cls.__name__) == want


def test_the_table_is_the_state_classes_own_color():
    """One colour table: each state class's ``color`` (as Prefect 1's ``State.color``); the
    palette here only writes it in lower case."""
    for cls in STATE_CLASSES:
        assert color_for(cls) == cls.color.lower()
        if "color" in vars(cls):
            assert STATE_COLORS[cls.__name__] == cls.color.lower()

    class Custom(S.Failed):
        color = "#123ABC"

    assert color_for(Custom()) == "#123abc"


def test_palette_is_lowercase_hex():
    for colour in [*STATE_COLORS.values(), NO_STATE_COLOR]:
        assert re.fullmatch(r"#[0-9a-f]{6}", colour), colour


def test_subclasses_fall_back_to_nearest_ancestor():
    class Flaky(S.TriggerFailed):
        pass

    class VeryFlaky(Flaky):
        pass

    class Warm(S.Cached):
        pass

    class Odd(S.State):
        pass

    assert color_for(VeryFlaky()) == EXPECTED[S.TriggerFailed]
    assert color_for(Flaky) == EXPECTED[S.TriggerFailed]
    assert color_for(Warm(result=1)) == EXPECTED[S.Cached]
    assert color_for(Odd()) == EXPECTED[S.State]


def test_matching_is_by_name_so_reloaded_classes_still_match():
    Success = type("Success", (), {})  # a look-alike, as after a module reload
    assert color_for(Success()) == EXPECTED[S.Success]


def test_none_means_no_state_yet():
    assert color_for(None) == NO_STATE_COLOR


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown state name 'Sucess'"):
        color_for("Sucess")
    with pytest.raises(ValueError):
        color_for("NoResult")  # in the module, but not a state class
    with pytest.raises(TypeError, match="expected a State"):
        color_for(42)


def test_legend_order_lists_every_state_once():
    assert len(set(LEGEND_ORDER)) == len(LEGEND_ORDER)
    assert set(LEGEND_ORDER) == {cls.__name__ for cls in STATE_CLASSES}


def test_legend_is_stable_and_deduplicated():
    present = [S.Failed(), S.Running(), S.Pending(), S.Success(), S.Running(), None, S.Cached()]
    want = [
        ("Pending", EXPECTED[S.Pending]),
        ("Running", EXPECTED[S.Running]),
        ("Success", EXPECTED[S.Success]),
        ("Cached", EXPECTED[S.Cached]),
        ("Failed", EXPECTED[S.Failed]),
    ]
    rng = random.Random(0)
    for _ in range(5):
        rng.shuffle(present)
        assert legend(present) == want
    assert legend([]) == []
    assert legend(["Failed", S.Failed, S.Failed()]) == [("Failed", EXPECTED[S.Failed])]


def test_legend_places_subclasses_next_to_their_parent():
    class Flaky(S.Failed):
        pass

    got = legend([S.TimedOut(), Flaky(), S.Success(), S.Failed()])
    assert got == [
        ("Success", EXPECTED[S.Success]),
        ("Failed", EXPECTED[S.Failed]),
        ("Flaky", EXPECTED[S.Failed]),
        ("TimedOut", EXPECTED[S.TimedOut]),
    ]


@pytest.mark.parametrize(
    "fill, want",
    [
        ("#000000", "#ffffff"),
        ("#ffffff", "#000000"),
        ("#FFF", "#000000"),
        ("#28a745", "#000000"),
        ("#eb0000", "#ffffff"),
        ("#003ccb", "#ffffff"),
        ("#ffdf5d", "#000000"),
        ("#62757f", "#ffffff"),
        ("  #e8e8e8 ", "#000000"),
    ],
)
def test_text_color(fill, want):
    assert text_color(fill) == want


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((colors._luminance(a), colors._luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_color_is_readable_on_every_state_colour():
    for fill in STATE_COLORS.values():
        text = text_color(fill)
        other = "#ffffff" if text == "#000000" else "#000000"
        assert _contrast(fill, text) >= _contrast(fill, other)
        assert _contrast(fill, text) >= 3.0, fill  # WCAG AA for large text at least


@pytest.mark.parametrize("bad", ["28a745x", "#12", "#gggggg", "red", ""])
def test_text_color_rejects_non_hex(bad):
    with pytest.raises(ValueError, match="#rrggbb"):
        text_color(bad)
