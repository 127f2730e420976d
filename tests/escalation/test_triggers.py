"""escalation/triggers.py and escalation/defaults.py: pure rule evaluation, triage and the default matrix.
No database, no clock: every test builds a facts snapshot and passes `now`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.defaults import CALL_PHRASES, DEFAULT_RULES
from escalation.triggers import (
    ACTIONS,
    SLA_RISK_NEEDS_ONE,
    TIME_TRIGGERS,
    TRIGGERS,
    VALUE_NEEDS_ONE,
    ConditionError,
    Decision,
    Rule,
    TicketFacts,
    TimerFact,
    conversation_sentiment,
    evaluate,
    triage,
    validate_conditions,
)
from slas.clock import ALWAYS_OPEN, Calendar
from tickets import analysis

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Mon-Fri 09:00-17:00 in Berlin, with Good Friday and Easter Monday 2026 off.
BERLIN_9_17 = Calendar(
    "Europe/Berlin",
    {day: [("09:00", "17:00")] for day in WEEKDAYS},
    holidays={date(2026, 4, 3), date(2026, 4, 6)},
)
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def make_facts(**overrides) -> TicketFacts:
    """A calm, open tier-1 ticket of a standard account: fires nothing under the default matrix."""
    values = {
        "ticket_id": 7,
        "status": "open",
        "priority": "normal",
        "tier": 1,
        "category": "question",
        "channel": "email",
        "sentiment": 0.1,
        "customer_sentiments": (0.1,),
        "follow_up_count": 1,
        "exchange_count": 0,
        "failed_attempts_low_tier": 0,
        "vip": False,
        "plan": "standard",
        "annual_contract_value": 6000.0,
        "lifetime_value": 14000.0,
        "requester_ticket_times": (NOW,),
        "text": "How do I export my invoices as CSV?",
        "tier_since": NOW,
        "calendar": ALWAYS_OPEN,
        "timers": (),
        "solved": False,
    }
    values.update(overrides)
    return TicketFacts(**values)


def rule(trigger: str, conditions: dict, *, id: int = 1, slug: str | None = None, **kw) -> Rule:
    return Rule(id=id, slug=slug or f"{trigger}-{id}", trigger=trigger, conditions=conditions, **kw)


def fires(trigger: str, conditions: dict, facts: TicketFacts, now: datetime = NOW) -> Decision | None:
    """The decision of a single rule, evaluated the way its trigger is evaluated in production."""
    decisions = evaluate(facts, [rule(trigger, conditions)], now, time_based=trigger in TIME_TRIGGERS)
    assert len(decisions) <= 1
    return decisions[0] if decisions else None


def timer(metric="first_response", status="running", percent=50.0, breached=False) -> TimerFact:
    return TimerFact(metric=metric, status=status, percent_used=percent, breached=breached)


# --- one test per trigger: fires, and not at / just past the boundary ---------------------------------------


@pytest.mark.parametrize(
    ("text", "keywords", "hit"),
    [
        ("I want a REFUND now.", ["refund", "lawsuit"], "customer wrote 'refund'"),
        ("My lawyer will be in touch", ["lawsuit", "lawyer"], "customer wrote 'lawyer'"),
        ("We will take legal   action!", ["legal action"], "customer wrote 'legal action'"),
        ("Refund, cancel, whatever.", ["refund", "cancel"], "customer wrote 'refund', 'cancel'"),
        ("Is this refundable?", ["refund"], None),  # whole words only
        ("legal and some action", ["legal action"], None),  # a phrase is its words in a row
        ("", ["refund"], None),  # a sweep or an agent event carries no customer text
    ],
)
def test_it_fires_keyword_on_whole_words_case_insensitively(text, keywords, hit):
    decision = fires("keyword", {"keywords": keywords}, make_facts(text=text))
    assert (decision.reason if decision else None) == hit


@pytest.mark.parametrize(
    ("sentiment", "expected"),
    [
        (-0.72, "sentiment -0.72 below -0.5"),
        (-0.5001, "sentiment -0.5001 below -0.5"),
        (-0.5, None),  # strictly below: exactly at the limit does not fire
        (-0.4999, None),
        (0.8, None),
    ],
)
def test_it_fires_sentiment_strictly_below(sentiment, expected):
    decision = fires("sentiment", {"below": -0.5}, make_facts(sentiment=sentiment))
    assert (decision.reason if decision else None) == expected


def test_it_uses_the_stored_recency_weighted_sentiment_not_the_last_message():
    # One outburst in a calm thread: the last message alone (-0.9) would fire; the thread moderates it to -0.42.
    calm_then_outburst = (0.3, 0.3, -0.9)
    assert conversation_sentiment(calm_then_outburst) == -0.42
    facts = make_facts(sentiment=-0.42, customer_sentiments=calm_then_outburst)
    assert fires("sentiment", {"below": -0.5}, facts) is None
    # Three furious messages and a polite "thanks": the thread reads neutral-to-negative, not happy (+0.49).
    furious_then_thanks = (-0.9, -0.85, -0.95, 0.49)
    assert conversation_sentiment(furious_then_thanks) < 0 < furious_then_thanks[-1]
    # Two furious messages in a row after a calm start: the blend follows them down, and fires.
    blended = conversation_sentiment((0.3, -0.8, -0.9))
    assert blended < -0.5
    assert (
        fires("sentiment", {"below": -0.5}, make_facts(sentiment=blended)).reason == f"sentiment {blended} below -0.5"
    )


def test_it_folds_customer_sentiments_like_the_ticket_services_do():
    scores = [0.2, -0.6, -0.4, 0.9]
    stored = scores[0]
    for score in scores[1:]:
        stored = analysis.blend_sentiment(stored, score)
    assert conversation_sentiment(scores) == stored
    assert conversation_sentiment([]) == 0.0


@pytest.mark.parametrize(
    ("conditions", "account", "expected"),
    [
        ({"vip": True}, {"vip": True}, "account: VIP account"),
        ({"vip": True}, {"vip": False}, None),
        ({"plans": ["business", "enterprise"]}, {"plan": "enterprise"}, "account: plan enterprise"),
        ({"plans": ["enterprise"]}, {"plan": None}, None),
        (
            {"acv_gte": 50000},
            {"annual_contract_value": 50000.0},
            "account: annual contract value 50,000 (threshold 50,000)",
        ),
        ({"acv_gte": 50000}, {"annual_contract_value": 49999.99}, None),
        (
            {"lifetime_value_gte": 100000},
            {"lifetime_value": 100000.0},
            "account: lifetime value 100,000 (threshold 100,000)",
        ),
        ({"lifetime_value_gte": 100000}, {"lifetime_value": 99999.5}, None),
        # any of: one match is enough, and every match is named
        ({"vip": True, "plans": ["enterprise"]}, {"vip": False, "plan": "enterprise"}, "account: plan enterprise"),
        (
            {"vip": True, "plans": ["enterprise"]},
            {"vip": True, "plan": "enterprise"},
            "account: VIP account; plan enterprise",
        ),
        (
            {"vip": False, "plans": ["enterprise"]},
            {"vip": False, "plan": "standard"},
            None,
        ),  # vip false is no condition
    ],
)
def test_it_fires_value_when_any_condition_matches(conditions, account, expected):
    decision = fires("value", conditions, make_facts(**account))
    assert (decision.reason if decision else None) == expected


@pytest.mark.parametrize(
    ("tier_since", "now", "fired"),
    [
        # Friday 15:00 -> Monday: 2 h on Friday, the weekend doesn't count, 2 h on Monday.
        ("2026-03-06 15:00", "2026-03-09 11:00", True),
        ("2026-03-06 15:00", "2026-03-09 10:59:59", False),
        # Thursday before Easter: Good Friday and Easter Monday are holidays, so 4 h are reached on Tuesday 11:00.
        ("2026-04-02 15:00", "2026-04-07 11:00", True),
        ("2026-04-02 15:00", "2026-04-07 10:59", False),
        ("2026-04-02 15:00", "2026-04-06 16:00", False),  # 2 h: Easter Monday afternoon counts nothing
        # Tier reached in the evening: the clock starts at the next opening.
        ("2026-03-04 18:30", "2026-03-05 13:00", True),
        ("2026-03-04 18:30", "2026-03-05 12:59", False),
    ],
)
def test_it_fires_time_open_in_business_hours_across_weekends_and_holidays(tier_since, now, fired):
    facts = make_facts(tier_since=berlin(tier_since), calendar=BERLIN_9_17)
    decision = fires("time_open", {"business_hours": 4, "tier": 1}, facts, now=berlin(now))
    assert bool(decision) is fired


def test_it_says_how_long_the_ticket_was_open_at_its_tier():
    facts = make_facts(tier_since=berlin("2026-03-06 14:00"), calendar=BERLIN_9_17)
    decision = fires("time_open", {"business_hours": 4, "tier": 1}, facts, now=berlin("2026-03-09 11:00"))
    assert decision.reason == "open 5.0 business hours at tier 1 (limit 4)"


def test_it_only_fires_time_open_at_the_given_tier():
    facts = make_facts(tier=2, tier_since=NOW - timedelta(hours=10))
    assert fires("time_open", {"business_hours": 4, "tier": 1}, facts) is None
    assert fires("time_open", {"business_hours": 4, "tier": 2}, facts)
    assert fires("time_open", {"business_hours": 4}, facts)  # no tier: any tier


def test_it_compares_time_open_to_the_microsecond():
    # 0.1 h is 6.000000000000001 minutes in floats; exactly 6 minutes must fire.
    facts = make_facts(tier_since=NOW - timedelta(minutes=6))
    assert fires("time_open", {"business_hours": 0.1}, facts)
    facts = make_facts(tier_since=NOW - timedelta(minutes=6) + timedelta(microseconds=1))
    assert fires("time_open", {"business_hours": 0.1}, facts) is None


@pytest.mark.parametrize(
    ("conditions", "timers", "expected"),
    [
        ({"percent": 80}, [timer(percent=80.0)], "first_response SLA at 80% of its target (limit 80%)"),
        ({"percent": 80}, [timer(percent=79.99)], None),
        ({"percent": 80}, [timer(status="paused", percent=95.0)], None),  # pending on the customer: no risk
        ({"percent": 80}, [timer(status="met", percent=90.0)], None),
        (
            {"percent": 80},
            [timer(status="breached", percent=130.0, breached=True)],
            "first_response SLA at 130% of its target (limit 80%)",
        ),
        ({"percent": 80, "metrics": ["resolution"]}, [timer(percent=95.0)], None),
        (
            {"percent": 80, "metrics": ["resolution"]},
            [timer(percent=10.0), timer("resolution", percent=85.0)],
            "resolution SLA at 85% of its target (limit 80%)",
        ),
        ({"breached": True}, [timer(status="breached", percent=101.0, breached=True)], "first_response SLA breached"),
        ({"breached": True}, [timer(status="paused", percent=120.0, breached=True)], "first_response SLA breached"),
        ({"breached": True}, [timer(status="met", percent=120.0, breached=True)], None),  # met late: risk over
        ({"breached": True}, [timer(percent=99.9)], None),
        ({"breached": True, "metrics": ["escalation_acknowledge"]}, [timer(status="breached", breached=True)], None),
        (
            {"breached": True},
            [timer(status="breached", breached=True), timer("resolution", status="breached", breached=True)],
            "first_response SLA breached; resolution SLA breached",
        ),
        ({"percent": 80}, [], None),
    ],
)
def test_it_fires_sla_risk_on_percent_or_breach(conditions, timers, expected):
    decision = fires("sla_risk", conditions, make_facts(timers=tuple(timers)))
    assert (decision.reason if decision else None) == expected


def test_it_evaluates_sla_risk_on_events_too():
    facts = make_facts(timers=(timer(status="breached", breached=True),))
    rules = [rule("sla_risk", {"breached": True})]
    assert evaluate(facts, rules, NOW, time_based=False)
    assert evaluate(facts, rules, NOW, time_based=True)


@pytest.mark.parametrize(
    ("ages", "fired"),
    [
        ([timedelta(0), timedelta(days=10), timedelta(days=30)], True),  # exactly 30 days ago is inside the window
        ([timedelta(0), timedelta(days=10), timedelta(days=30, microseconds=1)], False),
        ([timedelta(0), timedelta(days=10)], False),
        ([timedelta(0), timedelta(days=1), timedelta(days=2), timedelta(days=400)], True),
        ([timedelta(0), timedelta(days=1), -timedelta(days=1)], False),  # a ticket "from the future" is not counted
    ],
)
def test_it_fires_repeat_contact_within_the_window(ages, fired):
    facts = make_facts(requester_ticket_times=tuple(NOW - age for age in ages))
    assert bool(fires("repeat_contact", {"tickets": 3, "days": 30}, facts)) is fired


def test_it_names_the_repeat_contact_count():
    facts = make_facts(requester_ticket_times=(NOW, NOW - timedelta(days=3), NOW - timedelta(days=20), NOW))
    decision = fires("repeat_contact", {"tickets": 3, "days": 30}, facts)
    assert decision.reason == "requester opened 4 tickets about the same issue in the last 30 days (limit 3)"


@pytest.mark.parametrize(
    ("trigger", "attribute", "count", "reason"),
    [
        ("follow_ups", "follow_up_count", 3, "3 customer messages without an agent reply (limit 3)"),
        ("failed_attempts", "failed_attempts_low_tier", 2, "2 failed resolution attempts at tier 0-1 (limit 2)"),
        ("back_and_forth", "exchange_count", 6, "6 back-and-forth exchanges (limit 6)"),
    ],
)
def test_it_fires_count_triggers_at_the_count(trigger, attribute, count, reason):
    assert fires(trigger, {"count": count}, make_facts(**{attribute: count - 1})) is None
    assert fires(trigger, {"count": count}, make_facts(**{attribute: count})).reason == reason
    assert fires(trigger, {"count": count}, make_facts(**{attribute: count + 1}))


@pytest.mark.parametrize(
    ("text", "conditions", "expected"),
    [
        ("I want to speak to a manager right now", {}, "customer asked for a manager ('speak to a manager')"),
        ("Let me talk to your supervisor.", {}, "customer asked for a manager ('your supervisor')"),
        ("My manager asked me to open this ticket", {}, None),
        (
            "Put me through to the head of support",
            {"phrases": ["head of support"]},
            "customer asked for a manager ('head of support')",
        ),
        ("Put me through to the head of support", {}, None),
        ("", {}, None),
    ],
)
def test_it_fires_manager_request_on_built_in_and_extra_phrases(text, conditions, expected):
    decision = fires("manager_request", conditions, make_facts(text=text))
    assert (decision.reason if decision else None) == expected


@pytest.mark.parametrize(
    ("category", "fired"), [("legal", True), ("Legal", True), ("data_loss", True), ("billing", False), ("", False)]
)
def test_it_fires_category_on_a_listed_category(category, fired):
    decision = fires("category", {"categories": ["legal", "security", "data_loss"]}, make_facts(category=category))
    assert bool(decision) is fired


# --- evaluate(): event vs sweep, active, order, solved ------------------------------------------------------

EVERY_TRIGGER_FIRES = make_facts(
    text="I want a refund. Let me speak to a manager.",
    sentiment=-0.9,
    vip=True,
    tier_since=NOW - timedelta(hours=10),
    timers=(timer(status="breached", percent=150.0, breached=True),),
    requester_ticket_times=(NOW, NOW - timedelta(days=1), NOW - timedelta(days=2)),
    follow_up_count=5,
    failed_attempts_low_tier=3,
    exchange_count=8,
    category="legal",
    added_tags=("bug_confirmed",),
    dispute_amount=Decimal("1500.00"),
    dispute_currency="USD",
)
ONE_RULE_PER_TRIGGER = [
    rule("keyword", {"keywords": ["refund"]}, id=1),
    rule("sentiment", {"below": -0.5}, id=2),
    rule("value", {"vip": True}, id=3),
    rule("time_open", {"business_hours": 4}, id=4),
    rule("sla_risk", {"percent": 80}, id=5),
    rule("repeat_contact", {"tickets": 3, "days": 30}, id=6),
    rule("follow_ups", {"count": 3}, id=7),
    rule("failed_attempts", {"count": 2}, id=8),
    rule("back_and_forth", {"count": 6}, id=9),
    rule("manager_request", {}, id=10),
    rule("category", {"categories": ["legal"]}, id=11),
    rule("tag_added", {"tags": ["bug_confirmed"]}, id=12),
    rule("dispute", {"amount_gte": "1000.00"}, id=13),
]


def test_it_evaluates_every_trigger_but_time_open_on_events():
    decisions = evaluate(EVERY_TRIGGER_FIRES, ONE_RULE_PER_TRIGGER, NOW, time_based=False)
    assert [d.trigger for d in decisions] == [t for t in TRIGGERS if t != "time_open"]


def test_it_evaluates_only_time_triggers_in_the_sweep():
    decisions = evaluate(EVERY_TRIGGER_FIRES, ONE_RULE_PER_TRIGGER, NOW, time_based=True)
    assert [d.trigger for d in decisions] == ["time_open", "sla_risk"]
    assert set(TIME_TRIGGERS) == {"time_open", "sla_risk"}


def test_it_fires_nothing_on_a_solved_ticket():
    solved = dataclasses.replace(EVERY_TRIGGER_FIRES, solved=True, status="solved")
    assert evaluate(solved, ONE_RULE_PER_TRIGGER, NOW, time_based=False) == []
    assert evaluate(solved, ONE_RULE_PER_TRIGGER, NOW, time_based=True) == []


def test_it_skips_inactive_rules():
    rules = [
        rule("keyword", {"keywords": ["refund"]}, id=1, active=False),
        rule("category", {"categories": ["legal"]}, id=2),
    ]
    assert [d.rule_id for d in evaluate(EVERY_TRIGGER_FIRES, rules, NOW, time_based=False)] == [2]


def test_it_returns_decisions_in_position_order_then_id():
    rules = [
        rule("category", {"categories": ["legal"]}, id=5, position=30),
        rule("keyword", {"keywords": ["refund"]}, id=9, position=10),
        rule("manager_request", {}, id=2, position=30),
        rule("value", {"vip": True}, id=1, position=20),
    ]
    decisions = evaluate(EVERY_TRIGGER_FIRES, rules, NOW, time_based=False)
    assert [d.rule_id for d in decisions] == [9, 1, 2, 5]
    assert decisions[0] == Decision(rule_id=9, slug="keyword-9", trigger="keyword", reason="customer wrote 'refund'")


def test_it_never_fires_a_rule_whose_stored_conditions_are_invalid():
    broken = rule("keyword", {"keywords": []}, id=1)
    good = rule("category", {"categories": ["legal"]}, id=2)
    assert broken.error.field == "conditions.keywords"
    assert good.error is None
    assert [d.rule_id for d in evaluate(EVERY_TRIGGER_FIRES, [broken, good], NOW, time_based=False)] == [2]


def test_it_refuses_a_naive_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(make_facts(), ONE_RULE_PER_TRIGGER, datetime(2026, 3, 4, 12, 0), time_based=False)


def test_it_fires_nothing_for_a_calm_ticket_under_the_default_matrix():
    rules = [
        Rule(id=i, slug=r["slug"], trigger=r["trigger"], conditions=r["conditions"])
        for i, r in enumerate(DEFAULT_RULES)
    ]
    assert evaluate(make_facts(), rules, NOW, time_based=False) == []
    assert evaluate(make_facts(), rules, NOW, time_based=True) == []


def test_it_escalates_the_angry_vip_lawyer_ticket_under_the_default_matrix():
    rules = [
        Rule(
            id=i,
            slug=r["slug"],
            trigger=r["trigger"],
            conditions=r["conditions"],
            position=r["position"],
            action=r["action"],
        )
        for i, r in enumerate(DEFAULT_RULES)
    ]
    actions = {r.slug: r.action for r in rules}
    text = "I'm calling my lawyer. This is unacceptable."
    facts = make_facts(text=text, vip=True, plan="enterprise", sentiment=analysis.sentiment(text))
    decisions = evaluate(facts, rules, NOW, time_based=False)
    slugs = [d.slug for d in decisions if actions[d.slug] == "escalate"]
    assert slugs[0] == "legal-threat"
    assert "vip" in slugs
    # The seeds' auto-tagging hears the threat too, at once (a tag rule, no escalation of its own).
    assert "tag-legal-threat" in [d.slug for d in decisions if actions[d.slug] == "tag"]


# --- validate_conditions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "conditions", "field"),
    [
        ("nonsense", {}, "trigger"),
        (None, {}, "trigger"),
        ("keyword", ["refund"], "conditions"),
        ("keyword", {}, "conditions.keywords"),
        ("keyword", {"keywords": []}, "conditions.keywords"),
        ("keyword", {"keywords": "refund"}, "conditions.keywords"),
        ("keyword", {"keywords": ["refund", ""]}, "conditions.keywords"),
        ("keyword", {"keywords": ["  "]}, "conditions.keywords"),
        ("keyword", {"keywords": ["!!!"]}, "conditions.keywords"),
        ("keyword", {"keywords": [42]}, "conditions.keywords"),
        ("keyword", {"keywords": ["refund"], "words": ["x"]}, "conditions.words"),
        ("sentiment", {}, "conditions.below"),
        ("sentiment", {"below": 1}, "conditions.below"),
        ("sentiment", {"below": -1.01}, "conditions.below"),
        ("sentiment", {"below": "-0.5"}, "conditions.below"),
        ("sentiment", {"below": True}, "conditions.below"),
        ("sentiment", {"below": float("nan")}, "conditions.below"),
        ("sentiment", {"below": -0.5, "above": 0}, "conditions.above"),
        ("value", {}, "conditions"),
        ("value", {"vip": False}, "conditions"),
        ("value", {"vip": "yes"}, "conditions.vip"),
        ("value", {"plans": []}, "conditions.plans"),
        ("value", {"plans": ["platinum"]}, "conditions.plans"),
        ("value", {"acv_gte": -1}, "conditions.acv_gte"),
        ("value", {"acv_gte": "1000"}, "conditions.acv_gte"),
        ("value", {"lifetime_value_gte": float("inf")}, "conditions.lifetime_value_gte"),
        ("value", {"vip": True, "tier": 1}, "conditions.tier"),
        ("time_open", {}, "conditions.business_hours"),
        ("time_open", {"business_hours": 0}, "conditions.business_hours"),
        ("time_open", {"business_hours": -2}, "conditions.business_hours"),
        ("time_open", {"business_hours": 4, "tier": 4}, "conditions.tier"),
        ("time_open", {"business_hours": 4, "tier": 1.5}, "conditions.tier"),
        ("time_open", {"business_hours": 4, "tier": True}, "conditions.tier"),
        ("time_open", {"hours": 4}, "conditions.hours"),
        ("sla_risk", {}, "conditions"),
        ("sla_risk", {"percent": 80, "breached": True}, "conditions"),
        ("sla_risk", {"breached": False}, "conditions"),
        ("sla_risk", {"breached": "yes"}, "conditions.breached"),
        ("sla_risk", {"percent": 0}, "conditions.percent"),
        ("sla_risk", {"percent": 101}, "conditions.percent"),
        ("sla_risk", {"percent": 80, "metrics": []}, "conditions.metrics"),
        ("sla_risk", {"percent": 80, "metrics": ["uptime"]}, "conditions.metrics"),
        ("repeat_contact", {"days": 30}, "conditions.tickets"),
        ("repeat_contact", {"tickets": 1, "days": 30}, "conditions.tickets"),
        ("repeat_contact", {"tickets": 3}, "conditions.days"),
        ("repeat_contact", {"tickets": 3, "days": 0}, "conditions.days"),
        ("repeat_contact", {"tickets": 3, "days": 366}, "conditions.days"),
        ("follow_ups", {}, "conditions.count"),
        ("follow_ups", {"count": 0}, "conditions.count"),
        ("failed_attempts", {"count": 0}, "conditions.count"),
        ("failed_attempts", {"count": "2"}, "conditions.count"),
        ("back_and_forth", {"count": 1}, "conditions.count"),
        ("manager_request", {"phrases": "manager"}, "conditions.phrases"),
        ("manager_request", {"phrases": [""]}, "conditions.phrases"),
        ("manager_request", {"keywords": ["boss"]}, "conditions.keywords"),
        ("category", {}, "conditions.categories"),
        ("category", {"categories": []}, "conditions.categories"),
        ("category", {"categories": ["data loss"]}, "conditions.categories"),
        ("category", {"categories": [""]}, "conditions.categories"),
        ("category", {"categories": [None]}, "conditions.categories"),
    ],
)
def test_it_rejects_conditions_of_the_wrong_shape(trigger, conditions, field):
    with pytest.raises(ConditionError) as caught:
        validate_conditions(trigger, conditions)
    assert caught.value.field == field
    assert caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


def test_it_names_the_unknown_key_and_the_missing_alternatives():
    with pytest.raises(ConditionError, match="'words'"):
        validate_conditions("keyword", {"keywords": ["refund"], "words": ["x"]})
    with pytest.raises(ConditionError) as caught:
        validate_conditions("value", {"vip": False})
    assert caught.value.message == VALUE_NEEDS_ONE
    with pytest.raises(ConditionError) as caught:
        validate_conditions("sla_risk", {"percent": 80, "breached": True})
    assert caught.value.message == SLA_RISK_NEEDS_ONE


@pytest.mark.parametrize(
    ("trigger", "conditions", "normalised"),
    [
        ("keyword", {"keywords": [" Refund ", "refund", "legal action"]}, {"keywords": ["Refund", "legal action"]}),
        ("sentiment", {"below": 0}, {"below": 0.0}),
        ("sentiment", {"below": -1}, {"below": -1.0}),
        ("value", {"vip": True, "plans": ["enterprise", "enterprise"]}, {"vip": True, "plans": ["enterprise"]}),
        ("value", {"vip": False, "acv_gte": 0}, {"vip": False, "acv_gte": 0}),
        ("time_open", {"business_hours": 4, "tier": 1.0}, {"business_hours": 4, "tier": 1}),
        ("time_open", {"business_hours": 0.5, "tier": None}, {"business_hours": 0.5}),
        ("sla_risk", {"percent": 100}, {"percent": 100}),
        ("sla_risk", {"breached": True, "metrics": ["resolution"]}, {"breached": True, "metrics": ["resolution"]}),
        ("sla_risk", {"percent": 80, "breached": False}, {"percent": 80}),
        ("repeat_contact", {"tickets": 2, "days": 365}, {"tickets": 2, "days": 365}),
        ("follow_ups", {"count": 1}, {"count": 1}),
        ("back_and_forth", {"count": 2}, {"count": 2}),
        ("manager_request", {}, {}),
        ("manager_request", {"phrases": []}, {"phrases": []}),
        ("category", {"categories": ["Legal", "data_loss", "legal"]}, {"categories": ["legal", "data_loss"]}),
    ],
)
def test_it_normalises_valid_conditions(trigger, conditions, normalised):
    assert validate_conditions(trigger, conditions) == normalised


# --- triage ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "level", "reasons"),
    [
        ({}, "autonomous", ("no high-risk or sensitive facts",)),
        ({"category": "security"}, "human_first", ("category 'security' is high risk",)),
        (
            {"text": "I need to speak to a manager"},
            "human_first",
            ("customer asked for a manager ('speak to a manager')",),
        ),
        ({"vip": True, "sentiment": -0.31}, "human_first", ("VIP account with sentiment -0.31 (below -0.3)",)),
        ({"vip": True, "sentiment": -0.3}, "guardrailed", ("sentiment -0.3 below -0.2",)),
        ({"timers": (timer(status="breached", breached=True),)}, "human_first", ("SLA breached: first_response",)),
        ({"sentiment": -0.61}, "human_first", ("sentiment -0.61 below -0.6",)),
        ({"sentiment": -0.6}, "guardrailed", ("sentiment -0.6 below -0.2",)),
        ({"text": "Please refund me"}, "guardrailed", ("customer wrote 'refund' (a sensitive action is likely)",)),
        ({"category": "billing"}, "guardrailed", ("category 'billing' involves money",)),
        ({"plan": "enterprise"}, "guardrailed", ("enterprise plan",)),
        ({"failed_attempts_low_tier": 1}, "guardrailed", ("1 failed resolution attempt(s) at tier 0-1",)),
        ({"sentiment": -0.2}, "autonomous", ("no high-risk or sensitive facts",)),
        (
            {"category": "data_loss", "sentiment": -0.8, "plan": "enterprise"},
            "human_first",
            ("category 'data_loss' is high risk", "sentiment -0.8 below -0.6"),
        ),
        (
            {"text": "cancel my plan, I was charged twice", "plan": "enterprise"},
            "guardrailed",
            ("customer wrote 'cancel', 'charged' (a sensitive action is likely)", "enterprise plan"),
        ),
    ],
)
def test_it_triages_with_the_facts_that_made_it_so(overrides, level, reasons):
    result = triage(make_facts(**overrides))
    assert (result.level, result.reasons) == (level, reasons)


# --- the default matrix ---------------------------------------------------------------------------------------

RULE_FIELDS = {
    "name",
    "slug",
    "trigger",
    "conditions",
    "kind",
    "action",
    "tags",
    "target_team_name",
    "target_skill",
    "target_tier",
    "target_role",
    "response_minutes",
    "notify",
    "to_call",
    "priority_override",
    "supersedes",
    "active",
    "position",
}
TARGETS = ("target_team_name", "target_skill", "target_tier", "target_role")


def test_the_default_matrix_covers_every_trigger():
    assert {r["trigger"] for r in DEFAULT_RULES} == set(TRIGGERS)


@pytest.mark.parametrize("default", DEFAULT_RULES, ids=lambda r: r["slug"])
def test_every_default_rule_is_well_formed(default):
    assert set(default) == RULE_FIELDS
    assert validate_conditions(default["trigger"], default["conditions"]) == default["conditions"]
    assert default["action"] in ACTIONS
    targets = [key for key in TARGETS if default[key] is not None]
    if default["action"] == "escalate":
        assert default["kind"] in ("functional", "hierarchical")
        assert len(targets) == 1
        assert isinstance(default["response_minutes"], int) and default["response_minutes"] > 0
        assert default["tags"] == []
    else:  # a tag or flag rule escalates nothing: no kind, no target, no escalation clock
        assert default["kind"] == "" and targets == [] and default["response_minutes"] is None
        assert (default["tags"] != []) == (default["action"] == "tag")
    assert default["target_role"] in (None, "manager", "admin")
    assert default["target_tier"] in (None, 0, 1, 2, 3)
    assert default["priority_override"] in (None, "low", "normal", "high", "urgent")
    assert isinstance(default["to_call"], bool) and default["active"] is True
    assert all(isinstance(who, str) for who in default["notify"])
    assert Rule(id=1, slug=default["slug"], trigger=default["trigger"], conditions=default["conditions"]).error is None


def test_default_slugs_and_positions_are_unique():
    assert len({r["slug"] for r in DEFAULT_RULES}) == len(DEFAULT_RULES)
    assert len({r["position"] for r in DEFAULT_RULES}) == len(DEFAULT_RULES)


def test_the_default_matrix_follows_the_seeds():
    by_slug = {r["slug"]: r for r in DEFAULT_RULES}
    assert by_slug["legal-threat"]["kind"] == "hierarchical"
    assert by_slug["legal-threat"]["priority_override"] == "urgent"
    assert by_slug["legal-threat"]["to_call"] is False
    assert by_slug["billing"]["target_skill"] == "billing"
    assert by_slug["call-request"]["to_call"] is True
    assert by_slug["failed-attempts"]["conditions"] == {"count": 2}
    assert by_slug["failed-attempts"]["to_call"] is True
    assert by_slug["vip"]["response_minutes"] == 60
    assert by_slug["data-loss"]["target_skill"] == "engineering"
    assert by_slug["time-open-tier1"]["conditions"] == {"business_hours": 4, "tier": 1}
    assert tuple(CALL_PHRASES) == analysis.CALL_PHRASES


# --- properties -----------------------------------------------------------------------------------------------

WORDS = st.sampled_from(["refund", "Refund", "legal", "action", "call", "me", "lawyer's", "re-fund", "café", "42"])
TEXTS = st.lists(st.one_of(WORDS, st.text(max_size=6)), max_size=12).map(lambda parts: " ".join(parts))
PHRASES = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, keywords=st.lists(PHRASES, min_size=1, max_size=5))
def test_keyword_matching_agrees_with_keyword_hits(text, keywords):
    """The compiled n-gram lookup answers exactly what tickets.analysis.keyword_hits answers."""
    expected = analysis.keyword_hits(text, keywords)
    decision = fires("keyword", {"keywords": keywords}, make_facts(text=text))
    normalised = validate_conditions("keyword", {"keywords": keywords})["keywords"]
    hits = [kw for kw in normalised if analysis.keyword_hits(text, [kw])]
    assert bool(decision) is bool(expected)
    if decision:
        assert decision.reason == "customer wrote " + ", ".join(f"'{kw}'" for kw in hits)


MANAGER_TEXTS = st.lists(
    st.one_of(st.sampled_from(["speak", "to", "a", "your", "manager", "Supervisor", "higher", "up", "my"]), TEXTS),
    max_size=8,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=MANAGER_TEXTS)
def test_manager_request_agrees_with_asks_for_manager(text):
    assert bool(fires("manager_request", {}, make_facts(text=text))) is analysis.asks_for_manager(text)


@given(
    trigger=st.sampled_from(["follow_ups", "failed_attempts", "back_and_forth"]),
    count=st.integers(min_value=2, max_value=50),
    value=st.integers(min_value=0, max_value=60),
    more=st.integers(min_value=0, max_value=60),
)
def test_raising_a_count_never_unfires_a_count_trigger(trigger, count, value, more):
    attribute = {"follow_ups": "follow_up_count", "failed_attempts": "failed_attempts_low_tier"}.get(
        trigger, "exchange_count"
    )
    before = fires(trigger, {"count": count}, make_facts(**{attribute: value}))
    after = fires(trigger, {"count": count}, make_facts(**{attribute: value + more}))
    assert bool(before) <= bool(after)
    assert bool(before) is (value >= count)


@given(score=st.floats(min_value=-1, max_value=1), below=st.floats(min_value=-1, max_value=1, exclude_max=True))
def test_sentiment_fires_exactly_when_strictly_below(score, below):
    assert bool(fires("sentiment", {"below": below}, make_facts(sentiment=score))) is (score < below)


@settings(max_examples=50, deadline=None)
@given(order=st.permutations(range(len(ONE_RULE_PER_TRIGGER))), time_based=st.booleans())
def test_evaluate_is_deterministic_whatever_the_order_of_rules(order, time_based):
    shuffled = [ONE_RULE_PER_TRIGGER[i] for i in order]
    expected = evaluate(EVERY_TRIGGER_FIRES, ONE_RULE_PER_TRIGGER, NOW, time_based=time_based)
    assert evaluate(EVERY_TRIGGER_FIRES, shuffled, NOW, time_based=time_based) == expected
    assert evaluate(EVERY_TRIGGER_FIRES, shuffled, NOW, time_based=time_based) == expected


@given(extra_days=st.integers(min_value=0, max_value=400), days=st.integers(min_value=1, max_value=365))
def test_a_longer_window_never_counts_fewer_tickets(extra_days, days):
    times = tuple(NOW - timedelta(days=d) for d in (0, 3, 15, 29, 31, 90, 200))
    facts = make_facts(requester_ticket_times=times)
    narrow = fires("repeat_contact", {"tickets": 3, "days": days}, facts)
    wide = fires("repeat_contact", {"tickets": 3, "days": min(365, days + extra_days)}, facts)
    assert bool(narrow) <= bool(wide)


def test_rules_compile_once_per_distinct_conditions():
    a = rule("keyword", {"keywords": ["refund"]}, id=1)
    b = rule("keyword", {"keywords": ["refund"]}, id=2)
    c = rule("follow_ups", {"count": True}, id=3)  # True is not 1: not served from the {"count": 1} entry
    d = rule("follow_ups", {"count": 1}, id=4)
    assert a._compiled is b._compiled
    assert c.error is not None and d.error is None


@pytest.mark.parametrize(
    "conditions",
    [{"keywords": [["refund"]]}, {"keywords": [{"word": "refund"}]}, {"keywords": {"refund": True}}, "refund", None],
)
def test_it_keeps_odd_stored_conditions_as_an_error_instead_of_raising(conditions):
    broken = rule("keyword", conditions)
    assert broken.error is not None
    assert evaluate(make_facts(text="refund"), [broken], NOW, time_based=False) == []


def test_it_lists_each_matching_phrase_once_in_configured_order():
    decision = fires(
        "manager_request", {"phrases": ["your manager", "the boss"]}, make_facts(text="Get me THE boss, your manager")
    )
    assert decision.reason == "customer asked for a manager ('your manager', 'the boss')"


def test_timestamps_in_other_zones_compare_as_instants():
    facts = make_facts(requester_ticket_times=(NOW, (NOW - timedelta(days=29)).astimezone(BERLIN), NOW.astimezone(UTC)))
    assert fires("repeat_contact", {"tickets": 3, "days": 30}, facts)


def test_the_module_imports_no_django():
    code = (
        "import sys, escalation.triggers, escalation.defaults; print(sorted(m for m in sys.modules if 'django' in m))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- one escalation per cause (issue 19) ------------------------------------------------------------------------


def _shape(pk, slug, trigger="keyword", conditions=None, **kw):
    conditions = conditions if conditions is not None else {"keywords": ["x"]}
    return Rule(id=pk, slug=slug, trigger=trigger, conditions=conditions, position=pk, **kw)


def _fired(*rules):
    return [Decision(rule_id=r.id, slug=r.slug, trigger=r.trigger, reason=f"why {r.slug}") for r in rules]


def _groups(merges):
    return [(m.lead.slug, [d.slug for d in m.superseded]) for m in merges]


def test_breached_supersedes_at_risk():
    from escalation.triggers import merge

    breached = _shape(1, "breached", "sla_risk", {"breached": True}, kind="hierarchical")
    at_risk = _shape(2, "at-risk", "sla_risk", {"percent": 75}, kind="functional", target_tier=2)
    assert _groups(merge(_fired(breached, at_risk), [breached, at_risk])) == [("breached", ["at-risk"])]
    # Fired alone, each is its own cause.
    assert _groups(merge(_fired(at_risk), [breached, at_risk])) == [("at-risk", [])]


def test_a_hierarchical_escalation_supersedes_a_functional_one_to_the_same_level_only():
    from escalation.triggers import merge

    senior = _shape(1, "senior", kind="hierarchical", target_tier=2)
    tier2 = _shape(2, "tier2", kind="functional", target_tier=2)
    tier3 = _shape(3, "tier3", kind="functional", target_tier=3)
    legal = _shape(4, "legal", kind="functional", target_tier=2, by_skill_or_team=True)
    rules = [senior, tier2, tier3, legal]
    assert _groups(merge(_fired(*rules), rules)) == [("senior", ["tier2"]), ("tier3", []), ("legal", [])]


def test_a_rule_names_what_it_supersedes_and_chains_and_cycles_resolve():
    from escalation.triggers import merge

    a = _shape(1, "a", kind="functional", supersedes=("b",))
    b = _shape(2, "b", kind="functional", supersedes=("c", "a"))
    c = _shape(3, "c", kind="functional")
    rules = [a, b, c]
    # b -> a closes a cycle and is ignored; c joins b, which joins a.
    assert _groups(merge(_fired(a, b, c), rules)) == [("a", ["b", "c"])]
    assert _groups(merge(_fired(b, c), rules)) == [("b", ["c"])]
