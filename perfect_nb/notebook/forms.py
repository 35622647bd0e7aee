"""Parameter forms: one widget per flow Parameter, inline validation and a Run button.

The widget is chosen from the Parameter's default and hints (``bool`` is tested
before ``int``, since ``True`` is an ``int``):

=============================================  =================================
Parameter                                      widget
=============================================  =================================
``choices=[...]`` or an ``Enum`` default       Dropdown
``DateTimeParameter`` or a datetime default    NaiveDatetimePicker (DatetimePicker if tz-aware)
a ``date`` default                             DatePicker
``bool``                                       Checkbox
``int`` / ``float``                            Text, read strictly ("2OO" is refused, never 2)
``int`` / ``float`` with ``bounds=(lo, hi)``   IntSlider / FloatSlider
``str``                                        Text
``list`` / ``dict`` / ``tuple``                Textarea holding a Python literal
``None`` default, no hints                     Text: a Python literal if it looks like one, else the string
=============================================  =================================

An empty field means ``None``; a required Parameter left empty is an error.

>>> from perfect_nb import Parameter
>>> form = ParameterForm([Parameter("n", default=3, bounds=(1, 10)), Parameter("who")])
>>> form
<ParameterForm: 2 parameters: 'n', 'who'>
>>> form.values
{'n': 3, 'who': None}
>>> print(form.validate(), form.errors)
None {'who': 'Required: enter a value.'}
>>> form.values = {"who": "team"}
>>> form.validate()
{'n': 3, 'who': 'team'}
"""

from __future__ import annotations

import ast
import datetime as _dt
import enum
import html
import pprint
from typing import Any, Callable, Iterable

import ipywidgets as widgets
import traitlets

from perfect_nb.core.parameter import DateTimeParameter, Parameter

__all__ = ["ParameterForm", "check_value", "close_tree", "widget_for"]

_UNSET = object()
_LITERAL_START = tuple("[({'\"")
_ERROR_HTML = '<span style="color:#b00020">&#9888; {}</span>'


def _kind(p: Parameter) -> str:
    """Name the kind of field ``p`` gets (see the module docstring's table)."""
    d = p.default
    if p.choices is not None or isinstance(d, enum.Enum):
        return "choice"
    if isinstance(p, DateTimeParameter) or isinstance(d, _dt.datetime):
        return "datetime"
    if isinstance(d, _dt.date):
        return "date"
    if isinstance(d, bool):
        return "bool"
    numbers = [v for v in (d, *(p.bounds or ())) if v is not None]
    if numbers and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return "int" if all(isinstance(v, int) for v in numbers) else "float"
    if isinstance(d, str):
        return "str"
    if isinstance(d, (list, dict, tuple)):
        return "literal"
    return "any"


def widget_for(parameter: Parameter) -> widgets.Widget:
    """Return an empty ipywidget suited to ``parameter`` (its value is not set).

    >>> from perfect_nb import Parameter
    >>> type(widget_for(Parameter("debug", default=False))).__name__
    'Checkbox'
    >>> slider = widget_for(Parameter("n", default=3, bounds=(1, 10)))
    >>> type(slider).__name__, slider.min, slider.max, slider.description
    ('IntSlider', 1, 10, 'n')
    >>> widget_for(Parameter("who", help="Whom to greet")).description
    'who *'
    """
    p, kind = parameter, _kind(parameter)
    common = {"description": p.name + (" *" if p.required else ""), "tooltip": p.help, "style": {"description_width": "initial"}}
    if kind == "choice":
        options = p.choices if p.choices is not None else list(type(p.default))
        labels = [c.name if isinstance(c, enum.Enum) else str(c) for c in options]
        return widgets.Dropdown(options=list(zip(labels, options)), value=None, **common)
    if kind == "datetime":
        default = p.parse(p.default) if isinstance(p, DateTimeParameter) else p.default
        aware = default is not None and default.tzinfo is not None
        picker = getattr(widgets, "DatetimePicker" if aware else "NaiveDatetimePicker", widgets.DatePicker)
        return picker(**common)
    if kind in ("int", "float") and p.bounds is not None:
        slider = widgets.IntSlider if kind == "int" else widgets.FloatSlider
        lo, hi = p.bounds
        return slider(min=lo, max=hi, value=lo, **common)
    # Numbers are typed into a Text field and read here: IntText/FloatText parse in the
    # browser, where "2OO" silently becomes 2.
    simple = {"date": widgets.DatePicker, "bool": widgets.Checkbox, "int": widgets.Text,
              "float": widgets.Text, "str": widgets.Text, "literal": widgets.Textarea, "any": widgets.Text}
    placeholder = {"literal": "a Python literal, e.g. [1, 2] or {'a': 1}", "any": "text or a Python literal",
                   "int": "a whole number", "float": "a number"}
    extra = {"placeholder": placeholder[kind]} if kind in placeholder else {}
    return simple[kind](**common, **extra)


class _Field:
    """One Parameter's widget, message area and the conversion between them.

    A value the widget cannot show (out of a slider's range, not among the
    options, of the wrong type) is kept as ``pending`` until the user edits the
    field, so validation reports it instead of silently clamping it.
    """

    def __init__(self, parameter: Parameter) -> None:
        self.parameter, self.kind = parameter, _kind(parameter)
        self.widget = widget_for(parameter)
        self.message = widgets.HTML(value="")
        parts = [widgets.HBox([self.widget, self.message])]
        if parameter.help:
            parts.append(widgets.HTML(value=f'<small style="color:#666">{html.escape(parameter.help)}</small>'))
        self.row = widgets.VBox(parts)
        self.pending, self.writing = _UNSET, False
        if parameter.default is not None or self.kind not in ("int", "float"):
            self.write(parameter.default)  # a slider with no default starts at its low bound

    def write(self, value: Any) -> None:
        """Show ``value`` in the widget, or keep it pending if the widget cannot."""
        if self.kind == "datetime" and isinstance(self.parameter, DateTimeParameter):
            try:
                value = self.parameter.parse(value)  # ISO strings and dates become datetimes
            except (ValueError, TypeError):
                pass  # kept pending; validation shows the parser's message
        self.pending, self.writing = _UNSET, True
        try:
            self.widget.value = self._to_widget(value)
            same = _same(self.read(), value)
        except (traitlets.TraitError, ValueError, TypeError, AttributeError):  # the widget refuses it
            same = False
        finally:
            self.writing = False
        if not same:
            self.pending = value

    @property
    def _typed(self) -> bool:
        """A number typed as text (no slider)."""
        return self.kind in ("int", "float") and isinstance(self.widget, widgets.Text)

    def _to_widget(self, value: Any) -> Any:
        if self.kind in ("str", "any", "literal") and value is None:
            return ""
        if self._typed:
            if value is None:
                return ""
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(value)  # kept pending: validation says what is wrong
            return repr(value)
        if self.kind == "literal" or (self.kind == "any" and not isinstance(value, str)):
            return pprint.pformat(value, width=60, sort_dicts=False)
        if self.kind == "any":
            try:
                plain = _same(_parse_literal(value, strict=False), value)
            except ValueError:
                plain = False
            return value if plain else repr(value)  # a string that looks like a literal is shown quoted
        return value

    def read(self) -> Any:
        """The field's value, converted; raise ValueError if it cannot be read."""
        if self.pending is not _UNSET:
            value = self.pending
        elif self.kind in ("literal", "any"):
            value = _parse_literal(self.widget.value, strict=self.kind == "literal")
        elif self._typed:
            value = _parse_number(self.widget.value, self.kind)
        else:
            value = self.widget.value
        return None if value is None else _check_kind(self.parameter, self.kind, value)


def _parse_number(text: str, kind: str) -> Any:
    """What was typed in a number field: None if empty; a ValueError unless it all is a number.

    >>> _parse_number(" 200 ", "int"), _parse_number("2.5", "float"), _parse_number("", "int")
    (200, 2.5, None)
    >>> _parse_number("2OO", "int")
    Traceback (most recent call last):
    ...
    ValueError: Needs a whole number, got '2OO'.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        if kind == "int":
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number)
        raise ValueError(f"Needs {'a whole number' if kind == 'int' else 'a number'}, got {text!r}.") from None


def _check_kind(parameter: Parameter, kind: str, value: Any) -> Any:
    """``value`` converted to what a field of ``kind`` holds, or a ValueError saying what is needed."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int" and not (number and (isinstance(value, int) or value.is_integer())):
        raise ValueError(f"Needs a whole number, got {value!r}.")
    if kind == "float" and not number:
        raise ValueError(f"Needs a number, got {value!r}.")
    wanted = {"bool": (bool, "true or false"), "str": (str, "text"), "date": (_dt.date, "a date"),
              "literal": (type(parameter.default), f"a {type(parameter.default).__name__}")}
    if kind == "datetime" and not isinstance(parameter, DateTimeParameter):
        wanted["datetime"] = (_dt.datetime, "a date and time")
    if kind in wanted and not isinstance(value, wanted[kind][0]):
        raise ValueError(f"Needs {wanted[kind][1]}, got {value!r}.")
    return int(value) if kind == "int" else float(value) if kind == "float" else value


def check_value(parameter: Parameter, value: Any) -> Any:
    """``value`` as the form would take it for ``parameter``: converted, checked against its
    type (from its default or bounds), choices and bounds; else a ValueError saying why.

    What ``--param`` values go through before anything runs.

    >>> from perfect_nb import Parameter
    >>> check_value(Parameter("n", default=2), 5)
    5
    >>> check_value(Parameter("n", default=2), "abc")
    Traceback (most recent call last):
    ...
    ValueError: Needs a whole number, got 'abc'.
    """
    if value is None:
        return None
    return parameter.validate(_check_kind(parameter, _kind(parameter), value))


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # e.g. arrays, whose == is not a bool
        return False


def _parse_literal(text: str, strict: bool) -> Any:
    """Parse ``text`` as a Python literal; if not ``strict``, text that does not look like one stays text.

    >>> _parse_literal("[1, 2]", strict=False), _parse_literal("hello", strict=False)
    ([1, 2], 'hello')
    """
    text = text.strip()
    if not text:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        if strict or text.startswith(_LITERAL_START):
            detail = f" ({exc.msg})" if isinstance(exc, SyntaxError) and exc.msg else ""
            raise ValueError(f"Not a valid Python literal{detail}: check brackets, quotes and commas in {text!r}.") from None
        return text


def close_tree(widget: widgets.Widget) -> int:
    """Close ``widget``, every widget inside it, and their layouts and styles; return how many.

    ``Widget.close()`` closes only the widget itself: its children and its
    ``Layout`` and ``Style`` widgets stay registered in the kernel for good. A
    view that replaces a part of itself closes the old part with this.

    >>> box = widgets.VBox([widgets.Button(), widgets.HTML()])
    >>> close_tree(box)  # the box, a button, an HTML, three layouts and two styles
    8
    """
    closed, stack, seen = 0, [widget], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.extend(getattr(item, "children", ()))
        for part in ("layout", "style"):
            value = item._trait_values.get(part)  # only what exists: reading a trait could create it
            if isinstance(value, widgets.Widget):
                stack.append(value)
        if item.comm is not None:
            widgets.Widget.close(item)
            closed += 1
    return closed


class ParameterForm(widgets.VBox):
    """A form with one field per Parameter (sorted by name) and a Run button.

    Parameters
    ----------
    parameters : iterable of Parameter
        The flow's parameters (``flow.parameters()``); names must be unique.
    on_submit : callable, optional
        Called as ``on_submit(values)`` when Run is pressed and every field is valid.

    Examples
    --------
    >>> from perfect_nb import Parameter
    >>> runs = []
    >>> form = ParameterForm([Parameter("color", default="red", choices=["red", "blue"])], on_submit=runs.append)
    >>> form.values = {"color": "green"}
    >>> print(form.click_run(), runs)
    None []
    >>> form.errors["color"]
    "Parameter 'color' must be one of ['red', 'blue'], got 'green'."
    >>> form.fields["color"].value = "blue"  # what a user picking "blue" does
    >>> form.click_run(), form.errors, runs
    ({'color': 'blue'}, {}, [{'color': 'blue'}])
    """

    errors = traitlets.Dict(read_only=True, help="Parameter name -> message shown next to its field.")

    def __init__(self, parameters: Iterable[Parameter], on_submit: Callable[[dict], Any] | None = None, **kwargs: Any) -> None:
        params = sorted(parameters, key=lambda p: p.name)
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"ParameterForm needs unique parameter names, got {names}.")
        self.on_submit = on_submit
        self._fields = {p.name: _Field(p) for p in params}
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play", tooltip="Validate the fields and run")
        self.status = widgets.HTML(value="")
        self.run_button.on_click(lambda _button: self.click_run())
        for name, field in self._fields.items():
            field.widget.observe(lambda change, name=name: self._edited(name), names="value")
        rows = [f.row for f in self._fields.values()]
        super().__init__(children=[*rows, widgets.HBox([self.run_button, self.status])], **kwargs)

    def close(self) -> None:
        """Close the form with its fields, buttons, layouts and styles."""
        close_tree(self)

    @property
    def fields(self) -> dict[str, widgets.Widget]:
        """Parameter name -> its input widget."""
        return {name: f.widget for name, f in self._fields.items()}

    @property
    def values(self) -> dict[str, Any]:
        """Parameter name -> value, converted (ValueError if a field cannot be read).

        Setting it with a dict updates those fields only; an unknown name raises KeyError.
        """
        values, bad = {}, {}
        for name, field in self._fields.items():
            try:
                values[name] = field.read()
            except ValueError as exc:
                bad[name] = str(exc)
        if bad:
            raise ValueError(f"Cannot read {sorted(bad)}: {bad}. Call form.validate() to show the messages.")
        return values

    @values.setter
    def values(self, values: dict[str, Any]) -> None:
        unknown = sorted(set(values) - set(self._fields))
        if unknown:
            raise KeyError(f"No parameter(s) {unknown} in this form; valid names are {sorted(self._fields)}.")
        for name, value in values.items():
            self._fields[name].write(value)
            if self._fields[name].pending is not _UNSET or name in self.errors:
                self._check(name)  # the widget cannot show it: say why now

    def validate(self) -> dict[str, Any] | None:
        """Check every field, show or clear its message; return the values, or None if any is bad."""
        with self.hold_trait_notifications():  # observers of `errors` hear once
            values = {name: self._check(name) for name in self._fields}
        return None if self.errors else values

    def click_run(self) -> dict[str, Any] | None:
        """Do what pressing Run does: validate, then call ``on_submit(values)`` if all are valid."""
        values = self.validate()
        if values is not None and self.on_submit is not None:
            self.on_submit(values)
        return values

    def _check(self, name: str) -> Any:
        field, message = self._fields[name], None
        try:
            value = field.read()
            if (value is None or _same(value, "")) and field.parameter.required:
                message = "Required: enter a value."
            elif value is not None:
                value = field.parameter.validate(value)
        except (ValueError, TypeError) as exc:
            value, message = None, str(exc)
        errors = {k: v for k, v in self.errors.items() if k != name} | ({name: message} if message else {})
        field.message.value = _ERROR_HTML.format(html.escape(message)) if message else ""
        self.set_trait("errors", dict(sorted(errors.items())))
        count = len(errors)
        self.status.value = _ERROR_HTML.format(f"{count} field{'s' * (count > 1)} to fix.") if count else ""
        return value

    def _edited(self, name: str) -> None:
        if not self._fields[name].writing:
            self._fields[name].pending = _UNSET  # the user chose a value the widget shows
            if name in self.errors:
                self._check(name)

    def __repr__(self) -> str:
        return f"<ParameterForm: {len(self._fields)} parameters: {', '.join(map(repr, self._fields))}>"
