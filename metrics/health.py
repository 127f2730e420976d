"""Health of each escalation metric: its seeds' range, as defaults a tenant may edit (HealthThreshold rows).
Pure: no Django.

Each graded metric reads one number (a percentage, minutes or a CSAT score) and has a direction:
"higher is worse" (rates of trouble, delays) or "lower is worse" (compliance, CSAT, first-tier
resolution). `warn` and `bad` are the boundaries; escalation rate also has `low`, under which it warns
(the seeds: "drops to near zero often mean agents are over-promising fixes").

Boundaries, as the seeds word them: escalation rate ok 10-20 %, warn 20-35 % (and under 10 %), bad from
35 % ("reconsider above 35 %": 35 itself is bad); bounceback ok up to 10 %, warn to 20 %, bad above 20 %;
handoff (p90 of the time to acknowledge high and urgent escalations, the ones still waiting or never acknowledged
counted at their wait) ok under 30 min, bad above 2 h;
priority mistranslation ok up to 5 %; repeat escalations bad above 20 %; context loss bad above 10 %.
Where the seeds give one boundary only, the other is the project's choice, marked "project" below, as are
the ranges of the metrics the seeds name without a range. A metric with no value (an empty period) is "ok":
there is nothing to flag.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, BAD = "ok", "warn", "bad"
HIGHER_IS_WORSE, LOWER_IS_WORSE = "higher_is_worse", "lower_is_worse"


@dataclass(frozen=True)
class Range:
    warn: float
    bad: float
    direction: str = HIGHER_IS_WORSE
    low: float | None = None  # under this (exclusive), warn: only escalation rate has one
    bad_inclusive: bool = False  # the value equal to `bad` is bad (escalation rate's "from 35 %")
    unit: str = "%"
    source: str = "seeds"


# metric -> its default range. The metric names are the API's (API.md, "Metrics").
DEFAULTS: dict[str, Range] = {
    "escalation_rate": Range(warn=20, bad=35, low=10, bad_inclusive=True),
    "time_to_escalate": Range(warn=240, bad=480, unit="min", source="project"),  # p50, wall minutes
    "post_escalation_resolution": Range(warn=1440, bad=4320, unit="min", source="project"),  # p50
    "re_escalation_rate": Range(warn=10, bad=20, source="project"),
    "bounceback_rate": Range(warn=10, bad=20),
    "handoff_delay": Range(warn=30, bad=120, unit="min"),  # p90 of high/urgent, the still waiting counted
    "priority_mistranslation_rate": Range(warn=5, bad=10),  # bad: project
    "repeat_escalation_rate": Range(warn=10, bad=20),  # warn: project
    "context_loss_rate": Range(warn=5, bad=10),  # warn: project
    "sla_compliance_escalated": Range(warn=90, bad=80, direction=LOWER_IS_WORSE, source="project"),
    "post_escalation_csat": Range(warn=4.0, bad=3.0, direction=LOWER_IS_WORSE, unit="score", source="project"),
    "first_tier_resolution_rate": Range(warn=70, bad=60, direction=LOWER_IS_WORSE, source="project"),
    "escalation_to_call_rate": Range(warn=20, bad=35, source="project"),
    "root_cause_recorded_share": Range(warn=80, bad=50, direction=LOWER_IS_WORSE, source="project"),
    "reviews_done_share": Range(warn=80, bad=50, direction=LOWER_IS_WORSE, source="project"),
}


def grade(value: float | None, limits: Range) -> str:
    if value is None:
        return OK
    if limits.direction == LOWER_IS_WORSE:
        if value < limits.bad:
            return BAD
        return WARN if value < limits.warn else OK
    if value > limits.bad or (limits.bad_inclusive and value >= limits.bad):
        return BAD
    if value > limits.warn:
        return WARN
    if limits.low is not None and value < limits.low:
        return WARN
    return OK


def range_problems(metric: str, warn: float | None, bad: float | None, low: float | None) -> dict[str, list[str]]:
    """What is wrong with a tenant's range for `metric` (the one validation of HealthThreshold)."""
    default = DEFAULTS.get(metric)
    if default is None:
        return {"metric": ["Unknown metric."]}
    problems: dict[str, list[str]] = {}
    ceiling = 100.0 if default.unit == "%" else (5.0 if default.unit == "score" else 525_600.0)
    for name, value in (("warn", warn), ("bad", bad), ("low", low)):
        if value is not None and not 0 <= value <= ceiling:
            problems[name] = [f"Must be from 0 to {ceiling:g}."]
    if problems or warn is None or bad is None:
        return problems
    if default.direction == HIGHER_IS_WORSE and warn > bad:
        problems["bad"] = ["Must not be below the warning boundary (higher is worse for this metric)."]
    if default.direction == LOWER_IS_WORSE and warn < bad:
        problems["bad"] = ["Must not be above the warning boundary (lower is worse for this metric)."]
    if low is not None and default.low is None:
        problems["low"] = ["Only the escalation rate has a lower boundary."]
    if low is not None and low > warn:
        problems["low"] = ["Must not be above the warning boundary."]
    return problems


def ranges(overrides: dict[str, tuple[float, float, float | None]]) -> dict[str, Range]:
    """The tenant's ranges: the defaults with its own boundaries (metric -> (warn, bad, low))."""
    merged = dict(DEFAULTS)
    for metric, (warn, bad, low) in overrides.items():
        base = DEFAULTS.get(metric)
        if base is not None:
            merged[metric] = Range(
                warn=warn,
                bad=bad,
                direction=base.direction,
                low=low if base.low is not None else None,
                bad_inclusive=base.bad_inclusive,
                unit=base.unit,
                source="tenant",
            )
    return merged
