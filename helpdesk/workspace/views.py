"""The workspace's pages and the actions on them. Reads go through helpdesk/workspace/pages.py and queues.py
(the apps' selectors); every write is a workflow, as in the API, and a refusal of the services (a VIP ticket
solved by an agent, an escalation acknowledged by someone not in its team) is shown, never bypassed.

Actions answer with a redirect to the page they came from (POST, redirect, GET): a refresh never repeats
one. The composer's draft survives that reload (static/workspace.js keeps it per ticket until sent)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render as django_render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from escalation import routing
from escalation.errors import EscalationError
from escalation.forms import DeEscalateForm, ReasonForm, ResolveForm, RolesForm
from escalation.selectors import draft_summary, escalation_list, escalations_for
from helpdesk import workflows
from helpdesk.models import Tenant
from helpdesk.workspace import callpages, pages, presence, queues
from helpdesk.workspace.access import member_required
from helpdesk.workspace.clocks import clock_view, most_urgent
from helpdesk.workspace.forms import SUMMARY_LABELS, AttemptForm, EscalateForm, ReplyForm, StatusForm, TagForm
from slas import selectors as slas
from tickets.errors import TicketError
from tickets.models import AuthorType, Ticket
from tickets.selectors import search_cap

POLL_SECONDS = 10  # the pages ask for news this often (UI.md: within 15 s of a change made elsewhere)
ROW_MARK = 987654321  # a ticket id no URL part contains: the queue's row links are this reverse() with ids put in


def render(request, template: str, context: dict, status: int = 200):
    """Renders in the tenant's time zone: people read times in their own zone (the exact UTC instant is on
    hover). Only around rendering: the API and the services stay in UTC."""
    with timezone.override(request.principal.tenant.timezone):
        return django_render(request, template, context, status=status)


@member_required
def home(request):
    """Signed in with seats in several tenants and none chosen yet: pick one first (UI.md)."""
    if len(getattr(request, "tenant_ids", ())) > 1 and "tenant_id" not in request.session:
        return redirect("workspace:tenants")
    return redirect("workspace:queue")


@member_required
def tenants(request):
    """The workspaces (tenants) this person holds a seat in; choosing one keeps it for the session."""
    ids = list(getattr(request, "tenant_ids", ()))
    if request.method == "POST":
        chosen = request.POST.get("tenant", "")
        if chosen.isdigit() and int(chosen) in ids:
            request.session["tenant_id"] = int(chosen)
            return redirect("workspace:queue")
        messages.error(request, "Pick one of your workspaces.")
    choices = Tenant.objects.filter(pk__in=ids).order_by("name")
    return render(request, "workspace/tenants.html", {"choices": choices})


def _ticket_or_404(request, ticket_id: int) -> Ticket:
    try:
        return pages.ticket_for(request.principal, ticket_id)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket.") from None


def _back(ticket: Ticket):
    return redirect("workspace:ticket", ticket_id=ticket.pk)


# --- queues ---------------------------------------------------------------------------------------


def _queue_context(request) -> dict:
    page = queues.queue_page(request.principal, request.GET)
    # Breached clocks too: the SLA column says how long overdue.
    ids = [row["id"] for row in page.rows]
    clocks = slas.ticket_clocks(ticket_ids=ids, own_only=True, open_only=True, with_breached=True)
    now = timezone.now()
    by_ticket: dict[int, list] = {}
    calendars: dict = {}
    for timer in clocks:
        by_ticket.setdefault(timer.ticket_id, []).append(clock_view(timer, now, calendars))
    # One reverse() for the page, not one a row (each was ~0.1 ms with this URLconf: a tenth of the rendering).
    link = reverse("workspace:ticket", args=[ROW_MARK])
    for row in page.rows:
        row["clock"] = most_urgent(by_ticket.get(row["id"], []))
        row["url"] = link.replace(str(ROW_MARK), str(row["id"]))
    query = request.GET.copy()
    query.pop("cursor", None)
    query.pop("before", None)
    query.pop("since", None)
    poll = request.GET.copy()
    poll.pop("since", None)
    return {
        "page": page,
        "views": [(view, page.counts.get(view.slug, 0)) for view in queues.VIEWS],
        "count_cap": queues.COUNT_CAP,
        "search_note": _search_note(search_cap()) if page.search_capped else "",
        "view_label": next(v.label for v in queues.VIEWS if v.slug == page.view),
        "sorts": [(slug, label) for slug, (label, _) in queues.SORTS.items()],
        "filters": request.GET,
        "base_query": query.urlencode(),
        "poll_query": poll.urlencode(),
        "version": pages.tenant_version(request.principal),
        "poll_seconds": POLL_SECONDS,
        "now": now,
    }


def _search_note(cap: int) -> str:
    return f"{cap:,}+ matches: the newest {cap:,} are shown in the views. Add a word to narrow the search."


@require_GET
@member_required
def queue(request):
    """A view of the tenant's tickets (UI.md: /tickets/?view=…, with the API's filters and `q`)."""
    if request.htmx and request.GET.get("since") == pages.tenant_version(request.principal):
        return HttpResponse(status=204)  # a poll that finds nothing new: one indexed read
    context = _queue_context(request)
    if request.htmx:
        return render(request, "workspace/queue.html#results", context)
    return render(request, "workspace/queue.html", context)


# --- the ticket page ------------------------------------------------------------------------------


def _ticket_context(request, ticket: Ticket) -> dict:
    page = pages.ticket_page(request.principal, ticket, pages.team_ids_of(request.principal))
    return {
        "page": page,
        "ticket": ticket,
        "poll_seconds": POLL_SECONDS,
        "reply_form": ReplyForm(),
        "assignee_label": pages.member_label(ticket.assignee),
        "me": request.principal.membership,
        "calls": callpages.ticket_calls(ticket),
    }


@require_GET
@member_required
def ticket(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    return render(request, "workspace/ticket.html", _ticket_context(request, ticket))


@require_GET
@member_required
def ticket_poll(request, ticket_id: int):
    """What changed on the ticket since the page's version: nothing (204, one indexed read), or the page's
    live regions, swapped in place — the composer is not among them, so a draft is never lost."""
    if request.GET.get("since") == pages.ticket_version(request.principal, ticket_id):
        return HttpResponse(status=204)
    ticket = _ticket_or_404(request, ticket_id)
    return render(request, "workspace/ticket.html#live", _ticket_context(request, ticket))


@require_POST
@member_required
def presence_beat(request, ticket_id: int):
    """Who else has the ticket open, and who is replying (Redis, seconds-long: nothing to keep)."""
    ticket = _ticket_or_404(request, ticket_id)
    state = "replying" if request.POST.get("state") == "replying" else "viewing"
    others = presence.beat(request.principal, ticket.pk, state)
    return render(request, "workspace/ticket.html#presence", {"others": others, "ticket": ticket})


def _run(request, ticket: Ticket, action, done: str):
    try:
        action()
    except (TicketError, EscalationError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return _back(ticket)


@require_POST
@member_required
def reply(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a reply before sending it.")
        return _back(ticket)
    internal = form.cleaned_data["internal"]
    return _run(
        request,
        ticket,
        lambda: workflows.message_receive(
            ticket=ticket,
            actor=request.principal,
            body=form.cleaned_data["body"],
            author_type=AuthorType.AGENT,
            internal=internal,
        ),
        "Internal note added." if internal else "Reply sent.",
    )


@require_POST
@member_required
def assign_to_me(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    me = request.principal.membership
    return _run(
        request,
        ticket,
        lambda: workflows.ticket_update(ticket=ticket, actor=request.principal, assignee=me),
        "Assigned to you.",
    )


@require_POST
@member_required
def change_status(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _back(ticket)
    status = form.cleaned_data["status"]
    return _run(
        request,
        ticket,
        lambda: workflows.ticket_update(ticket=ticket, actor=request.principal, status=status),
        f"Status: {status.replace('_', ' ')}.",
    )


@require_POST
@member_required
def add_tag(request, ticket_id: int):
    """A person adds a tag (a tag_added rule may fire: "bug confirmed by reproduction" goes to engineering)."""
    ticket = _ticket_or_404(request, ticket_id)
    form = TagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A tag is a word like bug_confirmed: letters, digits, - and _.")
        return _back(ticket)
    tag = form.cleaned_data["tag"]
    return _run(
        request,
        ticket,
        lambda: workflows.ticket_update(ticket=ticket, actor=request.principal, tags=[*ticket.tags, tag]),
        f"Tagged {tag}.",
    )


@require_POST
@member_required
def clear_review(request, ticket_id: int):
    """A person reviewed a flagged ticket: it leaves the Needs review queue."""
    ticket = _ticket_or_404(request, ticket_id)
    return _run(
        request,
        ticket,
        lambda: workflows.ticket_review_clear(ticket=ticket, actor=request.principal),
        "Review flag cleared.",
    )


@require_POST
@member_required
def record_attempt(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        messages.error(request, "An attempt needs its outcome and tier.")
        return _back(ticket)
    return _run(
        request,
        ticket,
        lambda: workflows.attempt_record(ticket=ticket, actor=request.principal, **form.cleaned_data),
        "Attempt recorded.",
    )


# --- escalate -------------------------------------------------------------------------------------


def _dialog_context(request, ticket: Ticket, form: EscalateForm | None = None) -> dict:
    drafted = draft_summary(ticket)
    targets = pages.escalation_targets()
    values = {name: (form.data.get(name) if form is not None else drafted.get(name, "")) for name in SUMMARY_LABELS}
    return {
        "ticket": ticket,
        "targets": targets,
        "suggested": pages.suggested_target(ticket, targets),
        "summary_fields": [(name, label, values[name]) for name, label in SUMMARY_LABELS.items()],
        "form": form,
        "errors": form.errors if form is not None else {},
    }


@require_GET
@member_required
def escalate_dialog(request, ticket_id: int):
    """The escalate dialog, its five fields drafted from the thread (loaded when opened: drafting reads the
    thread, which the page itself does not need)."""
    ticket = _ticket_or_404(request, ticket_id)
    template = "workspace/escalate.html#dialog" if request.htmx else "workspace/escalate.html"
    return render(request, template, _dialog_context(request, ticket))


@require_GET
@member_required
def routing_preview(request, ticket_id: int):
    """Where an escalation to the chosen target would go now (routing reads; it writes nothing)."""
    ticket = _ticket_or_404(request, ticket_id)
    target = pages.parse_target(request.GET.get("target", ""))
    preview = ""
    if target:
        exclude = routing.handed_over_by(ticket, request.principal)
        preview = pages.route_preview(routing.route(**target, exclude_ids=exclude), target)
    return render(request, "workspace/escalate.html#preview", {"preview": preview})


@require_POST
@member_required
def escalate(request, ticket_id: int):
    ticket = _ticket_or_404(request, ticket_id)
    form = EscalateForm(request.POST)
    target = pages.parse_target(request.POST.get("target", ""))
    if not form.is_valid() or not target:
        if not target:
            form.add_error("target", "Pick where the ticket goes.")
        return render(request, "workspace/escalate.html", _dialog_context(request, ticket, form), status=400)
    data = form.cleaned_data
    try:
        workflows.escalate_manually(
            ticket=ticket,
            actor=request.principal,
            kind=data["kind"],
            reason=data["reason"] or "escalated from the ticket page",
            summary=form.summary(),
            to_call=data["to_call"],
            **target,
        )
    except EscalationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Escalated.")
    return _back(ticket)


# --- escalations ----------------------------------------------------------------------------------

LIFECYCLE_FORMS = {"resolve": ResolveForm, "return": ReasonForm, "de-escalate": DeEscalateForm}
LIFECYCLE_RUNS = {
    "acknowledge": workflows.escalation_acknowledge,
    "resolve": workflows.escalation_resolve,
    "return": workflows.escalation_return,
    "de-escalate": workflows.escalation_de_escalate,
}
DONE = {"acknowledge": "Acknowledged.", "resolve": "Resolved.", "return": "Returned.", "de-escalate": "De-escalated."}


@require_POST
@member_required
def escalation_action(request, escalation_id: int, action: str):
    """Acknowledge, Resolve, Return, De-escalate: the workflow decides who may (escalation/rights.py)."""
    escalation = escalation_list(tenant=request.principal.tenant).filter(pk=escalation_id).first()
    if escalation is None or action not in LIFECYCLE_RUNS:
        raise Http404("No such escalation.")
    form_class = LIFECYCLE_FORMS.get(action)
    form = form_class(request.POST) if form_class else None
    back = request.POST.get("next") or reverse("workspace:ticket", args=[escalation.ticket_id])
    if not back.startswith("/"):
        back = reverse("workspace:ticket", args=[escalation.ticket_id])
    if form is not None and not form.is_valid():
        messages.error(request, "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()))
        return redirect(back)
    try:
        LIFECYCLE_RUNS[action](escalation=escalation, actor=request.principal, **(form.cleaned_data if form else {}))
    except EscalationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, DONE[action])
    return redirect(back)


@require_POST
@member_required
def escalation_roles(request, escalation_id: int):
    """Resolver, customer updater, overseer (the card's "Save roles"): the workflow decides who may
    (escalation/roles.py) and whom they may name."""
    escalation = escalation_list(tenant=request.principal.tenant).filter(pk=escalation_id).first()
    if escalation is None:
        raise Http404("No such escalation.")
    back = request.POST.get("next") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("workspace:ticket", args=[escalation.ticket_id])
    form = RolesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()))
        return redirect(back)
    try:
        workflows.escalation_roles_set(escalation=escalation, actor=request.principal, **form.member_ids())
    except EscalationError as exc:
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in exc.fields.items())
        messages.error(request, f"{exc} {problems}".strip())
    else:
        messages.success(request, "Roles saved.")
    return redirect(back)


@require_GET
@member_required
def escalations(request):
    """Escalations addressed to me or my teams (and, for managers, the managers' queue), by status."""
    principal = request.principal
    team_ids = pages.team_ids_of(principal)
    found = list(
        escalations_for(tenant=principal.tenant, member=principal.membership, team_ids=team_ids)
        .select_related("ticket", *pages.CARD_RELATED)
        .filter(status__in=["requested", "acknowledged"])[:200]
    )
    timers = slas.ticket_clocks(ticket_ids={e.ticket_id for e in found}, open_only=True)
    now = timezone.now()
    views = [clock_view(t, now) for t in timers]
    cards = pages.escalation_cards(found, views, timers, principal, team_ids)
    groups = [
        ("Waiting for acknowledgement", [c for c in cards if c.escalation.status == "requested"]),
        ("Acknowledged", [c for c in cards if c.escalation.status == "acknowledged"]),
    ]
    return render(request, "workspace/escalations.html", {"groups": groups, "member_label": pages.member_label})
