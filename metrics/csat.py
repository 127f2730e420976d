"""The customer's satisfaction link: a signed token naming the tenant and the ticket (no lookup before the
tenant is known, no SECURITY DEFINER function: the signature is the proof), valid CSAT_LINK_DAYS. The e-mail
asking for it is an outbox row (`csat.request`), written when an escalated ticket is solved."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

from helpdesk.outbox import outbox_emit
from tickets.models import Ticket
from tickets.selectors import ticket_context

SALT = "helpdesk.metrics.csat"
CSAT_LINK_DAYS = 30
SCORES = (1, 2, 3, 4, 5)
LABELS = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neutral", 4: "Satisfied", 5: "Very satisfied"}


def token_for(ticket: Ticket) -> str:
    return signing.dumps({"tenant": ticket.tenant_id, "ticket": ticket.pk}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[int, int] | None:
    """(tenant id, ticket id) of a valid, unexpired token; None for anything else."""
    try:
        data = signing.loads(token, salt=SALT, max_age=CSAT_LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("tenant", "ticket")):
        return None
    return data["tenant"], data["ticket"]


def links(ticket: Ticket) -> dict[int, str]:
    url = settings.PUBLIC_URL + reverse("csat", kwargs={"token": token_for(ticket)})
    return {score: f"{url}?score={score}" for score in SCORES}


def request_text(ticket: Ticket) -> str:
    lines = [f'How did we do with your request #{ticket.pk}, "{ticket.subject}"? One click answers:', ""]
    lines += [f"{score} - {LABELS[score]}: {url}" for score, url in links(ticket).items()]
    return "\n".join(lines)


def csat_request(*, ticket: Ticket, at: datetime) -> bool:
    """Asks the requester once per ticket (the dedupe key), after commit, through the e-mail channel."""
    return outbox_emit(
        tenant_id=ticket.tenant_id,
        type="csat.request",
        dedupe_key=f"csat.request:{ticket.pk}",
        payload={
            "ticket": ticket.pk,
            "to": ticket.requester.email,
            "text": request_text(ticket),
            "ticket_context": ticket_context(ticket),
        },
        at=at,
    )
