"""What the sweep's escalation pass reads once for its whole claim (issue 17), before any tenant's share runs
(helpdesk/workflows.py `_rules_all`), split by tenant and handed to each share through helpdesk.share_reads: the
reminders' warned clocks, the open tickets with requester and account, the facts' parts, the escalations with
the ladder's flag, the requesters' ticket counts, the routing boards, the managers, the milestone mail's senders,
the firings already claimed (and callnotes' part: the calls) — one statement each for the claim instead of one
each per share (the full storm: 1,000 shares). A share takes each once; what it reads after its own writes it
still reads itself.

Runs inside tenancy.tenant_batch (the batch tables: tickets, clocks, calendars, events, messages, customers,
accounts; and the escalations and calls, which the pass writes at its end too) and tenancy.tenant_reads, which
the caller opens for these statements alone (CLAIM_READ_TABLES: attempts, members, teams, team memberships, mail
senders), so every row read is one of a claimed tenant's, and a share itself never sees another tenant's rows of
those tables.
Every query names its tenants too; each share is handed only rows of its own tenant (split by the rows'
tenant_id)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from escalation import batch, communication
from escalation import selectors as escalation_selectors
from escalation.models import Escalation, RuleFiring
from escalation.snapshot import parts_across
from helpdesk.models import Membership
from mail.models import MailSetup
from slas import selectors as sla_selectors
from tickets.models import Ticket


def claim_read(claimed: dict[int, list[int]], at: datetime) -> dict[int, dict[str, object]]:
    """By tenant: the reads its share of the escalation stage takes (helpdesk.share_reads), for the claimed
    tickets `claimed` (ticket ids by tenant) at `at`. Inside tenancy.tenant_batch and tenant_reads."""
    tenant_ids = sorted(claimed)
    ticket_ids = [pk for ids in claimed.values() for pk in ids]
    reads: dict[int, dict[str, object]] = {pk: {} for pk in tenant_ids}
    clocks = sla_selectors.update_clocks_warned_across(tenant_ids=tenant_ids, ticket_ids=ticket_ids, at=at)
    for pk, rows in _by_tenant(clocks).items():
        reads[pk]["update_clocks"] = rows
    # What only deciding needs (the open tickets, their facts' parts, the requesters' counts, the boards, the
    # firings claimed before), of the tenants with an active time rule alone: batch.open_due decides nothing for
    # the others (their matrices were preloaded just before: escalation.selectors.matrices_preload).
    deciding = sorted(escalation_selectors.with_time_rules(tenant_ids))
    deciding_ticket_ids = [pk for tenant_id in deciding for pk in claimed[tenant_id]]
    reads_tickets = _share_rows(claimed, tenant_ids, ticket_ids, deciding)
    boards = batch.boards_across(deciding) if deciding else {}
    managers = _by_tenant_rows(
        communication.managers_of(Membership.unscoped.filter(tenant_id__in=tenant_ids)).values_list(
            "tenant_id", "pk", "teams__id"
        )
    )
    setups = {setup.tenant_id: setup for setup in MailSetup.unscoped.filter(tenant_id__in=tenant_ids)}
    firings: dict[int, set] = {pk: set() for pk in deciding}
    known = RuleFiring.unscoped.filter(tenant_id__in=deciding, ticket_id__in=deciding_ticket_ids)
    for tenant_id, *key in known.values_list("tenant_id", "ticket_id", "rule_id", "cycle") if deciding else []:
        firings[tenant_id].add(tuple(key))
    for pk in tenant_ids:
        reads[pk].setdefault("update_clocks", [])
        reads[pk].update(tickets=reads_tickets[pk], manager_rows=managers.get(pk, []), mail_setup=setups.get(pk))
        if pk in firings:  # a tenant not deciding takes neither: it would read its own if it ever asked
            reads[pk].update(board=boards[pk], firings=firings[pk])
    return reads


def _share_rows(
    claimed: dict[int, list[int]], tenant_ids: list[int], ticket_ids: list[int], deciding: list[int]
) -> dict:
    """batch.ShareRows of every share: tickets, escalations, requesters' counts, the facts' parts, one query each;
    the tickets, counts and parts of the `deciding` tenants alone (the others' rows: their escalations, all in
    `others`, for the ladder and the call requests; tickets_read False)."""
    deciding_ids = [pk for tenant_id in deciding for pk in claimed[tenant_id]]
    tickets = (
        batch.open_tickets(Ticket.unscoped.filter(tenant_id__in=deciding, pk__in=deciding_ids)) if deciding else []
    )
    open_ids = {t.pk for t in tickets}
    # Of every claimed ticket: the call requests ask the escalations of those solved or closed since too.
    escalations = batch.escalations_with_ladder(
        Escalation.unscoped.filter(tenant_id__in=tenant_ids, ticket_id__in=ticket_ids)
    )
    counts = batch.requester_counts(
        Ticket.unscoped.filter(tenant_id__in=tenant_ids), [t.requester_id for t in tickets]
    ) if tickets else {}  # fmt: skip
    parts = parts_across(tickets)
    by_tenant = _by_tenant(tickets)
    escalations_of = _by_tenant(e for e in escalations if e.ticket_id in open_ids)
    others_of = _by_tenant(e for e in escalations if e.ticket_id not in open_ids)
    rows = {}
    decides = set(deciding)
    for pk in tenant_ids:
        own = by_tenant.get(pk, [])
        rows[pk] = batch.ShareRows(
            ticket_ids=claimed[pk],
            tickets=own,
            escalations=escalations_of.get(pk, []),
            counts={t.requester_id: counts[t.requester_id] for t in own if t.requester_id in counts},
            parts={t.pk: parts[t.pk] for t in own},
            others=others_of.get(pk, []),
            tickets_read=pk in decides,
        )
    return rows


def _by_tenant(rows) -> dict[int, list]:
    """Model instances grouped by their tenant_id, in the order given."""
    out: dict[int, list] = defaultdict(list)
    for row in rows:
        out[row.tenant_id].append(row)
    return out


def _by_tenant_rows(rows) -> dict[int, list[tuple]]:
    """(tenant id, *rest) tuples grouped by tenant, as the rest, in the order given."""
    out: dict[int, list[tuple]] = defaultdict(list)
    for tenant_id, *rest in rows:
        out[tenant_id].append(tuple(rest))
    return out
