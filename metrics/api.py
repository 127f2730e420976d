"""REST API of the metrics: GET /metrics/escalations/ (every metric with its health), its daily or weekly
series (/metrics/escalations/series/), the matrix advice per rule (/metrics/rules/), the 30-day escalation audit
(/metrics/escalations/audit/) — managers and admins,
JSON or `?format=csv` — and POST /tickets/{id}/csat/ (a satisfaction score, 1-5)."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import workflows
from helpdesk.api import JsonOnlyNegotiation, StrictSerializer, validated
from helpdesk.errors import ApiError
from helpdesk.models import Role
from metrics import audit, selectors
from metrics.period import FILTERS, PeriodError, parse
from tickets.models import Ticket
from tickets.selectors import ticket_get

PERIOD_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="first local day (tenant's zone), included"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="the day after the last one (excluded)"),
    OpenApiParameter("team", OpenApiTypes.INT),
    OpenApiParameter("channel", OpenApiTypes.STR),
    OpenApiParameter("priority", OpenApiTypes.STR),
    OpenApiParameter("category", OpenApiTypes.STR),
    OpenApiParameter("kind", OpenApiTypes.STR),
    OpenApiParameter("trigger", OpenApiTypes.STR),
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
]
INTERVALS = ("day", "week")


class MetricsView(APIView):
    content_negotiation_class = JsonOnlyNegotiation
    read_role = Role.MANAGER
    extra_parameters: tuple[str, ...] = ()

    def _query(self, request):
        accepted = {"start", "end", "format", *FILTERS, *self.extra_parameters}
        unknown = sorted(set(request.query_params) - accepted)
        errors = {name: ["Unknown query parameter."] for name in unknown}
        # API.md: an invalid value of a known parameter is a 400 naming it, and an empty one is invalid (the
        # dashboard's form may leave a box empty to mean the default; an integration's `?start=` is a bug).
        for name in sorted(accepted & set(request.query_params)):
            if not request.query_params.get(name, "").strip():
                errors[name] = ["Must not be empty: leave the parameter out for its default."]
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            errors["format"] = ["Must be json or csv."]
        try:
            query = parse(request.query_params, tenant=request.user.tenant, now=timezone.now())
        except PeriodError as exc:
            errors.update(exc.fields)
        if errors:
            raise ApiError(400, "invalid", "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors)
        return query, fmt


def _csv(rows: list[list], filename: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def metric_rows(result: dict) -> list[list]:
    """The metric set flattened for a spreadsheet: metric, value, health (nested values as metric.part)."""
    rows = [["metric", "value", "health"]]
    health = result["health"]
    for name, value in result.items():
        if name in ("period", "filters", "health", "by_trigger"):
            continue
        if isinstance(value, dict):
            rows += [[f"{name}.{part}", inner, health.get(name, "")] for part, inner in value.items()]
        else:
            rows.append([name, value, health.get(name, "")])
    for trigger, values in result["by_trigger"].items():
        rows += [[f"by_trigger.{trigger}.{part}", inner, ""] for part, inner in values.items()]
    return rows


class EscalationMetricsView(MetricsView):
    @extend_schema(parameters=PERIOD_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """Every escalation metric for the period (local days of the tenant's zone, end excluded; default the
        last 30 days) and filters, with its health (ok, warn, bad) against the tenant's ranges."""
        query, fmt = self._query(request)
        result = selectors.escalation_metrics(query, tenant=request.user.tenant, now=timezone.now())
        if fmt == "csv":
            return _csv(metric_rows(result), f"escalation-metrics-{query.start_day}-{query.end_day}.csv")
        return Response(result)


class SeriesView(MetricsView):
    extra_parameters = ("interval",)

    @extend_schema(
        parameters=[*PERIOD_PARAMETERS, OpenApiParameter("interval", OpenApiTypes.STR, enum=list(INTERVALS))],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        """Daily (default) or weekly points for the charts: tickets, escalation rate, escalations, bounceback
        rate, median handoff. Weeks start on Monday."""
        interval = request.query_params.get("interval", "day")
        if interval not in INTERVALS:
            raise ApiError(400, "invalid", "interval: day or week.", {"interval": ["Must be day or week."]})
        query, fmt = self._query(request)
        points = selectors.series(query, tenant=request.user.tenant, interval=interval)
        if fmt == "csv":
            names = list(points[0]) if points else ["start"]
            return _csv([names, *[[p[n] for n in names] for p in points]], f"escalation-series-{interval}.csv")
        return Response({"interval": interval, "points": points})


class RulesView(MetricsView):
    @extend_schema(parameters=PERIOD_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """The matrix advice: per rule, how often it fired, how often its escalations bounced back or were
        de-escalated, and the median time to acknowledge them."""
        query, fmt = self._query(request)
        rows = selectors.rule_advice(query, tenant=request.user.tenant)
        if fmt == "csv":
            names = ["rule", "slug", "name", "trigger", "active", "fired", "escalations", "bounceback_rate",
                     "de_escalation_rate", "acknowledge_p50"]  # fmt: skip
            return _csv([names, *[[row[n] for n in names] for row in rows]], "escalation-rules.csv")
        return Response({"rules": rows})


class AuditView(MetricsView):
    @extend_schema(parameters=PERIOD_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """The 30-day escalation audit (metrics/audit.py): each escalation of the period (default the last 30 local
        days) with the minutes before it, who escalated (rule or person), its outcome and the complaint signals
        that followed; the recurring issue types (3 to 5) at the top. `?format=csv` streams it as a spreadsheet."""
        query, fmt = self._query(request)
        tenant = request.user.tenant
        summary = audit.recurring_issue_types(query, tenant_id=tenant.pk)
        rows = audit.audit_rows(query, tenant=tenant)
        if fmt == "csv":
            return audit.csv_response(query, summary, rows)
        period = {"start": query.start_day.isoformat(), "end": query.end_day.isoformat(), "timezone": query.timezone}
        return Response({"period": period, "filters": dict(query.filters), **summary, "rows": list(rows)})


class CsatInput(StrictSerializer):
    score = serializers.IntegerField(min_value=1, max_value=5)


class CsatOutput(serializers.Serializer):
    ticket = serializers.IntegerField(source="ticket_id")
    score = serializers.IntegerField()
    source = serializers.CharField()
    created_at = serializers.DateTimeField()


class CsatView(APIView):
    @extend_schema(request=CsatInput, responses={201: CsatOutput, 200: CsatOutput})
    def post(self, request, pk: int):
        """Records the customer's satisfaction with the ticket (1-5), e.g. from a survey tool. One per ticket:
        a second score replaces the first (200)."""
        try:
            ticket = ticket_get(tenant=request.user.tenant, ticket_id=pk)
        except Ticket.DoesNotExist:
            raise ApiError(404, "not_found", "Not found.") from None
        data = validated(CsatInput, request.data)
        response, created = workflows.csat_record(ticket=ticket, score=data["score"], source="api")
        return Response(CsatOutput(response).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
