"""The briefs: the escalation brief of a ticket (GET /tickets/{id}/brief/: what the customer reported, what
was investigated, the steps taken, escalations and calls, current status and SLA state) and the pre-call
brief a call's notes start from (thread summary, attempts, escalations with their five fields, sentiment
trend, account facts, similar resolved cases and who resolved them). Reads only; JSON and Markdown."""

from __future__ import annotations

from django.utils import timezone

from callnotes import knowledge, transcript
from callnotes.models import Call
from escalation.models import Escalation
from escalation.summary import sentences
from slas.models import SlaTimer
from tickets.models import AuthorType, Message, ResolutionAttempt, Ticket

THREAD_SENTENCES = 4
REPORTED_MESSAGES = 3


def _who(member) -> str | None:
    return member.user.get_username() if member is not None else None


def _thread(ticket: Ticket) -> list[Message]:
    return list(Message.objects.filter(ticket=ticket).select_related("author__user").order_by("created_at", "id"))


def thread_summary(ticket: Ticket, messages: list[Message]) -> list[str]:
    """The customer's side in a few key sentences (TextRank over the description and their messages)."""
    texts = [ticket.description, *(m.body for m in messages if m.author_type == AuthorType.CUSTOMER)]
    units = [s for text in texts for s in sentences(text) if len(s.split()) >= 3]
    return transcript.TextRankSummarizer().key_sentences(units, limit=THREAD_SENTENCES)


def _account(ticket: Ticket) -> dict | None:
    account = ticket.account
    if account is None:
        return None
    return {
        "id": account.pk,
        "name": account.name,
        "plan": account.plan,
        "vip": account.vip,
        "annual_contract_value": str(account.annual_contract_value),
        "customer_since": account.customer_since.isoformat() if account.customer_since else None,
    }


def _escalations(ticket: Ticket) -> list[dict]:
    return [
        {
            "id": e.pk,
            "kind": e.kind,
            "status": e.status,
            "trigger": e.trigger,
            "reason": e.reason,
            "to_tier": e.to_tier,
            "agent": _who(e.agent),
            "to_call": e.to_call,
            "summary": e.summary,
            "created_at": e.created_at.isoformat(),
            "resolution": e.resolution,
            "root_cause": e.root_cause,
        }
        for e in Escalation.objects.filter(ticket=ticket).select_related("agent__user").order_by("created_at", "id")
    ]


def _attempts(ticket: Ticket) -> list[dict]:
    return [
        {"outcome": a.outcome, "tier": a.tier, "note": a.note, "at": a.created_at.isoformat()}
        for a in ResolutionAttempt.objects.filter(ticket=ticket).order_by("created_at", "id")
    ]


def _calls(ticket: Ticket) -> list[dict]:
    return [
        {
            "id": c.pk,
            "status": c.status,
            "scheduled_start": c.scheduled_start.isoformat() if c.scheduled_start else None,
            # When it really ended (completed or no-show): the scheduled start is no record of that.
            "ended_at": c.ended_at.isoformat() if c.ended_at else None,
            "agent": _who(c.agent),
            "suggested_trigger": c.suggested_trigger,
            "suggested_reason": c.suggested_reason,
            "root_cause": c.root_cause,
            "resolution": c.resolution,
        }
        for c in Call.objects.filter(ticket=ticket).select_related("agent__user").order_by("created_at", "id")
    ]


def _call_when(call: dict) -> str:
    if call["ended_at"]:
        return f" at {call['ended_at'][:16]} UTC"
    return f" for {call['scheduled_start'][:16]} UTC" if call["scheduled_start"] else ""


def _sla(ticket: Ticket) -> list[dict]:
    return [
        {
            "metric": t.metric,
            "escalation": t.escalation_id or None,
            "status": t.status,
            "due_at": t.due_at.isoformat() if t.due_at else None,
            "breached_at": t.breached_at.isoformat() if t.breached_at else None,
        }
        for t in SlaTimer.objects.filter(ticket=ticket).order_by("escalation_id", "metric")
    ]


def _similar(ticket: Ticket) -> list[dict]:
    return [
        {
            "kind": e.kind,
            "ticket": e.ticket_id,
            "call": e.call_id,
            "title": e.title,
            "root_cause": e.root_cause,
            "resolution": e.resolution[:500],
            "resolved_by": _who(e.resolved_by),
        }
        for e in knowledge.similar(ticket)
    ]


def _repeats(ticket: Ticket) -> list[dict]:
    return [
        {"root_cause": r.root_cause, "count": r.count, "days": r.days, "flag": r.flag}
        for r in knowledge.repeated_root_causes(ticket)
    ]


def ticket_brief(ticket: Ticket) -> dict:
    messages = _thread(ticket)
    customer = [m for m in messages if m.author_type == AuthorType.CUSTOMER]
    data = {
        "ticket": {
            "id": ticket.pk,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "tier": ticket.tier,
            "category": ticket.category,
            "requester": {"name": ticket.requester.name, "email": ticket.requester.email},
            "assignee": _who(ticket.assignee),
            "created_at": ticket.created_at.isoformat(),
        },
        "account": _account(ticket),
        "reported": {
            "description": ticket.description,
            "customer_messages": [m.body for m in customer[:REPORTED_MESSAGES]],
            "summary": thread_summary(ticket, messages),
        },
        "investigated": [
            {"by": _who(m.author) or "system", "note": m.body, "at": m.created_at.isoformat()}
            for m in messages
            if m.internal
        ],
        "steps_taken": _attempts(ticket),
        "escalations": _escalations(ticket),
        "calls": _calls(ticket),
        "status": {
            "status": ticket.status,
            "escalated": ticket.escalated,
            "sla_breached": ticket.sla_breached,
            "sla_at_risk": ticket.sla_at_risk,
        },
        "sla": _sla(ticket),
        "sentiment": {"current": ticket.sentiment, "trend": [m.sentiment for m in customer if m.sentiment is not None]},
        "repeated_root_causes": _repeats(ticket),
        "generated_at": timezone.now().isoformat(),
    }
    data["markdown"] = markdown(data)
    return data


def markdown(data: dict) -> str:
    """The brief as Markdown, for printing from the ticket page or pasting into a chat."""
    t = data["ticket"]
    lines = [f"# Escalation brief — ticket #{t['id']}: {t['subject']}", ""]
    lines += [
        f"**Status:** {t['status']} · **Priority:** {t['priority']} · **Tier:** {t['tier']} · "
        f"**Requester:** {t['requester']['name'] or t['requester']['email']}",
    ]
    if data["account"]:
        a = data["account"]
        lines.append(f"**Account:** {a['name']} ({a['plan']}{', VIP' if a['vip'] else ''})")
    lines += ["", "## What the customer reported", "", data["reported"]["description"], ""]
    lines += [f"- {s}" for s in data["reported"]["summary"]]
    lines += ["", "## What was investigated", ""]
    lines += [f"- {n['by']}: {n['note']}" for n in data["investigated"]] or ["- nothing recorded"]
    lines += ["", "## Steps taken", ""]
    lines += [f"- {s['at'][:16]} tier {s['tier']}: {s['outcome']} — {s['note']}" for s in data["steps_taken"]] or [
        "- none recorded"
    ]
    lines += ["", "## Escalations", ""]
    for e in data["escalations"]:
        lines.append(f"- #{e['id']} {e['kind']} ({e['trigger']}), {e['status']}, to {e['agent'] or 'queue'}")
        lines += [f"  - {name.replace('_', ' ')}: {value}" for name, value in e["summary"].items()]
        if e["root_cause"] or e["resolution"]:
            lines.append(f"  - outcome: {e['root_cause']} {e['resolution']}".rstrip())
    if not data["escalations"]:
        lines.append("- none")
    lines += ["", "## Calls", ""]
    lines += [
        f"- #{c['id']} {c['status']}{_call_when(c)}"
        f"{', with ' + c['agent'] if c['agent'] else ''}{': ' + c['root_cause'] if c['root_cause'] else ''}"
        for c in data["calls"]
    ] or ["- none"]
    lines += ["", "## Current status and SLA", ""]
    s = data["status"]
    lines.append(
        f"- {s['status']}; escalated: {s['escalated']}; SLA breached: {s['sla_breached']}; at risk: {s['sla_at_risk']}"
    )
    lines += [f"- {c['metric']}: {c['status']}, due {c['due_at'] or '—'}" for c in data["sla"]]
    for r in data["repeated_root_causes"]:
        lines.append(f"- Root cause {r['root_cause']!r} {r['flag']}")
    return "\n".join(lines) + "\n"


def pre_call_brief(ticket: Ticket, escalation: Escalation | None) -> dict:
    """What the call's notes start from: `brief` (shown beside the notes) and `prefill` (values for the
    default template's pre-call fields, by key)."""
    messages = _thread(ticket)
    customer = [m for m in messages if m.author_type == AuthorType.CUSTOMER]
    escalations = _escalations(ticket)
    attempts = _attempts(ticket)
    account = _account(ticket)
    summary = escalation.summary if escalation is not None else {}
    requester = ticket.requester
    brief = {
        "thread_summary": thread_summary(ticket, messages),
        "attempts": attempts,
        "escalations": escalations,
        "sentiment_trend": [round(m.sentiment, 3) for m in customer if m.sentiment is not None],
        "account": account,
        "similar": _similar(ticket),
        "repeated_root_causes": _repeats(ticket),
    }
    contact = f"{requester.name} <{requester.email}>" if requester.name else requester.email
    history = f"{len(customer)} customer message(s), {len(attempts)} attempt(s), {len(escalations)} escalation(s)"
    prefill = {
        "pre_call": {
            "contact": contact,
            "phone_or_link": requester.phone,
            "account_context": summary.get("account_context", ""),
            "ticket_history": history,
            "escalation_reason": (escalation.reason or escalation.trigger) if escalation is not None else "",
            "desired_outcome": summary.get("desired_outcome", ""),
        }
    }
    return {"brief": brief, "prefill": prefill}
