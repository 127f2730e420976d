"""What the call pages show (the ticket's calls panel, /calls/, /calls/<id>/, /knowledge/, the printable brief),
read through callnotes' selectors; and the parsing of what a person types into a call's notes. Whether a value
is acceptable is callnotes' one validation (callnotes/validation.py through the services): this only turns form
fields into the shapes the workflows take, and the workflows' errors back into messages on their fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from callnotes import rights, selectors
from callnotes.models import (
    BOOKED_STATUSES,
    MAX_ATTENDEES,
    SECTIONS,
    ActionItem,
    Attachment,
    Call,
    CallNote,
    CallStatus,
    FieldType,
    Required,
)
from helpdesk.auth import Principal
from helpdesk.models import Membership
from helpdesk.selectors import membership_list
from tickets.models import Ticket

SECTION_TITLES = {"pre_call": "Pre-call brief", "live": "Live notes", "post_call": "Post-call"}
# The post-call fields the page asks for in their own controls (UI.md names them), not as generic fields.
COMPLETION_FIELDS = ("root_cause", "resolution", "customer_summary")
OWN_CONTROLS = {*COMPLETION_FIELDS, "action_items", "tags"}
# A transcript's draft fills these live fields when they exist in the note's template (the seeds' template has
# them); the draft stays beside the notes either way, for a person to copy from.
DRAFT_INTO = {"key_sentences": "issue_confirmation", "action_items": "follow_ups"}
# The call's life, as buttons: (action in the URL, label, statuses it applies to). The workflow decides; these
# only hide what it would refuse anyway.
ACTIONS = (
    ("start", "Start call", (CallStatus.SCHEDULED,)),
    ("reschedule", "Reschedule", (CallStatus.SCHEDULED,)),
    ("cancel", "Cancel call", (CallStatus.REQUESTED, CallStatus.SCHEDULED)),
    ("no-show", "Mark no-show", (CallStatus.SCHEDULED, CallStatus.IN_PROGRESS)),
)
CLOSED = (CallStatus.COMPLETED, CallStatus.CANCELLED, CallStatus.NO_SHOW)
PAST_ORDER = (
    CallStatus.SCHEDULED,
    CallStatus.IN_PROGRESS,
    CallStatus.COMPLETED,
    CallStatus.NO_SHOW,
    CallStatus.CANCELLED,
)
PAST_LIMIT = 100
REQUESTS_LIMIT = 50
KNOWLEDGE_LIMIT = 50
MAX_QUERY = 500
_SPLIT = re.compile(r"[\s,;]+")


# --- the ticket page's calls panel ---------------------------------------------------------------------


@dataclass
class TicketCalls:
    calls: list[Call]
    requests: list[Call]  # suggested, not scheduled yet: why (trigger and facts)
    action_items: list[ActionItem]  # open ones, listed until done


def ticket_calls(ticket: Ticket) -> TicketCalls:
    calls = list(selectors.calls_of_ticket(ticket=ticket))
    return TicketCalls(
        calls=[c for c in calls if c.status != CallStatus.REQUESTED],
        requests=[c for c in calls if c.status == CallStatus.REQUESTED],
        action_items=list(selectors.ticket_action_items(ticket=ticket)),
    )


# --- /calls/ ------------------------------------------------------------------------------------------


@dataclass
class CallsPage:
    upcoming: list[Call]
    past: list[tuple[str, list[Call]]]
    requests: list[Call]
    feed: object | None


def calls_page(principal: Principal) -> CallsPage:
    me = principal.membership
    upcoming = list(selectors.calls_upcoming(member=me))
    shown = [c.pk for c in upcoming]
    past = list(
        selectors.call_list(tenant=principal.tenant)
        .filter(agent=me)
        .exclude(pk__in=shown)
        .exclude(status=CallStatus.REQUESTED)
        .select_related("ticket")
        .order_by("-scheduled_start", "-pk")[:PAST_LIMIT]
    )
    groups = [(status, [c for c in past if c.status == status]) for status in PAST_ORDER]
    requests = list(
        selectors.call_list(tenant=principal.tenant)
        .filter(status=CallStatus.REQUESTED)
        .select_related("ticket")
        .order_by("created_at", "pk")[:REQUESTS_LIMIT]
    )
    return CallsPage(
        upcoming=upcoming,
        past=[(status, calls) for status, calls in groups if calls],
        requests=requests,
        feed=selectors.feed_of(member=me),
    )


# --- /calls/<id>/ ---------------------------------------------------------------------------------------


@dataclass
class FieldView:
    section: str
    key: str
    label: str
    type: str
    required: str
    visibility: str
    choices: list[str]
    value: object
    error: str = ""
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def html_id(self) -> str:
        return f"f-{self.section}-{self.key}"

    @property
    def text(self) -> str:
        """The value as the control shows it: a list one item per line."""
        if isinstance(self.value, list):
            return "\n".join(str(item) for item in self.value)
        return "" if self.value is None else str(self.value)

    @property
    def editable(self) -> bool:
        """A list holding objects (not typed on this page) is shown, not edited, so a save never flattens it."""
        return self.type != FieldType.ARTIFACT and not (
            isinstance(self.value, list) and any(isinstance(item, dict) for item in self.value)
        )

    @property
    def required_text(self) -> str:
        return {Required.SCHEDULING: "required to schedule", Required.COMPLETION: "required to complete"}.get(
            self.required, ""
        )


@dataclass
class ActionRow:
    description: str = ""
    owner: str = ""
    due: str = ""
    errors: dict = field(default_factory=dict)


@dataclass
class CallPage:
    call: Call
    note: CallNote | None
    sections: dict[str, list[FieldView]]
    post: dict[str, str]  # root cause, resolution, customer summary as shown
    tags: str
    action_rows: list[ActionRow]
    action_items: list[ActionItem]
    attachments: list[Attachment]
    artifact_fields: list[FieldView]
    actions: list[tuple[str, str]]
    may_act: bool
    members: list[Membership]
    errors: dict[str, str]
    draft_used: bool
    now: object

    @property
    def error_list(self) -> list[tuple[str, str]]:
        """Each refused field by the name the page shows it under, and why."""
        labels = {"root_cause": "Root cause", "resolution": "Resolution", "customer_summary": "Customer summary"}
        labels.update({f.name: f.label for fields in self.sections.values() for f in fields})
        return [(labels.get(name, _plain(name)), message) for name, message in self.errors.items()]

    @property
    def open(self) -> bool:
        """Notes may be written: the call has them (it was scheduled) and is not over."""
        return self.note is not None and self.call.status not in CLOSED

    @property
    def completable(self) -> bool:
        return self.may_act and self.call.status in BOOKED_STATUSES

    @property
    def brief(self) -> dict:
        return self.note.brief if self.note else {}

    @property
    def draft(self) -> dict:
        return self.note.live_draft if self.note else {}


def _plain(name: str) -> str:
    """ "action_items[0].due" -> "Action item 1, due"; anything else with its underscores as spaces."""
    found = re.match(r"action_items\[(\d+)\]\.(\w+)", name)
    if found:
        part = {"description": "action"}.get(found.group(2), found.group(2))
        return f"Action item {int(found.group(1)) + 1}, {part}"
    return name.replace("_", " ").replace(".", ": ").capitalize()


def call_for(principal: Principal, call_id: int) -> Call:
    """The call, Call.DoesNotExist for another tenant's alike."""
    return selectors.call_get(tenant=principal.tenant, call_id=call_id)


def error_texts(fields: dict) -> dict[str, str]:
    """A workflow's field errors as one message per field; the completion's own keys (root_cause, …) and the
    post-call section's keys of the same name land on the same textbox."""
    texts = {}
    for path, messages in (fields or {}).items():
        section, _, key = path.partition(".")
        name = key if section == "post_call" and key in COMPLETION_FIELDS else path
        texts[name] = " ".join(str(m) for m in messages) if isinstance(messages, list | tuple) else str(messages)
    return texts


def _draft_values(note: CallNote) -> dict:
    """A transcript's draft as live-note values (for review in the form; saved only by "Save notes")."""
    draft = note.live_draft or {}
    keys = {f["key"] for f in note.fields.get("live", [])}
    values = {}
    if DRAFT_INTO["key_sentences"] in keys and draft.get("key_sentences"):
        values[DRAFT_INTO["key_sentences"]] = "\n".join(draft["key_sentences"])
    if DRAFT_INTO["action_items"] in keys and draft.get("action_items"):
        values[DRAFT_INTO["action_items"]] = [
            f"{a['owner']}: {a['description']}" + (f" (due {a['due']})" if a.get("due") else "")
            for a in draft["action_items"]
        ]
    return values


def call_page(
    principal: Principal,
    call: Call,
    *,
    errors: dict[str, str] | None = None,
    typed: dict | None = None,
    use_draft: bool = False,
) -> CallPage:
    """`typed`: what the person sent (a refused form is shown again as typed, nothing lost)."""
    errors = errors or {}
    typed = typed or {}
    note = selectors.note_of(call)
    attachments = list(selectors.attachments_of_call(call=call))
    by_id = {a.pk: a for a in attachments}
    values = {s: dict((note.values if note else {}).get(s, {})) for s in SECTIONS}
    draft_used = bool(use_draft and note and note.live_draft)
    if draft_used:
        values["live"].update(_draft_values(note))
    for name, value in typed.get("fields", {}).items():
        section, _, key = name.partition(".")
        values.setdefault(section, {})[key] = value
    sections = {s: [] for s in SECTIONS}
    artifact_fields = []
    for section in SECTIONS:
        for spec in (note.fields if note else {}).get(section, []):
            if section == "post_call" and spec["key"] in OWN_CONTROLS:
                continue
            value = values[section].get(spec["key"])
            view = FieldView(
                section=section,
                key=spec["key"],
                label=spec["label"],
                type=spec["type"],
                required=spec.get("required", ""),
                visibility=spec.get("visibility", "internal"),
                choices=spec.get("choices", []),
                value=value,
                error=errors.get(f"{section}.{spec['key']}", ""),
                attachments=[by_id[i] for i in value or [] if isinstance(i, int) and i in by_id]
                if spec["type"] == FieldType.ARTIFACT
                else [],
            )
            sections[section].append(view)
            if view.type == FieldType.ARTIFACT:
                artifact_fields.append(view)
    post = {key: typed.get(key, values["post_call"].get(key) or getattr(call, key) or "") for key in COMPLETION_FIELDS}
    tags = typed.get("tags", ", ".join(values["post_call"].get("tags") or []))
    rows = typed.get("action_rows", [])
    for name, message in errors.items():
        found = re.match(r"action_items\[(\d+)\]\.(\w+)", name)
        if found and int(found.group(1)) < len(rows):
            rows[int(found.group(1))].errors[found.group(2)] = message
    may = rights.may_act(call, principal)
    return CallPage(
        call=call,
        note=note,
        sections=sections,
        post=post,
        tags=tags,
        action_rows=rows,
        action_items=list(selectors.action_items_of_call(call=call)),
        attachments=attachments,
        artifact_fields=artifact_fields,
        actions=[(a, label) for a, label, statuses in ACTIONS if call.status in statuses] if may else [],
        may_act=may,
        members=active_members(principal),
        errors=errors,
        draft_used=draft_used,
        now=timezone.now(),
    )


def active_members(principal: Principal) -> list[Membership]:
    return list(membership_list(tenant=principal.tenant).filter(active=True).order_by("user__username"))


# --- parsing what was typed ------------------------------------------------------------------------------


def note_changes(note: CallNote, data) -> dict[str, dict]:
    """The note's values as typed, by section and key: only fields the form carried (a field left out is left
    alone), in the note's own template version; lists one item per line."""
    changes: dict[str, dict] = {}
    for section in SECTIONS:
        for spec in note.fields.get(section, []):
            name = f"{section}.{spec['key']}"
            if spec["key"] in OWN_CONTROLS and section == "post_call":
                if spec["key"] in COMPLETION_FIELDS and spec["key"] in data:
                    changes.setdefault(section, {})[spec["key"]] = data.get(spec["key"], "").strip()
                elif spec["key"] == "tags" and "tags" in data:
                    changes.setdefault(section, {})["tags"] = split_tags(data.get("tags", ""))
                continue
            if name not in data or spec["type"] == FieldType.ARTIFACT:
                continue
            raw = data.get(name, "")
            if spec["type"] == FieldType.LIST:
                value = [line.strip() for line in raw.splitlines() if line.strip()]
            else:
                value = raw.strip()
            changes.setdefault(section, {})[spec["key"]] = value
    return changes


def typed_fields(data) -> dict[str, str]:
    return {name: data[name] for name in data if name.partition(".")[0] in SECTIONS}


def split_tags(text: str) -> list[str]:
    return [t for t in (part.strip().lower().replace(" ", "-") for part in text.split(",")) if t]


def action_rows(data) -> list[ActionRow]:
    rows = zip(
        data.getlist("action_description"), data.getlist("action_owner"), data.getlist("action_due"), strict=False
    )
    return [ActionRow(d.strip(), o.strip(), u.strip()) for d, o, u in rows if d.strip() or o.strip() or u.strip()]


def action_items(principal: Principal, rows: list[ActionRow]) -> tuple[list[dict], dict[str, str]]:
    """The rows as the completion's action items (description, owner, due); each row's missing or malformed
    part named on it. Whether a due date may be in the past is the completion's call."""
    members = {str(m.pk): m for m in active_members(principal)}
    items, problems = [], {}
    for i, row in enumerate(rows):
        if not row.description:
            row.errors["description"] = "Say what is to be done."
        if row.owner not in members:
            row.errors["owner"] = "Pick who owns it."
        try:
            due = date.fromisoformat(row.due)
        except ValueError:
            row.errors["due"] = "Give a due date."
            due = None
        for part, message in row.errors.items():
            problems[f"action_items[{i}].{part}"] = message
        if not row.errors:
            items.append({"description": row.description, "owner": members[row.owner], "due": due})
    return items, problems


def attendees(text: str) -> tuple[list[str], str]:
    """E-mail addresses separated by commas, spaces or lines; the first malformed one named."""
    found = [a for a in _SPLIT.split(text or "") if a]
    for address in found:
        try:
            validate_email(address)
        except ValidationError:
            return [], f"{address!r} is not an e-mail address."
    if len(found) > MAX_ATTENDEES:
        return [], f"At most {MAX_ATTENDEES} attendees."
    return found, ""


# --- scheduling ---------------------------------------------------------------------------------------


def scheduling_fields(ticket: Ticket, principal: Principal) -> list[FieldView]:
    """The pre-call fields the call's template requires before scheduling, pre-filled from the ticket as the
    notes will be (callnotes.brief), so the dialog asks only for what the thread does not say."""
    from callnotes.brief import pre_call_brief

    pending = selectors.calls_of_ticket(ticket=ticket).filter(status=CallStatus.REQUESTED).first()
    template = (pending.template if pending and pending.template_id else None) or selectors.template_for_new_call(
        tenant=principal.tenant
    )
    if template is None:
        return []
    required = [f for f in template.sections.get("pre_call", []) if f.get("required") == Required.SCHEDULING]
    prefill = pre_call_brief(ticket, None)["prefill"]["pre_call"] if required else {}
    return [
        FieldView(
            section="pre_call",
            key=f["key"],
            label=f["label"],
            type=f["type"],
            required=f["required"],
            visibility=f.get("visibility", "internal"),
            choices=f.get("choices", []),
            value=prefill.get(f["key"], ""),
        )
        for f in required
        if f["type"] != FieldType.ARTIFACT
    ]


# --- /knowledge/ ----------------------------------------------------------------------------------------


def knowledge(principal: Principal, text: str) -> tuple[list, str]:
    """Resolved cases and call summaries for `text`, the most relevant first (callnotes/knowledge.py), and a
    sentence when the query cannot be run."""
    text = (text or "").strip()
    if not text:
        return [], ""
    if len(text) > MAX_QUERY:
        return [], f"Search with at most {MAX_QUERY} characters."
    return list(selectors.knowledge_search(tenant=principal.tenant, text=text)[:KNOWLEDGE_LIMIT]), ""
