"""Form fields that ask for a structured JSON value one part at a time (the managers' admin: a rule's
conditions, a policy's applies_to and targets), and the form mixin that puts each error of the model's
validation next to the field that asked for its part.

The fields only parse what a browser sends — lines into a list, text into a JSON number, ticked boxes into a
list — and judge nothing: what a value may be is the model's one validation (helpdesk/validation.py), which
the ModelForm runs through the model's clean(). A value a widget could not have offered (a forged choice)
reaches that validation as sent and is refused there, with the message the API gives.

Behaviour in the browser (chips, the fields of the selected trigger, copying a day of the week grid) is
static/helpdesk/admin_forms.js, wired by data- attributes only: no inline script, no inline handler (the
Content-Security-Policy)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.html import format_html, format_html_join

ADMIN_FORMS_MEDIA = forms.Media(js=("helpdesk/admin_forms.js",), css={"all": ("helpdesk/admin_forms.css",)})


class ChipsWidget(forms.Textarea):
    """A list of short texts, one per line. The script turns it into chips: type one and press Enter (or a
    comma), remove one with its remove button; `suggestions` are offered as you type. Without the script it is
    the textarea, one item per line."""

    def __init__(self, attrs=None, suggestions=()):
        super().__init__({"rows": 3, "cols": 40, "data-chips": "", **(attrs or {})})
        self.suggestions = tuple(suggestions)

    def format_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return super().format_value(value)

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        if not self.suggestions:
            return html
        list_id = f"{(attrs or {}).get('id') or name}-suggestions"
        options = format_html_join("", '<option value="{}">', ((s,) for s in self.suggestions))
        return format_html('{}<datalist id="{}" data-chips-suggestions>{}</datalist>', html, list_id, options)


class ListField(forms.Field):
    """A list of texts from a ChipsWidget: its non-blank lines, trimmed, in order."""

    widget = ChipsWidget

    def __init__(self, *, suggestions=(), **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(widget=ChipsWidget(suggestions=suggestions), **kwargs)

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class NumberField(forms.Field):
    """A JSON number from a text box, as the API would receive it: "4" is 4, "4.5" is 4.5 (so the admin and
    the API store the same JSON for the same rule). Empty is None; text that is no number is a form error."""

    default_error_messages = {"invalid": "Enter a number."}

    def __init__(self, *, choices=None, **kwargs):
        kwargs.setdefault("required", False)
        widget = forms.Select(choices=[("", "—"), *choices]) if choices else forms.NumberInput(attrs={"step": "any"})
        super().__init__(widget=widget, **kwargs)

    def to_python(self, value) -> int | float | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class OfferedChoicesField(forms.MultipleChoiceField):
    """Several of the offered values, as ticked. Which values are allowed is the model's validation's question,
    not this field's: a value sent that was not offered goes there as it is (and is refused there)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(widget=forms.CheckboxSelectMultiple(attrs={"class": "choice-boxes"}), **kwargs)

    def validate(self, value):
        pass


def keep_stored_order(form: forms.Form) -> None:
    """Ticked boxes arrive in the page's order; a list that was stored in another order (by the API) keeps it
    for the values still ticked, newly ticked ones after them, so saving a form unchanged changes nothing."""
    for name, field in form.fields.items():
        if isinstance(field, OfferedChoicesField) and isinstance(form.cleaned_data.get(name), list):
            stored = form.get_initial_for_field(field, name)
            ticked = form.cleaned_data[name]
            kept = [v for v in stored if v in ticked] if isinstance(stored, list | tuple) else []
            form.cleaned_data[name] = kept + [v for v in ticked if v not in kept]


class ErrorsByPath:
    """For a ModelForm whose fields ask for parts of a JSON field. The model's validation keys its problems by
    path ("conditions.keywords") and helpdesk.validation.by_field folds them onto the model's fields, each error
    keeping its path: this puts an error on the form field that asks for its path (`fields_by_path()`), and an
    error on a model field the form does not show (the JSON field itself) on the form as a whole — shown,
    never a ValueError from Django's add_error."""

    def fields_by_path(self) -> dict[str, str]:
        return {}

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            routes = self.fields_by_path()
            placed: dict[str, list[ValidationError]] = {}
            for field, messages in errors.error_dict.items():
                for message in messages:
                    target = _route(routes, getattr(message, "path", None) or "")
                    if target is None:
                        target = field if field in self.fields else NON_FIELD_ERRORS
                    elif target in self._errors:
                        continue  # that field's own error already says it (a number that was no number)
                    placed.setdefault(target, []).append(message)
            errors = ValidationError(placed)
        super()._update_errors(errors)


def _route(routes: dict[str, str], path: str) -> str | None:
    """The form field for a path, or for its nearest parent ("applies_to.priorities.0": the priorities box)."""
    while path:
        if path in routes:
            return routes[path]
        path = path.rpartition(".")[0]
    return None


def given(values: dict) -> dict:
    """The parts a form was given: None, "", [] and False (an unticked box) are left out, as an API body leaves
    them out; 0 stays (a threshold of 0 is a value)."""
    return {key: value for key, value in values.items() if not _blank(value)}


def _blank(value) -> bool:
    return value is None or value is False or (isinstance(value, str | list | tuple) and not value)
