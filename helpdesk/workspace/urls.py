"""The workspace's routes (UI.md): /tickets/, /tickets/<id>/, /escalations/, and the actions behind them."""

from django.urls import path

from helpdesk.workspace import dashboard, views

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
    path("tickets/<int:ticket_id>/escalate/", views.escalate_dialog, name="ticket-escalate-dialog"),
    path("tickets/<int:ticket_id>/escalate/submit/", views.escalate, name="ticket-escalate"),
    path("tickets/<int:ticket_id>/routing-preview/", views.routing_preview, name="ticket-routing-preview"),
    path("escalations/", views.escalations, name="escalations"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("escalations/<int:escalation_id>/<str:action>/", views.escalation_action, name="escalation-action"),
]
