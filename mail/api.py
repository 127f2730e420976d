"""Ways in for mail: POST /api/v1/inbound/email/ (the raw RFC 822 message, an admin token of the tenant), and
the providers' inbound webhooks through django-anymail at /api/v1/inbound/email/<provider>/<tenant slug>/,
authenticated by the tenant's own webhook secret (HTTP basic auth, "user:password").

Both call helpdesk.workflows.email_receive, inside the tenant, and answer the same way whether or not a ticket
the mail names exists: a subject token of a stranger opens a new ticket rather than telling them so."""

from __future__ import annotations

import logging

from anymail.exceptions import AnymailError
from anymail.utils import get_request_basic_auth
from anymail.webhooks.brevo import BrevoInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.http import JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import workflows
from helpdesk.errors import PAYLOAD_TOO_LARGE, ApiError
from helpdesk.models import Role, Tenant
from helpdesk.tenancy import tenant_context
from mail.models import MailSetup
from mail.secrets import secret_hash

logger = logging.getLogger(__name__)

ERR_EMPTY = "Send the message as the request body, with Content-Type: message/rfc822."
ERR_TOO_LARGE = "The message is larger than {limit:,} bytes."
ERR_WEBHOOK_AUTH = "Missing or wrong credentials for this inbound webhook."
ERR_WEBHOOK_BODY = "The provider's payload could not be read."
# The providers whose inbound webhook anymail secures with basic auth alone: the tenant's secret is that auth.
PROVIDERS = {
    "postmark": PostmarkInboundWebhookView,
    "sendgrid": SendGridInboundWebhookView,
    "mailjet": MailjetInboundWebhookView,
    "sparkpost": SparkPostInboundWebhookView,
    "brevo": BrevoInboundWebhookView,
}


class RawMailParser(BaseParser):
    media_type = "message/rfc822"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        limit = settings.MAIL_MAX_BYTES
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise _too_large(limit)
        return data


def _too_large(limit: int) -> ApiError:
    return ApiError(413, PAYLOAD_TOO_LARGE, ERR_TOO_LARGE.format(limit=limit))


class ReceiptOutput(serializers.Serializer):
    ticket = serializers.IntegerField(allow_null=True)
    message = serializers.IntegerField(allow_null=True)
    outcome = serializers.ChoiceField(choices=["created", "appended", "duplicate", "ignored"])
    reason = serializers.CharField(allow_blank=True)


def receipt_data(receipt: workflows.MailReceipt) -> dict:
    return {"ticket": receipt.ticket, "message": receipt.message, "outcome": receipt.outcome, "reason": receipt.reason}


class InboundEmailView(APIView):
    """POST /api/v1/inbound/email/: one raw message (Content-Type: message/rfc822), an admin token."""

    read_role = Role.ADMIN
    write_role = Role.ADMIN
    parser_classes = [RawMailParser]

    @extend_schema(
        request={"message/rfc822": OpenApiTypes.BINARY},
        responses={202: ReceiptOutput},
        description="A raw RFC 822 message into the tenant's helpdesk (API.md, Inbound e-mail).",
    )
    def post(self, request):
        try:
            announced = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            announced = 0
        if announced > settings.MAIL_MAX_BYTES:
            raise _too_large(settings.MAIL_MAX_BYTES)
        raw = request.data
        if not isinstance(raw, bytes) or not raw.strip():
            raise ApiError(400, "invalid", ERR_EMPTY, {"body": [ERR_EMPTY]})
        receipt = workflows.email_receive(tenant=request.user.tenant, actor=request.user, raw=raw, source="raw")
        return Response(receipt_data(receipt), status=status.HTTP_202_ACCEPTED)


def _error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status_code)


def _authenticated_tenant(request, tenant_slug: str) -> tuple[Tenant | None, str]:
    """The tenant whose webhook secret the request carries, else None — the same for an unknown slug, a tenant
    without a secret and a wrong one."""
    presented = get_request_basic_auth(request) or ""
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    stored = ""
    if tenant is not None:
        with tenant_context(tenant):
            stored = MailSetup.objects.filter(tenant=tenant).values_list("webhook_secret_hash", flat=True).first() or ""
    ok = constant_time_compare(secret_hash(presented), stored or "-") and bool(presented)
    return (tenant if ok else None), presented


@csrf_exempt
@require_POST
def provider_inbound(request, provider: str, tenant_slug: str):
    """A provider's inbound webhook (anymail parses its payload into messages); each message is received like a
    raw one. 200 with the receipts, so the provider does not retry what was taken."""
    view_class = PROVIDERS.get(provider)
    if view_class is None:
        return _error(404, "not_found", "Not found.")
    tenant, presented = _authenticated_tenant(request, tenant_slug)
    if tenant is None:
        return _error(401, "authentication_failed", ERR_WEBHOOK_AUTH)
    if len(request.body) > settings.MAIL_MAX_BYTES:
        return _error(413, PAYLOAD_TOO_LARGE, ERR_TOO_LARGE.format(limit=settings.MAIL_MAX_BYTES))
    view = view_class(webhook_secret=[presented])
    try:
        view.run_validators(request)
        events = view.parse_events(request)
        raws = [event.message.as_bytes() for event in events if event.message is not None]
    except (AnymailError, ValueError, KeyError, TypeError, AttributeError):
        logger.info("inbound webhook %s of %s: unreadable payload", provider, tenant.slug, exc_info=True)
        return _error(400, "malformed_request", ERR_WEBHOOK_BODY)
    receipts = []
    with tenant_context(tenant):
        for raw in raws:
            receipt = workflows.email_receive(tenant=tenant, actor=None, raw=raw, source=provider)
            receipts.append(receipt_data(receipt))
    return JsonResponse({"received": receipts}, status=200)
