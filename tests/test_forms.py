"""Parameter forms in the kernel (no browser): widget choice, values round-trip, validation, Run."""

import datetime as dt
import doctest
import enum

import ipywidgets as widgets
import pytest
import traitlets

from perfect_nb import Parameter
from perfect_nb.core.parameter import DateTimeParameter
from perfect_nb.notebook import forms
from perfect_nb.notebook.forms import ParameterForm, widget_for


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


UTC = dt.timezone.utc

# (parameter factory, widget class, a value other than the default that the field must hold)
KINDS = {
    "bool": (lambda: Parameter("p", default=False), widgets.Checkbox, True),
    "bool_true": (lambda: Parameter("p", default=True), widgets.Checkbox, False),
    "int": (lambda: Parameter("p", default=3), widgets.Text, -7),  # typed as text, read strictly
    "int_bounds": (lambda: Parameter("p", default=3, bounds=(1, 10)), widgets.IntSlider, 9),
    "bounds_only": (lambda: Parameter("p", bounds=(0, 5)), widgets.IntSlider, 4),
    "float": (lambda: Parameter("p", default=1.5), widgets.Text, 2.25),
    "float_bounds": (lambda: Parameter("p", default=0.5, bounds=(0.0, 1.0)), widgets.FloatSlider, 0.75),
    "str": (lambda: Parameter("p", default="hi"), widgets.Text, "hello world"),
    "date": (lambda: Parameter("p", default=dt.date(2024, 1, 2)), widgets.DatePicker, dt.date(2025, 3, 4)),
    "datetime": (lambda: Parameter("p", default=dt.datetime(2024, 1, 2, 3, 4)), widgets.NaiveDatetimePicker, dt.datetime(2025, 1, 1, 8)),
    "datetime_tz": (lambda: Parameter("p", default=dt.datetime(2024, 1, 2, tzinfo=UTC)), widgets.DatetimePicker, dt.datetime(2025, 1, 1, tzinfo=UTC)),
    "datetime_param": (lambda: DateTimeParameter("p", default="2024-05-06T07:08"), widgets.NaiveDatetimePicker, dt.datetime(2020, 2, 2, 2, 2)),
    "enum": (lambda: Parameter("p", default=Color.RED), widgets.Dropdown, Color.BLUE),
    "choices": (lambda: Parameter("p", default="a", choices=["a", "b", "c"]), widgets.Dropdown, "c"),
    "int_choices": (lambda: Parameter("p", default=1, choices=[1, 2, 3]), widgets.Dropdown, 3),
    "list": (lambda: Parameter("p", default=[1, 2]), widgets.Textarea, [3, "x", {"k": None}]),
    "dict": (lambda: Parameter("p", default={"a": 1}), widgets.Textarea, {"b": [1.5, 2], "c": "d"}),
    "tuple": (lambda: Parameter("p", default=(1, "a")), widgets.Textarea, (2, "b", 3.0)),
    "none": (lambda: Parameter("p", required=False), widgets.Text, {"x": 1}),
    "none_str": (lambda: Parameter("p", required=False), widgets.Text, "just text"),
    "none_str_literal": (lambda: Parameter("p", required=False), widgets.Text, "[1, 2]"),
    "none_int": (lambda: Parameter("p", required=False), widgets.Text, 42),
}


@pytest.mark.parametrize("kind", KINDS)
def test_widget_type_for_each_kind(kind):
    make, expected, _ = KINDS[kind]
    assert type(widget_for(make())) is expected


def test_bool_is_tested_before_int():
    assert isinstance(True, int)  # why the order matters
    assert type(widget_for(Parameter("flag", default=True, bounds=(0, 1)))) is widgets.Checkbox
    assert type(ParameterForm([Parameter("flag", default=False)]).fields["flag"]) is widgets.Checkbox


def test_slider_gets_bounds_and_float_bounds_give_float_slider():
    slider = widget_for(Parameter("n", default=2, bounds=(1, 10)))
    assert (slider.min, slider.max) == (1, 10)
    assert type(widget_for(Parameter("x", default=2, bounds=(0, 2.5)))) is widgets.FloatSlider


@pytest.mark.parametrize("kind", KINDS)
def test_default_is_read_back(kind):
    make, _, _ = KINDS[kind]
    p = make()
    expected = p.parse(p.default) if isinstance(p, DateTimeParameter) else p.default
    if kind == "bounds_only":
        expected = 0  # a slider with no default starts at its low bound
    value = ParameterForm([p]).values["p"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("kind", KINDS)
def test_values_round_trip(kind):
    make, _, new = KINDS[kind]
    form = ParameterForm([make()])
    form.values = {"p": new}
    got = form.values["p"]
    assert got == new and type(got) is type(new)
    assert form.validate() == {"p": new} and form.errors == {}


@pytest.mark.parametrize("kind", ["list", "dict", "tuple", "none", "none_int", "none_str_literal"])
def test_literal_fields_show_the_literal_and_parse_what_is_typed(kind):
    make, _, new = KINDS[kind]
    form = ParameterForm([make()])
    form.values = {"p": new}
    assert eval(form.fields["p"].value) == new  # the text is the Python literal
    form.fields["p"].value = repr(new)  # typing the literal gives the value back
    assert form.values["p"] == new


def test_untyped_text_is_a_string_unless_it_looks_like_a_literal():
    form = ParameterForm([Parameter("p", required=False)])
    for text, value in [("hello", "hello"), ("42", 42), ("[1, 'a']", [1, "a"]), ("'42'", "42"), ("  ", None), ("2024-01-02", "2024-01-02")]:
        form.fields["p"].value = text
        assert form.values["p"] == value, text


def test_datetime_parameter_accepts_iso_strings_and_dates():
    form = ParameterForm([DateTimeParameter("when")])
    form.values = {"when": "2024-02-03T04:05"}
    assert form.fields["when"].value == dt.datetime(2024, 2, 3, 4, 5)
    form.values = {"when": dt.date(2024, 2, 3)}
    assert form.validate() == {"when": dt.datetime(2024, 2, 3)}


def test_description_tooltip_help_and_required_mark():
    p = Parameter("who", help="Whom to greet")
    form = ParameterForm([p, Parameter("n", default=1)])
    assert form.fields["who"].description == "who *"
    assert form.fields["n"].description == "n"
    assert form.fields["who"].tooltip == "Whom to greet"
    assert "Whom to greet" in form._fields["who"].row.children[1].value


def test_rows_are_sorted_by_name_and_run_button_is_primary():
    form = ParameterForm([Parameter("b", default=1), Parameter("a", default=2)])
    assert list(form.fields) == ["a", "b"]
    assert form.children[0].children[0].children[0] is form.fields["a"]
    assert isinstance(form.run_button, widgets.Button) and form.run_button.description == "Run"
    assert form.run_button.button_style == "primary"
    assert form.children[-1].children[0] is form.run_button


def test_duplicate_names_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        ParameterForm([Parameter("a", default=1), Parameter("a", default=2)])


def test_repr_is_cheap_and_stable():
    form = ParameterForm([Parameter("y", default=1), Parameter("x", default=2)])
    assert repr(form) == "<ParameterForm: 2 parameters: 'x', 'y'>"
    assert form._repr_mimebundle_()["text/plain"] == repr(form)


def message(form, name):
    return form._fields[name].message.value


@pytest.fixture
def calls():
    return []


def test_required_empty_shows_message_and_does_not_run(calls):
    form = ParameterForm([Parameter("who"), Parameter("n", default=1)], on_submit=calls.append)
    form.run_button.click()
    assert calls == []
    assert form.errors == {"who": "Required: enter a value."}
    assert "Required" in message(form, "who") and message(form, "n") == ""
    assert "1 field to fix" in form.status.value


def test_required_str_left_empty_is_an_error(calls):
    form = ParameterForm([Parameter("s", default="x", required=True)], on_submit=calls.append)
    form.fields["s"].value = ""
    assert form.click_run() is None and calls == [] and "s" in form.errors


def test_unparseable_literal_shows_message(calls):
    form = ParameterForm([Parameter("items", default=[1])], on_submit=calls.append)
    form.fields["items"].value = "[1, 2"
    assert form.click_run() is None and calls == []
    assert "Not a valid Python literal" in form.errors["items"]
    assert "Not a valid Python literal" in message(form, "items")
    with pytest.raises(ValueError, match="items"):
        form.values


def test_text_that_is_no_literal_in_a_literal_field_says_so():
    form = ParameterForm([Parameter("items", default=[1])])
    form.fields["items"].value = "1, two"
    assert form.validate() is None
    assert form.errors["items"].startswith("Not a valid Python literal") and "'1, two'" in form.errors["items"]


def test_literal_of_the_wrong_type_shows_message():
    form = ParameterForm([Parameter("items", default=[1])])
    form.fields["items"].value = "{'a': 1}"
    assert form.validate() is None and form.errors["items"] == "Needs a list, got {'a': 1}."


def test_looks_like_literal_but_broken_in_untyped_field():
    form = ParameterForm([Parameter("x", required=False)])
    form.fields["x"].value = "{'a': 1"
    assert form.validate() is None and "Not a valid Python literal" in form.errors["x"]


def test_out_of_bounds_set_from_code_shows_message_and_is_not_clamped(calls):
    form = ParameterForm([Parameter("n", default=3, bounds=(1, 10))], on_submit=calls.append)
    form.values = {"n": 500}
    assert form.values == {"n": 500}
    assert "between 1 and 10" in form.errors["n"]  # shown at once: the slider cannot show 500
    assert form.click_run() is None and calls == []


def test_float_out_of_bounds_shows_message():
    form = ParameterForm([Parameter("y", default=0.5, bounds=(0.0, 1.0))])
    form.values = {"y": 1.5}
    assert form.validate() is None and "between 0.0 and 1.0, got 1.5" in form.errors["y"]


def test_not_in_choices_set_from_code_shows_message(calls):
    form = ParameterForm([Parameter("color", default="red", choices=["red", "blue"])], on_submit=calls.append)
    form.values = {"color": "green"}
    assert form.click_run() is None and calls == []
    assert "must be one of ['red', 'blue']" in form.errors["color"]
    assert "green" in message(form, "color")


@pytest.mark.parametrize("name, bad, expected", [
    ("n", "abc", "Needs a whole number, got 'abc'."),
    ("n", 2.5, "Needs a whole number, got 2.5."),
    ("x", "abc", "Needs a number, got 'abc'."),
    ("flag", 1, "Needs true or false, got 1."),
    ("s", 5, "Needs text, got 5."),
    ("day", "2024-01-01", "Needs a date, got '2024-01-01'."),
    ("when", "not a date", "Parameter 'when' needs an ISO 8601 date-time like 2024-01-31T08:00, got 'not a date'."),
])
def test_wrong_type_set_from_code_shows_message(name, bad, expected):
    form = ParameterForm([Parameter("n", default=1), Parameter("x", default=1.0), Parameter("flag", default=False),
                          Parameter("s", default=""), Parameter("day", default=dt.date(2024, 1, 1)), DateTimeParameter("when", required=False)])
    form.values = {name: bad}
    assert form.validate() is None
    assert form.errors == {name: expected}


def test_fix_clears_message_and_run_calls_on_submit_once(calls):
    form = ParameterForm([Parameter("who"), Parameter("n", default=3, bounds=(1, 10)), Parameter("items", default=[1])],
                         on_submit=calls.append)
    form.values = {"n": 50}
    form.fields["items"].value = "[1,"
    assert form.click_run() is None
    assert set(form.errors) == {"who", "n", "items"} and calls == []
    form.fields["who"].value = "team"  # a user typing clears that field's message at once
    assert "who" not in form.errors and message(form, "who") == ""
    form.fields["n"].value = 4  # moving the slider replaces the value it could not show
    form.values = {"items": [2, 3]}
    assert form.errors == {} and form.status.value == ""
    form.run_button.click()
    assert calls == [{"who": "team", "n": 4, "items": [2, 3]}]


def test_valid_form_runs_with_the_values_and_click_run_returns_them(calls):
    form = ParameterForm([Parameter("a", default=1), Parameter("b", default="x")], on_submit=calls.append)
    assert form.click_run() == {"a": 1, "b": "x"}
    assert calls == [{"a": 1, "b": "x"}]


def test_on_submit_can_be_set_later():
    form = ParameterForm([Parameter("a", default=1)])
    assert form.click_run() == {"a": 1}  # no callback: still validates
    seen = []
    form.on_submit = seen.append
    form.click_run()
    assert seen == [{"a": 1}]


def test_setting_values_is_partial_and_unknown_names_raise_key_error():
    form = ParameterForm([Parameter("a", default=1), Parameter("b", default=2)])
    form.values = {"b": 5}
    assert form.values == {"a": 1, "b": 5}
    with pytest.raises(KeyError, match=r"\['nope'\].*valid names are \['a', 'b'\]"):
        form.values = {"a": 9, "nope": 1}
    assert form.values == {"a": 1, "b": 5}  # nothing changed


def test_errors_is_read_only_and_observable():
    form = ParameterForm([Parameter("who"), Parameter("where")])
    seen = []
    form.observe(lambda change: seen.append(change["new"]), names="errors")
    form.validate()
    assert seen == [{"where": "Required: enter a value.", "who": "Required: enter a value."}]  # once per validate
    with pytest.raises(traitlets.TraitError, match="read-only"):
        form.errors = {}


def test_message_is_html_escaped():
    form = ParameterForm([Parameter("c", default="a", choices=["a"])])
    form.values = {"c": "<b>x</b>"}
    assert "<b>" not in message(form, "c") and "&lt;b&gt;" in message(form, "c")


def test_doctests():
    result = doctest.testmod(forms)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize("typed, expected", [("2OO", "Needs a whole number, got '2OO'."), ("2 00", "Needs a whole number, got '2 00'."), ("1e400x", "Needs a whole number, got '1e400x'.")])
def test_a_number_typed_with_letters_is_refused_not_read_as_its_leading_digits(calls, typed, expected):
    form = ParameterForm([Parameter("n", default=3)], on_submit=calls.append)
    form.fields["n"].value = typed  # what typing it in the browser sends
    assert form.click_run() is None and calls == []
    assert form.errors == {"n": expected}
    assert "2OO" not in form.status.value and "1 field to fix" in form.status.value
    form.fields["n"].value = "200"
    assert form.click_run() == {"n": 200} and calls == [{"n": 200}]


def test_check_value_is_what_the_form_accepts():
    n = Parameter("n", default=2, bounds=(1, 10))
    assert forms.check_value(n, 4) == 4 and forms.check_value(Parameter("x", default=1.5), 2) == 2.0
    for bad in ("abc", 2.5, True, 11):
        with pytest.raises(ValueError):
            forms.check_value(n, bad)
