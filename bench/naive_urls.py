"""The naive baseline of bench/api_bench.py: ticket list and detail as the straightforward DRF code
would write them, next to the app's own URLs.

The view is the app's TicketViewSet (same middleware, auth, tenant scoping, filters, pagination and
output serializer); the only difference is the queryset: the plain tenant-scoped manager, without
select_related, prefetch or defer. Every ticket on a page then costs its own query for the requester
(and one per other relation the serializer follows), and the search_vector column is read for nothing.
"""

from django.urls import path

from helpdesk.models import Tenant
from helpdesk.urls import urlpatterns as app_urlpatterns
from tickets.api import TicketViewSet
from tickets.models import Ticket


def naive_ticket_list(*, tenant: Tenant):
    return Ticket.objects.filter(tenant=tenant)


class NaiveTicketViewSet(TicketViewSet):
    selector = staticmethod(naive_ticket_list)


urlpatterns = [
    path("naive/tickets/", NaiveTicketViewSet.as_view({"get": "list"}), name="naive-ticket-list"),
    path("naive/tickets/<int:pk>/", NaiveTicketViewSet.as_view({"get": "retrieve"}), name="naive-ticket-detail"),
    *app_urlpatterns,
]

handler404 = "helpdesk.errors.not_found"
handler500 = "helpdesk.errors.server_error"
