"""Real-world-shaped mail, built here: what Gmail, Outlook, Apple Mail, auto-responders and mail servers send.
Each builder returns the raw bytes a mail server would hand over."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DATE = format_datetime(datetime(2026, 12, 1, 9, 30, tzinfo=UTC))


def _base(sender: str, to: str, subject: str, message_id: str | None, **headers) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = DATE
    message["Message-ID"] = message_id or make_msgid(domain="customer.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def plain(
    body: str,
    *,
    sender: str = "Jane Doe <jane@customer.test>",
    to: str = "support@acme.test",
    subject: str = "Invoice question",
    message_id: str | None = None,
    **headers,
) -> bytes:
    message = _base(sender, to, subject, message_id, **headers)
    message.set_content(body)
    return message.as_bytes()


def alternative(text: str, html: str, **kwargs) -> bytes:
    """multipart/alternative, text and HTML: what every desktop client sends."""
    message = _base(
        kwargs.pop("sender", "Jane Doe <jane@customer.test>"),
        kwargs.pop("to", "support@acme.test"),
        kwargs.pop("subject", "Invoice question"),
        kwargs.pop("message_id", None),
        **kwargs,
    )
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


def html_only(html: str, **kwargs) -> bytes:
    message = _base("jane@customer.test", "support@acme.test", kwargs.pop("subject", "Help"), None, **kwargs)
    message.set_content(html, subtype="html")
    return message.as_bytes()


def with_inline_image(text: str, html: str) -> bytes:
    """multipart/related inside multipart/alternative: a signature logo, as Outlook sends it."""
    message = _base("jane@customer.test", "support@acme.test", "Screenshot of the error", None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@customer.test>", filename="logo.png")
    return message.as_bytes()


def with_attachment(text: str, name: str, data: bytes, maintype: str, subtype: str, **kwargs) -> bytes:
    message = _base(
        kwargs.pop("sender", "jane@customer.test"), "support@acme.test", kwargs.pop("subject", "Logs"), None, **kwargs
    )
    message.set_content(text)
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def forwarded(note: str, original: bytes) -> bytes:
    """A mail forwarded as an attachment (message/rfc822), with a note on top."""
    from email import message_from_bytes, policy

    message = _base("jane@customer.test", "support@acme.test", "Fwd: Your order", None)
    message.set_content(note)
    message.add_attachment(message_from_bytes(original, policy=policy.default))
    return message.as_bytes()


def gmail_reply(new_text: str, quoted: str, *, in_reply_to: str, subject: str, sender: str = "jane@customer.test"):
    body = (
        f"{new_text}\n\nOn Mon, Dec 1, 2026 at 10:00 AM Acme Support <support@acme.test> wrote:\n"
        + "\n".join(f"> {line}" for line in quoted.splitlines())
        + "\n"
    )
    return plain(body, sender=sender, subject=subject, In_Reply_To=f"<{in_reply_to}>", References=f"<{in_reply_to}>")


def outlook_reply(new_text: str, quoted: str, *, subject: str, sender: str = "jane@customer.test", **headers) -> bytes:
    """Outlook: no quote marks, a header block under a rule, and often no In-Reply-To at all."""
    body = (
        f"{new_text}\n\nBest regards,\nJane Doe\nCustomer Inc.\n\n"
        "________________________________\n"
        "From: Acme Support <support@acme.test>\n"
        "Sent: Monday, December 1, 2026 10:00 AM\n"
        "To: Jane Doe <jane@customer.test>\n"
        f"Subject: {subject}\n\n{quoted}\n"
    )
    return plain(body, sender=sender, subject=f"RE: {subject}", **headers)


def auto_reply(**headers) -> bytes:
    return plain(
        "I am out of the office until Monday.",
        subject="Automatic reply: Invoice question",
        **headers,
    )


def bounce(original: bytes) -> bytes:
    """A delivery status notification (RFC 3464): multipart/report from the mailer daemon."""
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\r\n"
        b"To: support@acme.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-1@mx.customer.test>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\n"
        b"Final-Recipient: rfc822; gone@customer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n" + original + b"\r\n--B--\r\n"
    )
    return raw


def latin1(text: str) -> bytes:
    """8-bit ISO-8859-1 body and an RFC 2047 subject, as older clients send."""
    return (
        b"From: =?iso-8859-1?q?J=FCrgen_M=FCller?= <juergen@customer.test>\r\n"
        b"To: support@acme.test\r\n"
        b"Subject: =?iso-8859-1?q?R=FCckerstattung?=\r\n"
        b"Message-ID: <latin1-1@customer.test>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text.encode("iso-8859-1") + b"\r\n"
    )


def unknown_charset(text: str) -> bytes:
    """A charset nobody knows, over bytes that are really Windows-1252."""
    return (
        b"From: jane@customer.test\r\nTo: support@acme.test\r\nSubject: charset\r\n"
        b"Message-ID: <charset-1@customer.test>\r\n"
        b"Content-Type: text/plain; charset=x-unknown-42\r\n\r\n" + text.encode("cp1252") + b"\r\n"
    )


def koi8r(text: str) -> bytes:
    return (
        b"From: ivan@customer.test\r\nTo: support@acme.test\r\nSubject: =?koi8-r?b?"
        + base64.b64encode(text.encode("koi8-r"))
        + b"?=\r\nMessage-ID: <koi8-1@customer.test>\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(text.encode("koi8-r"))
    )


def malformed_mime() -> bytes:
    """A multipart whose boundary never closes, a broken base64 part and a header without a colon."""
    return (
        b"From: jane@customer.test\r\nTo: support@acme.test\r\nSubject: broken\r\n"
        b"Message-ID: <broken-1@customer.test>\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe printer is on fire\r\n"
        b"--never-closed\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=a.pdf\r\n\r\n!!!not base64!!!\r\n"
    )
