"""The call pages (UI.md, "Calls"): scheduling from the ticket page, /calls/ (my calls and my calendar feed),
/calls/<id>/ (the brief, live notes, the post-call record, the call's life), the invite, attachments,
/knowledge/ and the printable escalation brief. Reads go through helpdesk/workspace/callpages.py (callnotes'
selectors); every write is a workflow, with the same checks as the API (callnotes.rights for who may act on a
call); a refusal is shown on the fields it names, and what was typed is shown again."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callnotes import brief, downloads, rights, selectors
from callnotes.errors import CallError
from callnotes.models import Call
from callnotes.transcript import MAX_TRANSCRIPT_CHARS
from helpdesk import workflows
from helpdesk.models import validate_timezone
from helpdesk.workspace import callpages
from helpdesk.workspace.access import member_required
from helpdesk.workspace.views import _ticket_or_404, render

FEED_SESSION_KEY = "calendar_feed_url"  # the new URL, shown once (only its hash is stored)
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
DONE = {
    "start": "Call started.",
    "reschedule": "Call rescheduled; the invite was updated.",
    "cancel": "Call cancelled; the attendees were told.",
    "no-show": "Marked as a no-show.",
}
ERR_FORBIDDEN = "Only the call's agent or a manager may change this call."


class WindowForm(forms.Form):
    """A call's window as typed: a local time in the tenant's zone (parsed while it is the current zone) and a
    whole number of minutes. Whether the window is acceptable is the scheduling's call (callnotes.services)."""

    scheduled_start = forms.DateTimeField(input_formats=DATETIME_FORMATS)
    duration_minutes = forms.IntegerField()


class ScheduleForm(WindowForm):
    attendees = forms.CharField(required=False, max_length=20_000)
    agent = forms.CharField(required=False, max_length=20)
    timezone = forms.CharField(required=False, max_length=64, validators=[validate_timezone])


def _call_or_404(request, call_id: int) -> Call:
    try:
        return callpages.call_for(request.principal, call_id)
    except Call.DoesNotExist:
        raise Http404("No such call.") from None


def _form_errors(form: forms.Form) -> dict[str, str]:
    return {name: " ".join(errors) for name, errors in form.errors.items()}


# --- scheduling (the ticket page's dialog) --------------------------------------------------------------


def _schedule_context(request, ticket, data=None, errors=None, problem="") -> dict:
    fields = callpages.scheduling_fields(ticket, request.principal)
    errors = errors or {}
    for view in fields:
        if data is not None:
            view.value = data.get(view.name, "")
        view.error = errors.get(view.name, "")
    return {
        "ticket": ticket,
        "fields": fields,
        "members": callpages.active_members(request.principal),
        "data": data or {"attendees": ticket.requester.email, "duration_minutes": "30"},
        "errors": errors,
        "problem": problem,
        "zone": request.principal.tenant.timezone or "UTC",
    }


@require_http_methods(["GET", "POST"])
@member_required
def schedule(request, ticket_id: int):
    """GET: the dialog's form (htmx) or the same as a page; POST: schedules through the workflow."""
    ticket = _ticket_or_404(request, ticket_id)
    if request.method == "GET":
        template = "workspace/call_schedule.html#form" if request.htmx else "workspace/call_schedule.html"
        return render(request, template, _schedule_context(request, ticket))
    with timezone.override(request.principal.tenant.timezone or "UTC"):
        form = ScheduleForm(request.POST)
        valid = form.is_valid()
    errors = _form_errors(form)
    addresses, problem = callpages.attendees(request.POST.get("attendees", ""))
    if problem:
        errors["attendees"] = problem
    agent = None
    if valid and form.cleaned_data["agent"]:
        agent = next(
            (m for m in callpages.active_members(request.principal) if str(m.pk) == form.cleaned_data["agent"]), None
        )
        if agent is None:
            errors["agent"] = "Pick one of the active members, or leave it to routing."
    if not errors:
        pre_call = {
            view.key: request.POST.get(view.name, "").strip()
            for view in callpages.scheduling_fields(ticket, request.principal)
            if request.POST.get(view.name, "").strip()
        }
        try:
            call = workflows.call_schedule(
                ticket=ticket,
                actor=request.principal,
                scheduled_start=form.cleaned_data["scheduled_start"],
                duration_minutes=form.cleaned_data["duration_minutes"],
                agent=agent,
                attendees=addresses,
                timezone_name=form.cleaned_data["timezone"],
                pre_call=pre_call,
            )
        except CallError as exc:
            errors = callpages.error_texts(exc.fields)
            problem = str(exc)
        else:
            messages.success(request, f"Call scheduled with {call.agent.user.get_username()} ({call.routing}).")
            return redirect("workspace:call", call_id=call.pk)
    context = _schedule_context(request, ticket, request.POST, errors, problem or "Check the fields marked below.")
    return render(request, "workspace/call_schedule.html", context, status=400)


# --- the escalation brief, printable ------------------------------------------------------------------


@require_GET
@member_required
def ticket_brief(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    return render(request, "workspace/brief.html", {"ticket": ticket, "brief": brief.ticket_brief(ticket)})


# --- /calls/ ------------------------------------------------------------------------------------------


@require_GET
@member_required
def calls(request):
    page = callpages.calls_page(request.principal)
    feed_url = request.session.pop(FEED_SESSION_KEY, "")
    return render(request, "workspace/calls.html", {"page": page, "feed_url": feed_url})


@require_POST
@member_required
def feed_create(request):
    """A new private calendar URL for me (the old one stops working); shown once, on the next page."""
    _, key = workflows.calendar_feed_create(member=request.principal.membership, actor=request.principal)
    request.session[FEED_SESSION_KEY] = request.build_absolute_uri(reverse("v1:calendar-feed", args=[key]))
    messages.success(request, "A new calendar link was made; the old one no longer works.")
    return redirect("workspace:calls")


@require_POST
@member_required
def feed_revoke(request):
    workflows.calendar_feed_revoke(member=request.principal.membership, actor=request.principal)
    messages.success(request, "Calendar link revoked.")
    return redirect("workspace:calls")


# --- /calls/<id>/ --------------------------------------------------------------------------------------


def _call_page(request, call: Call, status: int = 200, **kwargs):
    page = callpages.call_page(request.principal, call, **kwargs)
    return render(
        request,
        "workspace/call.html",
        {"page": page, "call": call, "zone": request.principal.tenant.timezone},
        status=status,
    )


@require_GET
@member_required
def call(request, call_id: int):
    call = _call_or_404(request, call_id)
    return _call_page(request, call, use_draft=request.GET.get("draft") == "use")


def _refused(request, call: Call, exc: CallError, typed: dict):
    messages.error(request, str(exc))
    return _call_page(request, call, status=400, errors=callpages.error_texts(exc.fields), typed=typed)


def _typed(request) -> dict:
    data = request.POST
    return {
        "fields": callpages.typed_fields(data),
        **{key: data.get(key, "") for key in callpages.COMPLETION_FIELDS if key in data},
        **({"tags": data.get("tags", "")} if "tags" in data else {}),
        "action_rows": callpages.action_rows(data),
    }


def _save_notes(request, call: Call):
    """Saves the notes as typed (their template version); the note as saved, or the refusal."""
    note = selectors.note_of(call)
    if note is None:
        raise CallError("This call has no notes yet: schedule it first.", code="invalid_state", status=409)
    return workflows.call_note_update(
        call=call, actor=request.principal, changes=callpages.note_changes(note, request.POST)
    )


@require_POST
@member_required
def save_notes(request, call_id: int):
    """ "Save notes", and the page's autosave (htmx, a few seconds after typing stops): the same workflow; the
    autosave gets a one-line status back instead of the page, and a refusal there keeps the typed text on screen
    (the next save or "Save notes" shows it on its field)."""
    call = _call_or_404(request, call_id)
    try:
        note = _save_notes(request, call)
    except CallError as exc:
        if request.htmx:
            status = f"Not saved: {exc} {' '.join(callpages.error_texts(exc.fields).values())}".strip()
            return render(request, "workspace/call.html#autosave", {"status": status, "failed": True})
        return _refused(request, call, exc, _typed(request))
    if request.htmx:
        return render(request, "workspace/call.html#autosave", {"status": "Saved", "saved_at": note.updated_at})
    messages.success(request, "Notes saved.")
    return redirect("workspace:call", call_id=call.pk)


@require_POST
@member_required
def complete(request, call_id: int):
    """Saves the notes, then completes: every empty field the template requires named on its field, the action
    items tracked. Nothing typed is lost on a refusal."""
    call = _call_or_404(request, call_id)
    typed = _typed(request)
    if not rights.may_act(call, request.principal):
        messages.error(request, ERR_FORBIDDEN)
        return _call_page(request, call, status=403, typed=typed)
    items, problems = callpages.action_items(request.principal, typed["action_rows"])
    try:
        _save_notes(request, call)
        if problems:
            raise CallError("Some action items are incomplete.", fields={k: [v] for k, v in problems.items()})
        workflows.call_complete(
            call=call,
            actor=request.principal,
            root_cause=request.POST.get("root_cause", ""),
            resolution=request.POST.get("resolution", ""),
            customer_summary=request.POST.get("customer_summary", ""),
            action_items=items,
            tags=callpages.split_tags(request.POST.get("tags", "")),
        )
    except CallError as exc:
        return _refused(request, call, exc, typed)
    messages.success(request, "Call completed. Review the customer summary before it is sent.")
    return redirect("workspace:call", call_id=call.pk)


@require_POST
@member_required
def call_action(request, call_id: int, action: str):
    """Start, Reschedule, Cancel, Mark no-show: the workflow decides what the call's status allows."""
    call = _call_or_404(request, call_id)
    if action not in DONE:
        raise Http404("No such action.")
    if not rights.may_act(call, request.principal):
        messages.error(request, ERR_FORBIDDEN)
        return redirect("workspace:call", call_id=call.pk)
    try:
        if action == "start":
            workflows.call_start(call=call, actor=request.principal)
        elif action == "no-show":
            workflows.call_no_show(call=call, actor=request.principal)
        elif action == "cancel":
            reason = request.POST.get("reason", "").strip()[:2000]
            if not reason:
                raise CallError("Say why the call is cancelled.", fields={"reason": ["Required."]})
            workflows.call_cancel(call=call, actor=request.principal, reason=reason)
        else:
            with timezone.override(request.principal.tenant.timezone or "UTC"):
                form = WindowForm(request.POST)
                if not form.is_valid():
                    raise CallError("Give the new start and duration.", fields=dict(form.errors))
            workflows.call_reschedule(call=call, actor=request.principal, **form.cleaned_data)
    except CallError as exc:
        messages.error(request, f"{exc} {' '.join(callpages.error_texts(exc.fields).values())}".strip())
    else:
        messages.success(request, DONE[action])
    return redirect("workspace:call", call_id=call.pk)


@require_POST
@member_required
def approve_summary(request, call_id: int):
    """The customer-facing summary, approved (as written or edited), goes to the customer as a reply — once."""
    call = _call_or_404(request, call_id)
    if not rights.may_act(call, request.principal):
        messages.error(request, ERR_FORBIDDEN)
        return redirect("workspace:call", call_id=call.pk)
    try:
        workflows.call_summary_send(call=call, actor=request.principal, body=request.POST.get("customer_summary", ""))
    except CallError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Summary approved and sent to the customer.")
    return redirect("workspace:call", call_id=call.pk)


@require_POST
@member_required
def transcript(request, call_id: int):
    """A pasted transcript becomes a draft of the live notes, shown for review; nothing is saved into the notes
    or sent until a person does so."""
    call = _call_or_404(request, call_id)
    text = request.POST.get("transcript", "")
    if not text.strip():
        messages.error(request, "Paste the transcript first.")
    elif len(text) > MAX_TRANSCRIPT_CHARS:
        messages.error(request, f"A transcript has at most {MAX_TRANSCRIPT_CHARS} characters.")
    else:
        try:
            workflows.call_transcript_draft(call=call, actor=request.principal, text=text)
        except CallError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Draft ready: review it below, then use it in the live notes.")
    return redirect(reverse("workspace:call", args=[call.pk]) + "#live-notes")


@require_GET
@member_required
def invite(request, call_id: int):
    """The call's .ics (the same as the API's): a download."""
    call = _call_or_404(request, call_id)
    if call.scheduled_start is None:
        raise Http404("The call is not scheduled yet.")
    return downloads.invite_response(call)


@require_POST
@member_required
def upload(request, call_id: int):
    """A file on the call (and on one of its artifact fields when named); the checks are callnotes.artifacts'."""
    call = _call_or_404(request, call_id)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a file to upload.")
    else:
        try:
            workflows.attachment_add(
                ticket=call.ticket,
                actor=request.principal,
                upload=upload,
                call=call,
                field=request.POST.get("field", ""),
            )
        except CallError as exc:
            messages.error(request, f"{exc} {' '.join(callpages.error_texts(exc.fields).values())}".strip())
        else:
            messages.success(request, f"Uploaded {upload.name}.")
    return redirect(reverse("workspace:call", args=[call.pk]) + "#attachments")


@require_GET
@member_required
def download(request, attachment_id: int):
    """An attachment, to members of its tenant only, always as a download (never rendered inline)."""
    attachment = selectors.attachment_list(tenant=request.principal.tenant).filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such file.")
    return downloads.attachment_response(attachment)


# --- /knowledge/ -------------------------------------------------------------------------------------------


@require_GET
@member_required
def knowledge(request):
    query = request.GET.get("q", "")
    results, problem = callpages.knowledge(request.principal, query)
    return render(request, "workspace/knowledge.html", {"query": query, "results": results, "problem": problem})
