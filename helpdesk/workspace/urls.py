"""The workspace's routes (UI.md): /tickets/, /tickets/<id>/, /escalations/, /calls/, /knowledge/, and the actions
behind them."""

from django.urls import path

from helpdesk.workspace import calls, dashboard, reviews, views

app_name = "workspace"

urlpatterns = [
    path("", views.home, name="home"),
    path("tenants/", views.tenants, name="tenants"),
    path("tickets/", views.queue, name="queue"),
    path("tickets/<int:ticket_id>/", views.ticket, name="ticket"),
    path("tickets/<int:ticket_id>/poll/", views.ticket_poll, name="ticket-poll"),
    path("tickets/<int:ticket_id>/presence/", views.presence_beat, name="ticket-presence"),
    path("tickets/<int:ticket_id>/reply/", views.reply, name="ticket-reply"),
    path("tickets/<int:ticket_id>/assign-to-me/", views.assign_to_me, name="ticket-assign-to-me"),
    path("tickets/<int:ticket_id>/status/", views.change_status, name="ticket-status"),
    path("tickets/<int:ticket_id>/attempts/", views.record_attempt, name="ticket-attempt"),
    path("tickets/<int:ticket_id>/tags/", views.add_tag, name="ticket-tag"),
    path("tickets/<int:ticket_id>/review/clear/", views.clear_review, name="ticket-review-clear"),
    path("tickets/<int:ticket_id>/escalate/", views.escalate_dialog, name="ticket-escalate-dialog"),
    path("tickets/<int:ticket_id>/escalate/submit/", views.escalate, name="ticket-escalate"),
    path("tickets/<int:ticket_id>/routing-preview/", views.routing_preview, name="ticket-routing-preview"),
    path("escalations/", views.escalations, name="escalations"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("reviews/", reviews.reviews, name="reviews"),
    path("reviews/<int:review_id>/", reviews.review_save, name="review-save"),
    path("escalations/<int:escalation_id>/roles/", views.escalation_roles, name="escalation-roles"),
    path("escalations/<int:escalation_id>/<str:action>/", views.escalation_action, name="escalation-action"),
    # calls (helpdesk/workspace/calls.py)
    path("tickets/<int:ticket_id>/schedule-call/", calls.schedule, name="ticket-schedule-call"),
    path("tickets/<int:ticket_id>/brief/", calls.ticket_brief, name="ticket-brief"),
    path("calls/", calls.calls, name="calls"),
    path("calls/feed/", calls.feed_create, name="calls-feed"),
    path("calls/feed/revoke/", calls.feed_revoke, name="calls-feed-revoke"),
    path("calls/<int:call_id>/", calls.call, name="call"),
    path("calls/<int:call_id>/notes/", calls.save_notes, name="call-notes"),
    path("calls/<int:call_id>/complete/", calls.complete, name="call-complete"),
    path("calls/<int:call_id>/approve-summary/", calls.approve_summary, name="call-approve-summary"),
    path("calls/<int:call_id>/transcript/", calls.transcript, name="call-transcript"),
    path("calls/<int:call_id>/invite.ics", calls.invite, name="call-invite"),
    path("calls/<int:call_id>/attachments/", calls.upload, name="call-upload"),
    path("calls/<int:call_id>/<str:action>/", calls.call_action, name="call-action"),
    path("attachments/<int:attachment_id>/download/", calls.download, name="attachment-download"),
    path("knowledge/", calls.knowledge, name="knowledge"),
]
