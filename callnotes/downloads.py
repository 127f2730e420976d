"""The two files calls hand out, answered the same way by the API and the pages: an attachment (members of
its tenant only — the caller looked it up in the tenant — always as a download with the type it was accepted
as, never rendered inline) and a call's RFC 5545 invite."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse

from callnotes import invites, selectors
from callnotes.models import Attachment, Call, CallStatus


def attachment_response(attachment: Attachment) -> FileResponse:
    response = FileResponse(
        attachment.file.open("rb"), as_attachment=True, filename=attachment.name, content_type=attachment.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def invite_response(call: Call) -> HttpResponse:
    """The same UID for the call's whole life, SEQUENCE raised by each reschedule or cancel (METHOD:CANCEL once
    cancelled), times in the customer's zone with its VTIMEZONE. The call must be scheduled."""
    ics = invites.invite(selectors.call_event(call))
    method = invites.method_of(call.status == CallStatus.CANCELLED)
    response = HttpResponse(ics, content_type=f"text/calendar; charset=utf-8; method={method}")
    response["Content-Disposition"] = f'attachment; filename="call-{call.pk}.ics"'
    return response
