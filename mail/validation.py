"""The one validation of each e-mail configuration model (helpdesk/validation.py's shape): the admin's forms
reach it through the models' clean(), the services through full_check."""

from __future__ import annotations

from helpdesk.validation import Problems

ERR_ADDRESS_TAKEN = "This address already belongs to a helpdesk."
ERR_PLUS = "An inbound address can't contain '+': replies are plus-addressed (support+t12.…@)."
ERR_FOREIGN_TEAM = "No such team in this tenant."
ERR_LIMIT = "Between 1 and 10000 mails per hour."
ERR_PORT = "A port between 1 and 65535."
ERR_HOST = "A host name, without a scheme or a path."
ERR_FOLDER = "A folder name without line breaks or quotes."


def setup_problems(setup) -> Problems:
    problems: Problems = {}
    if "+" in (setup.from_address or "").partition("@")[0]:
        problems["from_address"] = [ERR_PLUS]
    if not 1 <= (setup.sender_limit_per_hour or 0) <= 10000:
        problems["sender_limit_per_hour"] = [ERR_LIMIT]
    if any(c in (setup.from_name or "") for c in '\r\n"<>'):
        problems["from_name"] = ["A name without quotes, angle brackets or line breaks."]
    return problems


def address_problems(address) -> Problems:
    from mail.models import InboundAddress

    problems: Problems = {}
    value = (address.address or "").strip().lower()
    if "+" in value.partition("@")[0]:
        problems["address"] = [ERR_PLUS]
    # Unique across tenants: the row of another tenant is invisible here (RLS), so ask the unscoped manager,
    # which RLS filters too; the unique index decides in the end (services turn its error into this one).
    elif InboundAddress.unscoped.filter(address=value).exclude(pk=address.pk).exists():
        problems["address"] = [ERR_ADDRESS_TAKEN]
    if address.team_id is not None and address.team.tenant_id != address.tenant_id:
        problems["team"] = [ERR_FOREIGN_TEAM]
    return problems


def mailbox_problems(mailbox) -> Problems:
    problems: Problems = {}
    if not 1 <= (mailbox.port or 0) <= 65535:
        problems["port"] = [ERR_PORT]
    host = mailbox.host or ""
    if not host or any(c in host for c in "/:@ \r\n"):
        problems["host"] = [ERR_HOST]
    if any(c in (mailbox.folder or "") for c in '\r\n"'):
        problems["folder"] = [ERR_FOLDER]
    if mailbox.address_id is not None and mailbox.address.tenant_id != mailbox.tenant_id:
        problems["address"] = ["No such inbound address in this tenant."]
    return problems
