"""The naive baseline of bench/api_bench.py: ticket list and detail as the straightforward DRF code
would write them, next to the app's own URLs.

The view is the app's TicketViewSet (same middleware, auth, tenant scoping, filters and pagination)
answering the way DRF's generic views do: the plain tenant-scoped manager, without select_related,
prefetch or defer, and the schema serializer TicketOutput over model instances, field by field. Every
ticket on a page then costs its own queries for the requester and its SLA clocks, and the search_vector
column is read for nothing. (Until branch list-perf the app itself rendered model instances too, with a
hand-built TicketOutput.to_representation, and the naive views used that.)
"""

from django.urls import path
from rest_framework import mixins

from helpdesk.models import Tenant
from helpdesk.urls import urlpatterns as app_urlpatterns
from tickets.api import TicketViewSet
from tickets.models import Ticket


def naive_ticket_list(*, tenant: Tenant):
    return Ticket.objects.filter(tenant=tenant)


class NaiveTicketViewSet(TicketViewSet):
    selector = staticmethod(naive_ticket_list)
    list = mixins.ListModelMixin.list
    retrieve = mixins.RetrieveModelMixin.retrieve


urlpatterns = [
    path("naive/tickets/", NaiveTicketViewSet.as_view({"get": "list"}), name="naive-ticket-list"),
    path("naive/tickets/<int:pk>/", NaiveTicketViewSet.as_view({"get": "retrieve"}), name="naive-ticket-detail"),
    *app_urlpatterns,
]

handler404 = "helpdesk.errors.not_found"
handler500 = "helpdesk.errors.server_error"
