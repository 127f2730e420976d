"""What `create_tenant` installs: a business calendar, a 24/7 calendar and SLA policies with the
seeds' figures (escalations acknowledged within 30 min, first substantive response within 2 h,
customer updated within 1 h of a specialist escalation, a manager responds within 1 h)."""

from helpdesk.models import Tenant
from slas.models import BusinessCalendar, ClockSource, SLAPolicy

WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

# The escalation targets are the same for every policy by default: they come from the seeds.
ESCALATION_TARGETS = {
    "escalation_acknowledge": 30,
    "escalation_first_response": 120,
    "customer_update": 60,
    "manager_response": 60,
}

POLICIES = [
    # name, calendar, applies_to, first_response, next_response, resolution
    ("Urgent", "24/7", {"priorities": ["urgent"]}, 30, 60, 8 * 60),
    ("VIP", "24/7", {"vip": True}, 60, 120, 24 * 60),
    ("High", "Business hours", {"priorities": ["high"]}, 2 * 60, 4 * 60, 2 * 8 * 60),
    ("Standard", "Business hours", {}, 4 * 60, 8 * 60, 5 * 8 * 60),
]


def install(*, tenant: Tenant) -> list[SLAPolicy]:
    calendars = {
        "Business hours": BusinessCalendar.objects.create(
            tenant=tenant, name="Business hours", timezone=tenant.timezone, hours=WEEKDAYS_9_TO_5
        ),
        "24/7": BusinessCalendar.objects.create(tenant=tenant, name="24/7", timezone=tenant.timezone, always_open=True),
    }
    return [
        SLAPolicy.objects.create(
            tenant=tenant,
            name=name,
            position=10 * (i + 1),
            calendar=calendars[calendar],
            clock_source=ClockSource.POLICY,
            applies_to=applies_to,
            targets={"first_response": first, "next_response": nxt, "resolution": resolution, **ESCALATION_TARGETS},
            warn_percent=[75, 90],
            on_hold_pauses=["resolution"],
        )
        for i, (name, calendar, applies_to, first, nxt, resolution) in enumerate(POLICIES)
    ]
