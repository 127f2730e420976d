"""The shape of "one validation per model": each configuration model has a `<model>_problems(instance)`
function (in its app's validation.py) that says what is wrong with it, keyed by path ("conditions.percent",
"hours.mon"). Two adapters serve the two kinds of door:

- forms (the admin): the model's clean() raises `ValidationError(by_field(model, problems))`, since a form
  only knows its fields' names;
- everything else (the API, commands, seeds): the app's services call `full_check`, which adds the fields'
  own rules (choices, lengths, validators) and raises ValidationError keyed by path — the API's error shape
  names those paths.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from helpdesk.fields import json_error

Problems = dict[str, list[str]]


def unstorable(instance) -> Problems:
    """Text PostgreSQL can't store (NUL, a lone surrogate) or JSON nested past JSON_MAX_DEPTH anywhere in the
    instance's values, by path. Every door checks it here, whatever widget assembled the value: the API's
    parser guards its bodies, but a form may build a JSON value from fields of its own."""
    problems: Problems = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname, None)
        if not isinstance(value, str | list | dict):
            continue
        found = json_error(value, max_depth=settings.JSON_MAX_DEPTH)
        if found is not None:
            problems[f"{field.name}.{found.path}" if found.path else field.name] = [found.message]
    return problems


def _all_problems(instance, problems_of: Callable[[object], Problems]) -> Problems:
    return {**problems_of(instance), **unstorable(instance)}


def by_field(model, problems: Problems) -> dict[str, list[ValidationError]]:
    """Paths folded onto the model's fields ("hours.mon" -> "hours", "mon: …"); a path that is no field goes
    to the form as a whole. Each error keeps its path (`error.path`), so a form that asks for a path with a
    field of its own (the rule form's per-trigger fields) can show it there (helpdesk.widgets.ErrorsByPath)."""
    fields = {f.name for f in model._meta.get_fields()}
    folded: dict[str, list[ValidationError]] = {}
    for path, messages in problems.items():
        head, _, rest = path.partition(".")
        key = head if head in fields else NON_FIELD_ERRORS
        folded.setdefault(key, []).extend(_located(path, f"{rest}: {m}" if rest else m) for m in messages)
    return folded


def _located(path: str, message: str) -> ValidationError:
    error = ValidationError(message)
    error.path = path
    return error


def clean_or_raise(instance, problems_of: Callable[[object], Problems]) -> None:
    """For a model's clean(): its problems, folded onto its fields."""
    problems = _all_problems(instance, problems_of)
    if problems:
        raise ValidationError(by_field(type(instance), problems))


def full_check(instance, problems_of: Callable[[object], Problems]) -> None:
    """For writers outside a form: the model's problems, then the fields' own rules (choices, lengths,
    validators) on the fields found sound — Django's validators assume the right type (a percentage "x"
    would reach an integer comparison). Raises ValidationError keyed by path."""
    problems = _all_problems(instance, problems_of)
    checked = {path.partition(".")[0] for path in problems}
    try:
        instance.clean_fields(exclude=["tenant", *checked])
    except ValidationError as exc:
        problems.update(exc.message_dict)
    if problems:
        raise ValidationError(problems)
