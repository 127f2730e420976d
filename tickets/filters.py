"""Query-parameter filters of the tickets API (django-filter). Names are fixed by API.md."""

import re

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError

from helpdesk.fields import BooleanFilter, IntegerFilter, IsoDateTimeFilter
from helpdesk.filtering import FilterSet
from helpdesk.filters import MemberFilter, TenantModelChoiceFilter
from helpdesk.models import Team
from tickets.models import Account, Channel, Customer, Priority, Status, Ticket
from tickets.selectors import search_cap, search_ids, ticket_search_in

_TAG = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
MAX_TAG_FILTER = 20


class TagListField(forms.CharField):
    """?tags=a,b: up to MAX_TAG_FILTER tag slugs, comma-separated (a repeated parameter takes its last value,
    as every other filter); anything that is not a tag is a 400 naming the parameter, never an empty list."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return []
        tags = [tag.strip().lower() for tag in value.split(",")]
        if len(tags) > MAX_TAG_FILTER or not all(_TAG.match(tag) for tag in tags):
            raise ValidationError(f"Up to {MAX_TAG_FILTER} tags like 'billing_dispute', comma-separated.")
        return list(dict.fromkeys(tags))


class TagsFilter(filters.Filter):
    field_class = TagListField

    def filter(self, qs, value):
        # Tickets carrying every one of the tags (array containment: the GIN-less column is read per row, as ?tag=).
        return qs.filter(tags__contains=value) if value else qs


class TicketFilter(FilterSet):
    # A column IN (…), no join: nothing to de-duplicate (django-filter's default DISTINCT only costs a sort,
    # and makes the queues' capped counts and page ids pick the sort's columns into their subqueries).
    status = filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    priority = filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    channel = filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    tier = IntegerFilter()
    team = TenantModelChoiceFilter(model=Team)
    assignee = MemberFilter()
    requester = TenantModelChoiceFilter(model=Customer)
    account = TenantModelChoiceFilter(model=Account)
    vip = BooleanFilter(field_name="account__vip")
    category = filters.CharFilter()
    tag = filters.CharFilter(field_name="tags", lookup_expr="contains", method="filter_tag")
    tags = TagsFilter(help_text="tickets carrying all of these tags, comma-separated: ?tags=urgent,billing_dispute")
    needs_review = BooleanFilter(field_name="review_flagged_at", lookup_expr="isnull", exclude=True)
    escalated = BooleanFilter()
    sla_breached = BooleanFilter()
    sla_at_risk = BooleanFilter()
    triage = filters.ChoiceFilter(choices=[(v, v) for v in ("autonomous", "guardrailed", "human_first")])
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = filters.CharFilter(method="filter_q", max_length=500)

    class Meta:
        model = Ticket
        fields = []

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__contains=[value])

    # True once a search met its cap (more than search_cap() matches; it holds the newest): pages say so.
    search_capped = False

    def filter_q(self, queryset, name, value):
        if not value.strip():
            return queryset
        ids = search_ids(value)
        self.search_capped = len(ids) > search_cap()
        return ticket_search_in(queryset, ids)
