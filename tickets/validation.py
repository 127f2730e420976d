"""What a change to a ticket or a customer may do, and who may do it: one check, used by the services (for the
API, the pages and every other writer) and by the admin's forms, so no door allows what another refuses."""

from __future__ import annotations

from helpdesk.auth import Principal
from helpdesk.models import ROLE_RANK, Role
from tickets.errors import AuthorityError, TicketError
from tickets.models import Account, Customer, Status, Ticket

# Which status may follow which. Closed is final for edits: a closed ticket comes back only through a
# new customer message or an explicit reopen (ticket_reopen), so a stray PATCH can't resurrect it.
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.OPEN: {Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.PENDING: {Status.OPEN, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.ON_HOLD: {Status.OPEN, Status.PENDING, Status.SOLVED, Status.CLOSED},
    Status.SOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}
# Ending a VIP's ticket needs a manager's sign-off (DESIGN.md): solving it ends it as surely as closing it.
SIGN_OFF_STATUSES = (Status.SOLVED, Status.CLOSED)

ERR_TRANSITION = "A ticket cannot go from {before} to {after}."
ERR_VIP_CLOSE = "Solving or closing a ticket of a VIP account needs a manager or admin."
ERR_VIP_MOVE = "Moving a customer into or out of a VIP account needs a manager or admin."


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _below_manager(actor: Principal | None) -> bool:
    """The system (rules, imports: actor None) acts with full authority."""
    return actor is not None and ROLE_RANK[actor.role] < ROLE_RANK[Role.MANAGER]


def check_can_close(*, ticket: Ticket, actor: Principal | None) -> None:
    """A VIP account's ticket is solved or closed only with a manager's (or admin's) sign-off."""
    if not _below_manager(actor) or ticket.account_id is None:
        return
    if Account.objects.filter(pk=ticket.account_id, vip=True).exists():
        raise AuthorityError(ERR_VIP_CLOSE)


def check_status_change(*, ticket: Ticket, status: str, actor: Principal | None) -> None:
    """Raises TicketError (or AuthorityError) for a status the ticket may not take now, or not by this actor."""
    before = ticket.status
    if status == before:
        return
    if status not in TRANSITIONS[before]:
        raise TicketError(ERR_TRANSITION.format(before=before, after=status), field="status")
    if status in SIGN_OFF_STATUSES:
        check_can_close(ticket=ticket, actor=actor)


def check_customer_move(*, customer: Customer, account: Account | None, actor: Principal | None) -> None:
    """A VIP account's people get VIP treatment (SLAs, escalation): who belongs to one is a manager's call."""
    if not _below_manager(actor) or account == customer.account:
        return
    ids = [pk for pk in (customer.account_id, account.pk if account else None) if pk]
    if ids and Account.objects.filter(pk__in=ids, vip=True).exists():
        raise AuthorityError(ERR_VIP_MOVE, field="account")


ERR_ACCOUNT_MANAGER = "Choose an active member of this helpdesk as the account manager."


def member_problem(instance, field: str, message: str) -> list[str]:
    """[message] when the member the field names is of another tenant, or deactivated — unless it is the one
    already stored (a seat deactivated later must not block every other edit of the record). Read unscoped by
    id and tenant, so another tenant's member answers exactly like a missing one."""
    from helpdesk.models import Membership

    member_id = getattr(instance, f"{field}_id")
    if member_id is None:
        return []
    if instance.pk is not None:
        stored = type(instance).unscoped.filter(pk=instance.pk).values_list(f"{field}_id", flat=True).first()
        if stored == member_id:
            return []
    found = Membership.unscoped.filter(pk=member_id, tenant_id=instance.tenant_id, active=True).exists()
    return [] if found else [message]


def account_problems(account: Account) -> dict[str, list[str]]:
    problems = member_problem(account, "account_manager", ERR_ACCOUNT_MANAGER)
    return {"account_manager": problems} if problems else {}
