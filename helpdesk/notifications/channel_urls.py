"""Which URL a channel of each kind may have: one rule, applied when a channel is saved (the admin form
and the service both call `check`) and again before each message is sent (senders.send_apprise), so a
channel stored before a rule changed fails its delivery with the reason instead of being sent.

A channel's kind decides its apprise schemes. Studied in apprise 2.3.0's plugins:
- Slack (slack.py) and the SMS providers listed below post only to the provider's own hosts, built into
  the plugin; the URL carries tokens, never a host. Slack's own https://hooks.slack.com/… URL is
  accepted too (apprise reads it as slack://).
- Teams goes through Power Automate / Logic Apps workflows (workflows.py), which post to the host
  written in the URL. apprise's own check of that host is loose (it accepts
  x.powerplatform.attacker.example), so the host must end in one of Microsoft's workflow domains.
  apprise 2.3.0 has no plugin for the retired Office 365 connectors (msteams://,
  *.webhook.office.com): it does not recognise those URLs, so neither can we.
- JSON posts to any public host: json/form/xml (and their TLS forms) post to the host in the URL.
Schemes that post to a host from the URL are resolved and checked (ssrf.py) at save and at send.
Everything else — mattermost, ntfy, apprise, gotify, e-mail and every other scheme — is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from helpdesk.notifications import ssrf
from helpdesk.notifications.models import ChannelKind

ERR_URL_REQUIRED = "A URL is required for this kind of channel."
ERR_UNRECOGNISED = "apprise does not recognise this URL."
ERR_KIND_SCHEME = "A {label} channel takes {allowed} URLs; {scheme}:// is not one of them."
ERR_KIND = "A channel of kind {kind!r} takes no URL."

# apprise schemes whose plugin posts to the host written in the URL, with the port it uses by default.
HOST_FROM_URL_PORTS = {
    "json": 80,
    "jsons": 443,
    "form": 80,
    "forms": 443,
    "xml": 80,
    "xmls": 443,
    "workflow": 443,  # workflows.py always speaks https, whichever of its two schemes was written
    "workflows": 443,
}


@dataclass(frozen=True)
class KindRule:
    label: str
    schemes: tuple[str, ...]  # the apprise schemes of this kind
    # The hosts this kind's messages may reach ("name" exact, ".suffix" any name under it): checked on
    # the URL's host when it names one, and on every connection at send time. Empty: any public host.
    hosts: tuple[str, ...] = ()
    native_hosts: tuple[str, ...] = ()  # the hosts of the provider's own https:// webhook URLs, accepted too

    def allowed(self) -> str:
        schemes = [f"{scheme}://" for scheme in self.schemes]
        if self.native_hosts:
            schemes.append(f"https:// on {ssrf.describe_hosts(self.native_hosts)}")
        return ", ".join(schemes)


SLACK_WEBHOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
SLACK_HOSTS = (*SLACK_WEBHOOK_HOSTS, "slack.com")  # slack.com/api: a bot token's chat.postMessage
# Logic Apps and Power Platform in Microsoft's public, US government and China clouds.
TEAMS_HOSTS = (
    ".logic.azure.com",
    ".logic.azure.us",
    ".logic.azure.cn",
    ".api.powerplatform.com",
    ".powerplatform.microsoft.us",
    ".api.appsplatform.us",
    ".powerplatform.partner.microsoftonline.cn",
)
# SMS providers whose plugin posts to the provider's fixed host (each checked in its plugin's source):
# Twilio, Vonage (ex-Nexmo), AWS SNS (the region must match [a-z]{2}-…-N), MessageBird, Plivo, ClickSend,
# BulkSMS, D7 Networks, Sinch (a fixed list of regions), seven, 46elks, Clickatell, Telnyx, httpSMS.
# Left out: providers that take a host from the URL (infobip, kaleyra, smseagle, signal) or speak plain
# http (kavenegar).
SMS_SCHEMES = (
    "twilio",
    "vonage",
    "nexmo",
    "sns",
    "msgbird",
    "plivo",
    "clicksend",
    "bulksms",
    "d7sms",
    "sinch",
    "seven",
    "46elks",
    "elks",
    "clickatell",
    "telnyx",
    "httpsms",
)

RULES: dict[str, KindRule] = {
    ChannelKind.SLACK: KindRule("Slack", ("slack",), hosts=SLACK_HOSTS, native_hosts=SLACK_WEBHOOK_HOSTS),
    ChannelKind.TEAMS: KindRule("Teams", ("workflows", "workflow"), hosts=TEAMS_HOSTS, native_hosts=TEAMS_HOSTS),
    ChannelKind.SMS: KindRule("SMS", SMS_SCHEMES),
    ChannelKind.JSON: KindRule("JSON", ("json", "jsons", "form", "forms", "xml", "xmls")),
}


def help_text() -> str:
    """What each kind takes, for the admin form (from the rules, so the two can't disagree)."""
    return "; ".join(f"{rule.label}: {rule.allowed()}" for rule in RULES.values()) + "."


def apprise_module():
    # Imported when a channel is used: loading its ~100 plugins costs web processes ~0.1 s at start.
    import apprise

    return apprise


def _plugin_schemes(plugin) -> set[str]:
    found = set()
    for attribute in ("protocol", "secure_protocol"):
        value = getattr(plugin, attribute, None) or ()
        found.update([value] if isinstance(value, str) else value)
    return found


def _refuse_scheme(rule: KindRule, scheme: str) -> ssrf.UrlRefused:
    return ssrf.UrlRefused(ERR_KIND_SCHEME.format(label=rule.label, allowed=rule.allowed(), scheme=scheme or "(none)"))


def check(kind: str, url: str) -> KindRule:
    """The rule of `kind` if `url` passes it (raises ssrf.UrlRefused with the reason otherwise):
    a scheme of this kind that apprise reads as this kind's plugin, a host of this kind where the URL
    names one, and for schemes that post to the URL's host, addresses and a port that pass ssrf.py."""
    rule = RULES.get(kind)
    if rule is None:
        raise ssrf.UrlRefused(ERR_KIND.format(kind=kind))
    if not url:
        raise ssrf.UrlRefused(ERR_URL_REQUIRED)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    native = bool(rule.native_hosts) and scheme == "https"
    if scheme not in rule.schemes and not native:
        raise _refuse_scheme(rule, scheme)
    if native:
        ssrf.check_host_name(parts.hostname or "", rule.native_hosts)
    plugin = apprise_module().Apprise.instantiate(url)
    if plugin is None:
        raise ssrf.UrlRefused(ERR_UNRECOGNISED)
    if not _plugin_schemes(plugin) & set(rule.schemes):  # an https:// URL apprise gives to another plugin
        raise _refuse_scheme(rule, scheme)
    if plugin.schema in HOST_FROM_URL_PORTS:
        # apprise's reading of the host, not ours: it is what apprise will connect to.
        ssrf.check_host(plugin.host or "", plugin.port or HOST_FROM_URL_PORTS[plugin.schema], rule.hosts)
    return rule
