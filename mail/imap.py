"""The IMAP poller (imap-tools): reads what a mailbox received since its last UID, one message at a time.

Exactly-once by construction, not by care:
- a message is handed to `receive` (helpdesk.workflows.email_receive: its own transaction) and only after that
  returns — committed — is its UID stored and the message flagged \\Seen on the server;
- killed between the commit and the UID's store, the next poll reads the message again and its Message-ID
  (or, without one, the hash of its bytes) makes it a duplicate;
- a new UIDVALIDITY (the folder was rebuilt) starts from UID 1 again, with the same guarantee;
- a connection dropped mid-fetch ends the poll with the error recorded on the mailbox; what was committed is
  marked, the rest is read next time.
Two pollers of one mailbox at once (beat and a `fetch_mail`) are kept apart by a PostgreSQL advisory lock.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from imap_tools import MailBox, MailBoxUnencrypted
from imap_tools.message import MailMessage

from helpdesk.notifications import crypto, ssrf
from helpdesk.tenancy import tenant_context
from mail import services
from mail.models import Mailbox

LOCK_NAMESPACE = 0x6D61696C  # "mail": the advisory lock's first key, the mailbox id its second


@dataclass
class PollReport:
    mailbox: int
    read: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    error: str = ""
    skipped: bool = False  # another poller holds this mailbox


def mailboxes_active() -> list[tuple[int, int]]:
    """(mailbox id, tenant id) of every active mailbox, across tenants (migration mail 0002)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT mailbox_id, tenant_id FROM mail_mailbox_tenants()")
        return list(cursor.fetchall())


def _check_host(mailbox: Mailbox) -> None:
    """The SSRF guard's address rule (helpdesk/notifications/ssrf.py), as for webhooks: a tenant's admin must
    not aim our poller at our own network (loopback, private, link-local, metadata addresses). The port is
    the admin's choice (IMAP servers listen on 993 or 143, not on the webhooks' 80/443). The connection then
    goes by name, so TLS checks the certificate against it; a DNS answer changed in between is the residual."""
    if ssrf.private_networks_allowed():
        return
    try:
        addresses = ssrf.resolve(mailbox.host, mailbox.port)
    except (OSError, UnicodeError):
        raise ssrf.UrlRefused(ssrf.ERR_RESOLVE) from None
    ssrf.check_addresses(addresses)


def _connect(mailbox: Mailbox):
    _check_host(mailbox)
    timeout = settings.IMAP_TIMEOUT_S
    if mailbox.use_ssl:
        return MailBox(mailbox.host, mailbox.port, timeout=timeout, ssl_context=ssl.create_default_context())
    return MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=timeout)


def _lock(mailbox_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, mailbox_id])
        return bool(cursor.fetchone()[0])


def _unlock(mailbox_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, mailbox_id])


def _raw(box, uid: str) -> bytes | None:
    result = box.client.uid("fetch", uid, "(BODY.PEEK[])")
    if result[0] != "OK" or not result[1] or result[1][0] is None:
        return None
    raw, _, _ = MailMessage._get_message_data_parts(result[1])
    return raw


def _new_uids(box, after: int) -> list[int]:
    # "n:*" always includes the highest UID even when it is below n (RFC 3501 §6.4.8): filter again.
    found = box.uids(f"UID {after + 1}:*")
    return sorted(uid for uid in (int(u) for u in found) if uid > after)


def poll(*, mailbox: Mailbox, receive: Callable[[bytes], str], limit: int) -> PollReport:
    """Reads up to `limit` new messages of the mailbox into `receive` (which commits each); never raises for the
    server's faults. Outside any transaction: each write here is one of its own, in the mailbox's tenant."""
    report = PollReport(mailbox=mailbox.pk)
    if not _lock(mailbox.pk):
        report.skipped = True
        return report
    try:
        _poll_locked(mailbox, receive, limit, report)
    except (TimeoutError, imaplib.IMAP4.error, OSError, ValueError, ssrf.UrlRefused) as exc:
        report.error = f"{type(exc).__name__}: {exc}"[:2000]
        logging.getLogger(__name__).warning("mailbox %s: %s", mailbox.pk, report.error)
    finally:
        _unlock(mailbox.pk)
        with tenant_context(mailbox.tenant):
            services.mailbox_polled(mailbox=mailbox, error=report.error)
    return report


def _poll_locked(mailbox: Mailbox, receive: Callable[[bytes], str], limit: int, report: PollReport) -> None:
    password = crypto.decrypt(mailbox.password_encrypted)
    with _connect(mailbox).login(mailbox.username, password, initial_folder=mailbox.folder) as box:
        validity = int(box.folder.status(mailbox.folder, ["UIDVALIDITY"])["UIDVALIDITY"])
        if mailbox.uidvalidity != validity:
            with tenant_context(mailbox.tenant):
                services.mailbox_reset(mailbox=mailbox, uidvalidity=validity)
        for uid in _new_uids(box, mailbox.last_uid)[:limit]:
            raw = _raw(box, str(uid))
            if raw is None:
                continue  # expunged since the search: nothing to read
            outcome = receive(raw)  # committed when it returns
            with tenant_context(mailbox.tenant):
                services.mailbox_mark(mailbox_id=mailbox.pk, uidvalidity=validity, uid=uid)
            mailbox.last_uid = uid
            box.flag(str(uid), "\\Seen", True)
            report.read += 1
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
