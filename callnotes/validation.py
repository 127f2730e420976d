"""What a call-note template may say, and what a note's values may hold: the one validation every door uses
(the admin's form through CallNoteTemplate.clean(), the API and every other writer through the services)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from callnotes.models import SECTIONS, FieldType, Required, Visibility

MAX_FIELDS = 40
MAX_TEXT = 20_000
MAX_LIST = 100
KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
ERR_ONE_SENTENCE = "Give the root cause in one sentence."
# A sentence ends at . ! or ? followed by a space and more text ("v2.1" and "e.g." stay inside one).
SENTENCE_END = re.compile(r"[.!?](?:\s+)(?=[A-Z0-9\"'(])")


def is_one_sentence(text: str) -> bool:
    text = " ".join(text.split())
    return bool(text) and not SENTENCE_END.search(text) and "\n" not in text


def _field_problems(path: str, field, seen: set[str]) -> list[str]:
    if not isinstance(field, dict):
        return [f"{path}: each field is an object with key, label and type."]
    problems = []
    key = field.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        problems.append(f"{path}.key: lower-case letters, digits and _ (starting with a letter).")
    elif key in seen:
        problems.append(f"{path}.key: {key!r} is used twice.")
    else:
        seen.add(key)
    if not isinstance(field.get("label"), str) or not field["label"].strip():
        problems.append(f"{path}.label: required.")
    if field.get("type") not in FieldType.values:
        problems.append(f"{path}.type: one of {', '.join(FieldType.values)}.")
    if field.get("required", "") not in Required.values:
        problems.append(f"{path}.required: empty, 'scheduling' or 'completion'.")
    if field.get("visibility", "internal") not in Visibility.values:
        problems.append(f"{path}.visibility: 'internal' or 'customer'.")
    choices = field.get("choices")
    if field.get("type") == FieldType.CHOICE and (
        not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices)
    ):
        problems.append(f"{path}.choices: a choice field lists its choices (strings).")
    unknown = set(field) - {"key", "label", "type", "required", "visibility", "choices"}
    if unknown:
        problems.append(f"{path}: unknown keys {sorted(unknown)}.")
    return problems


def sections_problems(sections) -> dict[str, list[str]]:
    if not isinstance(sections, dict):
        return {"sections": ["An object with pre_call, live and post_call lists."]}
    problems: dict[str, list[str]] = {}
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        problems["sections"] = [f"Unknown sections {sorted(unknown)}; use {', '.join(SECTIONS)}."]
    seen: set[str] = set()
    count = 0
    for name in SECTIONS:
        fields = sections.get(name, [])
        if not isinstance(fields, list):
            problems[f"sections.{name}"] = ["A list of fields."]
            continue
        count += len(fields)
        messages = [m for i, f in enumerate(fields) for m in _field_problems(f"[{i}]", f, seen)]
        if messages:
            problems[f"sections.{name}"] = messages
    if count > MAX_FIELDS:
        problems.setdefault("sections", []).append(f"At most {MAX_FIELDS} fields.")
    return problems


def template_problems(template) -> dict[str, list[str]]:
    return sections_problems(template.sections)


def _is_link(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https", "tel", "sip", "mailto") and bool(parts.netloc or parts.path)


def value_problem(field: dict, value) -> str | None:
    """What is wrong with one value of a note's field (None: fine). Empty values are always allowed here:
    whether a field must be filled is the scheduling's and the completion's question."""
    kind = field["type"]
    if value in (None, "", []):
        return None
    if kind in (FieldType.TEXT, FieldType.LINK, FieldType.CHOICE):
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            return f"A string of at most {MAX_TEXT} characters."
        if kind == FieldType.LINK and not _is_link(value.strip()):
            return "A link (http, https, tel, sip or mailto)."
        if kind == FieldType.CHOICE and value not in field.get("choices", []):
            return f"One of {', '.join(field.get('choices', []))}."
        return None
    if kind == FieldType.LIST:
        if not isinstance(value, list) or len(value) > MAX_LIST:
            return f"A list of at most {MAX_LIST} items."
        if not all(isinstance(item, str | dict) for item in value):
            return "Items are strings (or objects)."
        return None
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return "A list of attachment ids."
    return None


def is_empty(value) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value in (None, [], {})
