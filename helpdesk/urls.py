from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from callnotes import api as calls_api
from callnotes import api_cases
from callnotes.views import calendar_feed
from escalation.api import EscalationViewSet, RuleViewSet, contract_change, credit, escalate, refund
from escalation.api_reviews import ReviewViewSet
from helpdesk import views
from helpdesk.admin import tenant_admin_site
from helpdesk.api_tenancy import MemberViewSet, SchemaView, TeamViewSet, me
from helpdesk.health import healthz
from helpdesk.notifications.api import WebhookViewSet
from mail import api as mail_api
from metrics import api as metrics_api
from metrics.views import csat_page
from slas.api import CalendarViewSet, PolicyViewSet
from tickets.api import AccountViewSet, CustomerViewSet, TicketViewSet

# Path converters (not regexes): ids are typed in the schema, and /tickets/abc/ is a plain 404.
router = DefaultRouter(trailing_slash=True, use_regex_path=False)
# No `/tickets.json`-style twins of every route: the API speaks JSON only, and the twins doubled the
# OpenAPI document with a `{format}` copy of each path.
router.include_format_suffixes = False
router.register("teams", TeamViewSet, basename="team")
router.register("members", MemberViewSet, basename="member")
router.register("accounts", AccountViewSet, basename="account")
router.register("customers", CustomerViewSet, basename="customer")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("calendars", CalendarViewSet, basename="calendar")
router.register("sla-policies", PolicyViewSet, basename="sla-policy")
router.register("escalations", EscalationViewSet, basename="escalation")
router.register("escalation-rules", RuleViewSet, basename="escalation-rule")
router.register("reviews", ReviewViewSet, basename="review")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("calls", calls_api.CallViewSet, basename="call")
router.register("action-items", calls_api.ActionItemViewSet, basename="action-item")
router.register("attachments", calls_api.AttachmentViewSet, basename="attachment")
router.register("call-note-templates", calls_api.TemplateViewSet, basename="call-note-template")

api_v1 = [
    path("me/", me, name="me"),
    path("tickets/<int:pk>/escalate/", escalate, name="ticket-escalate"),
    path("tickets/<int:pk>/refunds/", refund, name="ticket-refund"),
    path("tickets/<int:pk>/credits/", credit, name="ticket-credit"),
    path("tickets/<int:pk>/contract-changes/", contract_change, name="ticket-contract-change"),
    path("tickets/<int:pk>/calls/", calls_api.ticket_calls, name="ticket-calls"),
    path("calls/<int:pk>/invite.ics", calls_api.call_invite, name="call-invite"),
    path("tickets/<int:pk>/brief/", api_cases.ticket_brief, name="ticket-brief"),
    path("tickets/<int:pk>/similar/", api_cases.ticket_similar, name="ticket-similar"),
    path("tickets/<int:pk>/action-items/", calls_api.ticket_action_items, name="ticket-action-items"),
    path("tickets/<int:pk>/attachments/", calls_api.ticket_attachments, name="ticket-attachments"),
    path("knowledge/", api_cases.knowledge_search, name="knowledge"),
    path("inbound/email/", mail_api.InboundEmailView.as_view(), name="inbound-email"),
    path("inbound/email/<slug:provider>/<slug:tenant_slug>/", mail_api.provider_inbound, name="inbound-email-provider"),
    path("tickets/<int:pk>/csat/", metrics_api.CsatView.as_view(), name="ticket-csat"),
    path("metrics/escalations/", metrics_api.EscalationMetricsView.as_view(), name="metrics-escalations"),
    path("metrics/escalations/series/", metrics_api.SeriesView.as_view(), name="metrics-series"),
    path("metrics/escalations/audit/", metrics_api.AuditView.as_view(), name="metrics-audit"),
    path("metrics/rules/", metrics_api.RulesView.as_view(), name="metrics-rules"),
    path("calendar-feeds/", api_cases.calendar_feed_create, name="calendar-feed-create"),
    path("calendar-feeds/revoke/", api_cases.calendar_feed_revoke, name="calendar-feed-revoke"),
    path("calendar-feeds/<str:key>.ics", calendar_feed, name="calendar-feed"),
    *router.urls,
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (/api/docs/?script), not inline: the page works
    # under the Content-Security-Policy's script-src 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", tenant_admin_site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    # The addresses before UI.md named /login/: bookmarks keep working.
    path("accounts/login/", RedirectView.as_view(url="/login/", query_string=True)),
    path("csat/<str:token>/", csat_page, name="csat"),
    path("invite/done/", views.InviteDoneView.as_view(), name="invite-done"),
    path("invite/<uidb64>/<token>/", views.InviteConfirmView.as_view(), name="invite"),
    path("", include("helpdesk.workspace.urls")),
]

handler400 = "helpdesk.errors.bad_request"
handler404 = "helpdesk.errors.not_found"
handler500 = "helpdesk.errors.server_error"
