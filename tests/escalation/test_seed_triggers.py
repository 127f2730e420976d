"""The seeds' missing triggers and actions, pure (issue 20): tag_added, dispute, value's customer_years_gte, and
what an action changes (nothing in when a rule fires; only escalating rules take part in supersession). No database:
the API-level tests are in tests/escalation/test_seed_actions.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from escalation.triggers import ConditionError, Decision, merge, tenure_years, validate_conditions
from tests.escalation.test_triggers import NOW, fires, make_facts, rule

# --- tag_added ------------------------------------------------------------------------------------------------


def test_tag_added_fires_for_an_added_tag_and_names_it():
    decision = fires("tag_added", {"tags": ["bug_confirmed", "regression"]}, make_facts(added_tags=("bug_confirmed",)))
    assert decision is not None and decision.reason == "tag 'bug_confirmed' added"


@pytest.mark.parametrize("added", [(), ("bug",), ("bug_confirmed_later",)])
def test_tag_added_does_not_fire_without_one_of_its_tags_added(added):
    assert fires("tag_added", {"tags": ["bug_confirmed"]}, make_facts(added_tags=added)) is None


def test_tag_added_normalises_its_tags_and_refuses_an_empty_list():
    assert validate_conditions("tag_added", {"tags": ["Bug_Confirmed", "bug_confirmed"]}) == {"tags": ["bug_confirmed"]}
    for bad in ([], ["not a tag"], [""], "bug_confirmed", None):
        with pytest.raises(ConditionError) as caught:
            validate_conditions("tag_added", {"tags": bad})
        assert caught.value.field == "conditions.tags"


# --- dispute --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fired"),
    [("999.99", False), ("1000.00", True), ("1000.01", True), ("250000", True)],
)
def test_dispute_fires_at_its_amount(amount, fired):
    facts = make_facts(dispute_amount=Decimal(amount), dispute_currency="USD")
    decision = fires("dispute", {"amount_gte": "1000.00"}, facts)
    assert (decision is not None) == fired
    if fired:
        assert decision.reason == f"billing dispute of {Decimal(amount):,.2f} USD (threshold 1,000.00 USD)"


@pytest.mark.parametrize(("currency", "fired"), [("JPY", False), ("EUR", False), ("USD", True)])
def test_dispute_compares_only_a_dispute_in_the_rules_currency(currency, fired):
    # A tester's 1,500 JPY (about 10 USD) passed a 1000.00 threshold: amounts in two currencies are not comparable.
    facts = make_facts(dispute_amount=Decimal("1500"), dispute_currency=currency)
    assert (fires("dispute", {"amount_gte": "1000.00", "currency": "USD"}, facts) is not None) == fired
    assert (fires("dispute", {"amount_gte": "1000.00"}, facts) is not None) == fired  # the default is USD


def test_a_dispute_rule_in_yen_fires_for_yen_only():
    rule_ = {"amount_gte": "100000", "currency": "jpy"}
    decision = fires("dispute", rule_, make_facts(dispute_amount=Decimal("150000"), dispute_currency="JPY"))
    assert decision is not None and decision.reason == "billing dispute of 150,000.00 JPY (threshold 100,000.00 JPY)"
    assert fires("dispute", rule_, make_facts(dispute_amount=Decimal("150000"), dispute_currency="USD")) is None


@pytest.mark.parametrize("bad", ["XXX", "usdollar", "", 840, None, ["USD"]])
def test_dispute_refuses_a_currency_that_is_no_iso_4217_code(bad):
    with pytest.raises(ConditionError) as caught:
        validate_conditions("dispute", {"amount_gte": "10", "currency": bad})
    assert caught.value.field == "conditions.currency"


def test_dispute_fires_only_for_the_dispute_just_recorded():
    assert fires("dispute", {"amount_gte": "1.00"}, make_facts()) is None


@pytest.mark.parametrize(
    ("given", "stored"), [("1000", "1000.00"), (1000, "1000.00"), (999.5, "999.50"), ("0.01", "0.01")]
)
def test_dispute_amounts_are_stored_as_decimal_strings(given, stored):
    assert validate_conditions("dispute", {"amount_gte": given}) == {"amount_gte": stored, "currency": "USD"}
    assert validate_conditions("dispute", {"amount_gte": given, "currency": " eur"})["currency"] == "EUR"


@pytest.mark.parametrize("bad", ["-5", "0", 0, "abc", "NaN", "Infinity", "1e12", True, None, [1], "1.001"])
def test_dispute_refuses_an_amount_that_is_no_money(bad):
    with pytest.raises(ConditionError) as caught:
        validate_conditions("dispute", {"amount_gte": bad})
    assert caught.value.field == "conditions.amount_gte"


# --- value: tenure --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "fired"),
    [
        (date(2021, 3, 4), True),  # NOW is 2026-03-04: the fifth anniversary, exactly
        (date(2021, 3, 5), False),  # one day short
        (date(2010, 1, 1), True),
        (None, False),  # no date: never matches
    ],
)
def test_value_customer_years_fires_on_the_anniversary(since, fired):
    assert NOW.date() == date(2026, 3, 4)
    decision = fires("value", {"customer_years_gte": 5}, make_facts(customer_since=since))
    assert (decision is not None) == fired
    if fired:
        assert f"since {since.isoformat()} (threshold 5)" in decision.reason


def test_tenure_counts_whole_years_and_leap_days():
    assert tenure_years(date(2020, 2, 29), date(2025, 2, 28)) == 4
    assert tenure_years(date(2020, 2, 29), date(2025, 3, 1)) == 5
    assert validate_conditions("value", {"customer_years_gte": 3}) == {"customer_years_gte": 3}
    with pytest.raises(ConditionError):
        validate_conditions("value", {"customer_years_gte": 0})


# --- actions --------------------------------------------------------------------------------------------------


def test_a_tag_rule_never_takes_part_in_supersession():
    winner = rule("sla_risk", {"breached": True}, id=1, kind="hierarchical", supersedes=("sla_risk-2",), action="tag")
    loser = rule("sla_risk", {"percent": 80}, id=2, kind="functional")
    decisions = [Decision(1, "sla_risk-1", "sla_risk", "breached"), Decision(2, "sla_risk-2", "sla_risk", "80")]
    assert [m.superseded for m in merge(decisions, [winner, loser])] == [(), ()]
