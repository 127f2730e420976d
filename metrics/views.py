"""The customer's satisfaction page (/csat/<token>/): no sign-in, the signed token names the ticket. A GET
only shows the choice (mail scanners follow links); the POST records it through the workflows."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from helpdesk import workflows
from helpdesk.models import Tenant
from helpdesk.tenancy import tenant_context
from metrics.csat import LABELS, SCORES, read_token
from tickets.models import Ticket


class ScoreForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(s, f"{s} - {LABELS[s]}") for s in SCORES], coerce=int, widget=forms.RadioSelect, label="Your rating"
    )


def _ticket(token: str):
    found = read_token(token)
    if found is None:
        return None, None
    tenant = Tenant.objects.filter(pk=found[0]).first()
    if tenant is None:
        return None, None
    return tenant, found[1]


@require_http_methods(["GET", "POST"])
def csat_page(request, token: str) -> HttpResponse:
    tenant, ticket_id = _ticket(token)
    if tenant is None:
        return render(request, "metrics/csat.html", {"invalid": True}, status=404)
    with tenant_context(tenant):
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is None:
            return render(request, "metrics/csat.html", {"invalid": True}, status=404)
        if request.method == "POST":
            form = ScoreForm(request.POST)
            if form.is_valid():
                workflows.csat_record(ticket=ticket, score=form.cleaned_data["score"], source="email")
                return render(request, "metrics/csat.html", {"thanks": True, "ticket": ticket})
            status = 400
        else:
            form = ScoreForm(initial={"score": request.GET.get("score")})
            status = 200
        return render(request, "metrics/csat.html", {"form": form, "ticket": ticket}, status=status)
