"""Attachments: logs, screenshots and documents on a ticket, its messages and its calls.

Stored through Django's storage API (settings.STORAGES["default"]: the filesystem under MEDIA_ROOT, or an
S3-compatible bucket with django-storages) under a name we make — `tenants/<id>/<uuid>` — never the
uploader's. Only the kinds a support case needs are taken, each checked by its first bytes as well as its
name: plain text and logs, CSV, JSON, PDF and the common image formats. HTML, SVG and executables are refused
whatever they are called, so nothing uploaded can run in a browser or on a desktop; downloads go out as
attachments with a fixed content type and `nosniff` (callnotes/api.py).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import PurePath

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from callnotes.errors import CallError
from callnotes.models import Attachment, Call
from callnotes.selectors import upload_limit
from helpdesk.auth import Principal
from tickets.models import Message, Ticket
from tickets.services import event_record

ERR_TOO_LARGE = "The file is larger than this tenant's limit of {limit} bytes."
ERR_TYPE = "Only text, logs, CSV, JSON, PDF and PNG/JPEG/GIF/WebP images can be attached."
ERR_ACTIVE = "This file looks like a program or a web page; those cannot be attached."
ERR_EMPTY = "The file is empty."
ERR_FOREIGN = "Not a {what} of this ticket."
SNIFF_BYTES = 2048

TEXT = "text/plain"
# Extension -> the content type we serve it with (never one a browser would render as a page).
KINDS = {
    ".txt": TEXT,
    ".log": TEXT,
    ".md": TEXT,
    ".csv": "text/csv",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
# Programs (PE, ELF, Mach-O, scripts) and markup a browser would run, at the start of the file.
ACTIVE = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
MARKUP = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<head", b"<body", b"<iframe")


@dataclass(frozen=True)
class Kind:
    content_type: str


def kind_of(name: str, head: bytes) -> Kind:
    """The type we store and serve, from the name and checked against the first bytes. Raises CallError."""
    content_type = KINDS.get(PurePath(name).suffix.lower())
    if content_type is None:
        raise CallError(ERR_TYPE, code="unsupported_media_type", status=415, fields={"file": [ERR_TYPE]})
    lowered = head.lstrip().lower()
    if head.startswith(ACTIVE) or lowered.startswith(MARKUP):
        raise CallError(ERR_ACTIVE, code="unsupported_media_type", status=415, fields={"file": [ERR_ACTIVE]})
    expected = MAGIC.get(content_type)
    if expected is not None and not head.startswith(expected):
        raise CallError(ERR_TYPE, code="unsupported_media_type", status=415, fields={"file": [ERR_TYPE]})
    if (content_type.startswith("text/") or content_type == "application/json") and b"\x00" in head:
        raise CallError(ERR_TYPE, code="unsupported_media_type", status=415, fields={"file": [ERR_TYPE]})
    return Kind(content_type=content_type)


def _digest(upload: UploadedFile) -> str:
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return sha.hexdigest()


@transaction.atomic
def attachment_create(
    *,
    ticket: Ticket,
    actor: Principal | None,
    upload: UploadedFile,
    message: Message | None = None,
    call: Call | None = None,
) -> Attachment:
    """Checks and stores one file. The file is written first, then its row in the caller's transaction: a
    rolled-back transaction can leave a file no row names (unreachable: names are random), never a row whose
    file is missing."""
    tenant = ticket.tenant
    limit = upload_limit(tenant)
    if upload.size > limit:
        message_text = ERR_TOO_LARGE.format(limit=limit)
        raise CallError(message_text, code="request_too_large", status=413, fields={"file": [message_text]})
    if upload.size == 0:
        raise CallError(ERR_EMPTY, fields={"file": [ERR_EMPTY]})
    for what, thing in (("message", message), ("call", call)):
        if thing is not None and thing.ticket_id != ticket.pk:
            raise CallError(ERR_FOREIGN.format(what=what), fields={what: [ERR_FOREIGN.format(what=what)]})
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = kind_of(upload.name or "", head)
    stored = default_storage.save(f"tenants/{tenant.pk}/{uuid.uuid4().hex}", upload)
    at = timezone.now()
    attachment = Attachment.objects.create(
        tenant_id=tenant.pk,
        ticket=ticket,
        message=message,
        call=call,
        file=stored,
        name=PurePath(upload.name or "file").name[:255],
        content_type=kind.content_type,
        size=upload.size,
        sha256=_digest(upload),
        uploaded_by=actor.membership if actor else None,
        uploaded_by_label=str(actor) if actor else "system",
        created_at=at,
    )
    event_record(
        ticket=ticket,
        kind="attachment_added",
        actor=actor,
        at=at,
        after={"attachment": attachment.pk, "name": attachment.name, "size": attachment.size, "call": call and call.pk},
    )
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment, actor: Principal | None) -> None:
    name = attachment.file.name
    event_record(
        ticket=attachment.ticket,
        kind="attachment_removed",
        actor=actor,
        after={"attachment": attachment.pk, "name": attachment.name},
    )
    attachment.delete()
    # The file goes once the row's removal is committed: a rollback keeps both.
    transaction.on_commit(lambda: default_storage.delete(name))
