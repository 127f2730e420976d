"""Helpers for the SLA tests: a calendar and a policy as a manager enters them in the admin's forms."""

from __future__ import annotations

from slas.admin_forms import POLICY_STORED_FIELDS


def hours_form_data(hours, name: str = "hours") -> dict:
    """Weekly hours as the week grid posts them: each interval's from and to in its day's row; a day or an
    interval of another shape as the text a manager would have typed into the first box."""
    form = {}
    for day, intervals in hours.items() if isinstance(hours, dict) else []:
        for index, pair in enumerate(intervals if isinstance(intervals, list) else [intervals]):
            start, end = pair if isinstance(pair, list) and len(pair) == 2 else (pair, "")
            form[f"{name}-{day}-{index}-start"], form[f"{name}-{day}-{index}-end"] = str(start), str(end)
    return form


def calendar_form_data(body: dict) -> dict:
    form = {"holidays": "", "country": "", "subdivision": "", "hours-mon-0-start": "", "hours-mon-0-end": ""}
    form.update({name: value for name, value in body.items() if name != "hours"})
    form.update(hours_form_data(body.get("hours", {})))
    return form


def policy_form_data(body: dict) -> dict:
    """A policy's API body as its admin form posts it: applies_to's lists as ticked boxes (categories one per
    line), vip as chosen, each target in its metric's box, the warning percentages as typed."""
    form: dict = {}
    for name in POLICY_STORED_FIELDS:
        value = body.get(name)
        if name == "applies_to":
            for key, part in (value or {}).items() if isinstance(value, dict) else []:
                if key == "vip":
                    form["applies_to__vip"] = {True: "true", False: "false"}.get(part, "")
                else:
                    form[f"applies_to__{key}"] = "\n".join(part) if key == "categories" else part
        elif name == "targets":
            for metric, minutes in (value or {}).items() if isinstance(value, dict) else []:
                form[f"targets__{metric}"] = str(minutes)
        elif name == "warn_percent":
            form[name] = ",".join(map(str, value or []))
        elif name == "active":
            if value is not False:
                form[name] = "on"
        elif value is not None:
            form[name] = value
    return form
