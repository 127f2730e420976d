"""Helpers for the escalation tests: a rule as a manager enters it in the admin's form."""

from __future__ import annotations

from escalation.admin_forms import condition_field
from escalation.triggers import CONDITION_KEYS

RULE_ADD_URL = "/admin/escalation/escalationrule/add/"


def rule_form_data(body: dict) -> dict:
    """The API body of a rule as the admin's form posts it: each condition in its trigger's own field (a list of
    words one per line, ticked boxes, a number as typed), the other fields as typed or ticked."""
    form: dict = {"position": "100", "active": "on"}
    for name, value in body.items():
        if name == "conditions":
            continue
        if name == "notify":
            form["notify"] = [str(item) for item in value]
        elif isinstance(value, bool):
            form.pop(name, None)
            if value:
                form[name] = "on"
        else:
            form[name] = "" if value is None else str(value)
    trigger, conditions = body.get("trigger"), body.get("conditions")
    kinds = {key.key: key.kind for key in CONDITION_KEYS.get(trigger, ())}
    for key, value in (conditions if isinstance(conditions, dict) else {}).items():
        name = condition_field(trigger, key)
        if isinstance(value, list):
            form[name] = "\n".join(map(str, value)) if kinds.get(key) in ("phrases", "slugs") else value
        elif value is True:
            form[name] = "on"
        elif value is not False and value is not None:
            form[name] = str(value)
    return form
