"""What a notification object may say: the one validation of a webhook's URL, a channel's URL and a template,
used by the admin's forms, the API and the services (which check again before storing). Entry points import
this module, never the services (they write through helpdesk/workflows.py)."""

from __future__ import annotations

from helpdesk.notifications import channel_urls, crypto, rendering, ssrf
from helpdesk.notifications.bounds import RenderLimitExceeded
from helpdesk.notifications.models import ChannelKind, NotificationChannel

ERR_URL_UNREADABLE = "The stored URL can't be read (the encryption key changed); enter it again."
ERR_URL_REQUIRED = "A URL is required for this kind of channel."
ERR_WORST_CASE = "With the largest context an event can carry: {problem} Loop over fewer or shorter values."


class NotificationInputError(Exception):
    """Bad input for a field: {"field": ["message"]} like a form error."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.fields = {field: [message]}


def check_webhook_url(url: str) -> str:
    """The URL, if the SSRF guard lets it through; else NotificationInputError naming `url`."""
    try:
        ssrf.check_url(url)
    except ssrf.UrlRefused as exc:
        raise NotificationInputError("url", str(exc)) from None
    return url


def check_channel_url(kind: str, url: str) -> str:
    """The URL to store for a channel of `kind` (none for e-mail), if it passes the kind's rule; else
    NotificationInputError naming `url`. The one check of a channel's URL: the admin form calls it
    too, and the sender applies the same rule (channel_urls.check) before every message."""
    if kind == ChannelKind.EMAIL:
        return ""  # e-mail goes through Django's mail settings, to the template's recipients
    try:
        channel_urls.check(kind, url)
    except ssrf.UrlRefused as exc:
        raise NotificationInputError("url", str(exc)) from None
    return url


def channel_url_check(*, channel: NotificationChannel, url: str | None) -> str:
    """The URL a save of `channel` (with its kind as now set) would store: `url`, or with None the
    stored one (forms never show it back), which must pass today's rule too — a channel stored before
    a rule changed is re-entered, not kept. NotificationInputError naming `url` otherwise."""
    if url is None and not channel._state.adding:
        try:
            url = crypto.decrypt(channel.url_encrypted) if channel.url_encrypted else ""
        except crypto.SecretUnreadable:
            raise NotificationInputError("url", ERR_URL_UNREADABLE) from None
    return check_channel_url(channel.kind, url or "")


def template_check(*, subject: str, body: str) -> None:
    """The one validation of a template (the admin's form and template_save): it compiles, reaches nothing
    outside its context, and renders within the bounds against the largest context an event can carry."""
    for name, source in (("subject", subject), ("body", body)):
        try:
            rendering.check_worst_case(source)
        except rendering.TemplateInvalid as exc:
            raise NotificationInputError(name, str(exc)) from None
        except RenderLimitExceeded as exc:
            raise NotificationInputError(name, ERR_WORST_CASE.format(problem=exc)) from None
