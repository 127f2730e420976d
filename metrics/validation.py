"""The one validation of a tenant's health range (API, admin and services call it)."""

from metrics.health import range_problems


def threshold_problems(threshold) -> dict[str, list[str]]:
    return range_problems(threshold.metric, threshold.warn, threshold.bad, threshold.low)
