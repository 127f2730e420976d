"""Escalation triggers: which rules of the matrix fire for a ticket, and its triage class. Pure: no Django, no ORM,
no clock — a snapshot of the ticket (`TicketFacts`), the rules and `now` come in as arguments, decisions go out.

Event-driven evaluation (a ticket opened, a customer message, a resolution attempt) runs inside the transaction
that stored the event; time-based evaluation (`time_open`, `sla_risk`) runs in the sweep. "At most once per ticket
and escalation cycle" is the caller's database constraint: `evaluate` answers what fires *now*, every time it is
asked, so it stays a function of its arguments.

Decisions (the models/services author and the admin's dry run rely on these)
    * Boundaries: every count and threshold fires AT the limit (`>=`): 3 follow-ups with `{"count": 3}`, exactly
      4 business hours with `{"business_hours": 4}`, a timer at exactly 80 % with `{"percent": 80}`, a third
      ticket in exactly 30 days. Sentiment is the one strict comparison: `{"below": -0.5}` fires for -0.5001
      and not for -0.5 ("falls below", API.md).
    * Sentiment is `facts.sentiment`, the ticket's stored, recency-weighted customer sentiment — the number the
      API and the UI show, so the reason quotes what the agent sees. tickets/services.py keeps it as a running
      blend: the opening text's VADER score, then each customer message weighted 0.6 against 0.4 for everything
      before (`tickets.analysis.blend_sentiment`); the k-th message back weighs 0.6 * 0.4**k. The latest message
      leads and the thread moderates it: one outburst (-0.9) in a calm thread (0.3, 0.3) reads -0.42 and does not
      fire a -0.5 rule, a second one in a row does (-0.71); a polite "thanks" (+0.49) after three furious messages
      reads -0.07, not happy. No single message — first or last — decides alone.
      `conversation_sentiment(customer_sentiments)` recomputes the same fold from per-message scores (for the dry
      run, or a caller without the stored value); evaluate() itself never recomputes it.
    * Text triggers (`keyword`, `manager_request`) read `facts.text` only: the new customer text that caused this
      evaluation, so a keyword fires for the message that contains it, not again for every later event. Matching is
      `tickets.analysis.keyword_hits`'s: whole words, case-insensitive, punctuation ignored ("Refund!" matches
      "refund", "refundable" does not); a phrase matches its words in a row.
    * `value` fires when ANY given condition matches (API.md: "any of"). `"vip": false` is the same as leaving vip
      out (an unticked box), so a value rule needs at least one of vip true / plans / acv_gte / lifetime_value_gte.
    * `time_open` counts business time on the ticket's calendar since `facts.tier_since` (when it reached its
      current tier), compared to the microsecond so float noise never moves the boundary; with "tier" it only fires
      at that tier.
    * `sla_risk` `{"percent": p}`: a timer that is still counting — running, or already breached and not yet met —
      with `percent_used >= p`. A breached timer has used more than any percent, so a matrix with only an 80 % rule
      still escalates a ticket whose timer went from 70 % to breached between two sweeps. Paused ("pending on
      customer") and met timers are not at risk. `{"breached": true}`: a timer that breached and was not met since
      (a late met closes the risk). Exactly one of the two forms per rule (`"breached": false` counts as absent);
      "metrics" limits either form to those SLA metrics.
    * `repeat_contact` counts the requester's tickets about the same issue created in the closed window
      [now - days, now], this one included. "The same issue" (seed 001: "contacted support more than 3 times about
      the same issue") is the caller's read: the facts' `requester_ticket_times` hold only the requester's tickets
      of the same category or with a similar subject (escalation/snapshot.py, SAME_ISSUE).
    * `tag_added` reads `facts.added_tags` only (the tags the causing event added), `dispute` only
      `facts.dispute_amount` (the dispute just recorded, compared at or above `amount_gte` only when it is in the
      rule's `currency`, no exchange rates):
      both fire for their event and not again at later ones.
    * `value`'s `customer_years_gte` counts whole years since the account's `customer_since` (fires on the
      anniversary, `tenure_years`); an account without the date never matches it.
    * A rule's action (`Rule.action`) does not change when it fires: a `tag` or `flag` rule fires like any other
      and the caller applies its action; only `escalate` rules take part in supersession (`merge`).
    * Solved/closed tickets fire nothing. Inactive rules fire nothing. Decisions come in (position, id) order.
    * A stored rule whose conditions no longer validate never fires (it is logged, and `Rule.error` says why), so a
      bad row can't turn a customer's message into a 500. The API and admin validate on write with
      `validate_conditions`.

Performance (issue: a 50-rule matrix adds < 5 ms at p95 to an event; bench/triggers_bench.py, bench/TRIGGERS.md)
    Conditions are validated and compiled once per distinct (trigger, conditions) value into a small closure with
    the keywords already normalised; a Rule compiles itself on construction (a cached lookup when the matrix
    repeats). Per evaluation the customer text is normalised once; a keyword rule is then one C-level set test for
    all its single words plus a substring test per multi-word phrase (nothing compiled or normalised per call),
    and the matched keywords are only listed when something matched. Business time is computed once, and only if
    a time_open rule asks.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import attrgetter

from slas.clock import Calendar, business_minutes_between
from tickets import analysis
from tickets.currencies import ISO_4217

logger = logging.getLogger(__name__)

TRIGGERS = (
    "keyword", "sentiment", "value", "time_open", "sla_risk", "repeat_contact", "follow_ups", "failed_attempts",
    "back_and_forth", "manager_request", "category", "tag_added", "dispute",
)  # fmt: skip
# What a rule does when it fires (API.md): open (or reinforce) an escalation, add tags at once, or put the ticket in
# the "Needs review" queue with the reason.
ACTIONS = ("escalate", "tag", "flag")
# Evaluated by the sweep; the rest on events. sla_risk is also evaluated on events (a message can arrive after a
# breach the sweep has already marked), time_open only in the sweep (nothing about an event moves the clock).
TIME_TRIGGERS = frozenset({"time_open", "sla_risk"})
# The facts hold at most this many of the requester's recent tickets (a repeat_contact rule's threshold
# is below it), so a requester with thousands of tickets costs no more than one with a hundred.
REPEAT_SAMPLE = 101
_EVENT_TRIGGERS = frozenset(TRIGGERS) - {"time_open"}

PLANS = ("free", "standard", "business", "enterprise")
SLA_METRICS = (
    "first_response", "next_response", "resolution", "escalation_acknowledge", "escalation_first_response",
    "customer_update", "manager_response",
)  # fmt: skip
MAX_TIER = 3

_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")

# Error messages (tests and API error bodies use them).
UNKNOWN_TRIGGER = "unknown trigger {trigger!r}; expected one of: " + ", ".join(TRIGGERS)
NOT_AN_OBJECT = "conditions must be an object"
UNKNOWN_CONDITION = "unknown condition {key!r} for trigger {trigger!r} (allowed: {allowed})"
REQUIRED = "is required"
VALUE_NEEDS_ONE = 'needs at least one of "vip": true, "plans", "acv_gte", "lifetime_value_gte", "customer_years_gte"'
# A dispute above this is a typo (or an attack on the form), not a billing dispute.
MAX_DISPUTE_AMOUNT = Decimal("1000000000.00")
# The currency a dispute rule's threshold is in when the rule names none: the seeds' "billing dispute above $Y".
# A tenant has no currency of its own (nor have accounts, refunds or credits: their caps are bare amounts), so the
# rule states its currency and is stored with it; a dispute in another currency is never compared with it
# (1,500 JPY is about 10 USD, not above 1000.00 USD).
DEFAULT_DISPUTE_CURRENCY = "USD"
SLA_RISK_NEEDS_ONE = 'needs exactly one of "percent" (1-100) or "breached": true'


class ConditionError(ValueError):
    """Conditions that don't fit their trigger. `.field` names the culprit: "trigger", "conditions" or
    "conditions.<key>"; `.message` says what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- facts, rules, decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimerFact:
    metric: str
    status: str  # running | paused | met | breached
    percent_used: float  # business time used / target * 100 (the caller computes it at `now`)
    breached: bool


@dataclass(frozen=True)
class TicketFacts:
    """A snapshot of one ticket, taken by the caller in the transaction that evaluates it."""

    ticket_id: int
    status: str
    priority: str
    tier: int
    category: str
    channel: str
    sentiment: float  # the ticket's stored recency-weighted customer sentiment (-1..1); see the module docstring
    customer_sentiments: tuple[float, ...]  # per customer message, oldest first (conversation_sentiment folds them)
    follow_up_count: int
    exchange_count: int
    failed_attempts_low_tier: int  # failed resolution attempts at tier 0-1
    vip: bool
    plan: str | None
    annual_contract_value: float
    lifetime_value: float
    # created_at of the requester's most recent tickets (at most REPEAT_SAMPLE), this one included
    requester_ticket_times: tuple[datetime, ...]
    text: str  # the customer text that caused this evaluation; "" for sweeps and agent events
    tier_since: datetime  # when the ticket reached its current tier (created_at if it never changed)
    calendar: Calendar  # the ticket's business calendar (time_open)
    timers: tuple[TimerFact, ...]
    solved: bool  # solved or closed
    # When the account became a customer (value's customer_years_gte); None: unknown, never fires.
    customer_since: date | None = None
    # Tags added by the event that caused this evaluation (a person's PATCH, the ticket's intake, a tag rule):
    # tag_added reads these only, so a tag fires its rule when it is added, not at every later event.
    added_tags: tuple[str, ...] = ()
    # The dispute recorded by the event that caused this evaluation (POST /tickets/{id}/disputes/), else None.
    dispute_amount: Decimal | None = None
    dispute_currency: str = ""


@dataclass(frozen=True)
class Rule:
    """One row of the matrix, as far as evaluation is concerned. Compiles its conditions on construction (cached
    per distinct value); conditions that don't validate are kept in `.error` and the rule never fires."""

    id: int
    slug: str
    trigger: str
    conditions: Mapping
    position: int = 0
    active: bool = True
    # What supersession reads (see `merge`): the escalation the rule asks for, and the slugs it names.
    kind: str = ""
    target_tier: int | None = None
    by_skill_or_team: bool = False
    supersedes: tuple[str, ...] = ()
    action: str = "escalate"  # ACTIONS; only escalating rules take part in supersession (`merge`)
    _compiled: _Compiled = field(init=False, repr=False, compare=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", _compile(self.trigger, self.conditions))

    @property
    def error(self) -> ConditionError | None:
        return self._compiled.error


@dataclass(frozen=True)
class Decision:
    rule_id: int
    slug: str
    trigger: str
    reason: str  # why it fired, as a sentence for the audit trail and the escalation ("customer wrote 'lawsuit'")


# --- validation -------------------------------------------------------------------------------------------


def validate_conditions(trigger: str, conditions: Mapping) -> dict:
    """The conditions normalised for storage (numbers as numbers, slugs lower-case, duplicates dropped), or
    ConditionError naming the first offending field."""
    validator = _VALIDATORS.get(trigger) if isinstance(trigger, str) else None
    if validator is None:
        raise ConditionError("trigger", UNKNOWN_TRIGGER.format(trigger=trigger))
    if not isinstance(conditions, Mapping):
        raise ConditionError("conditions", NOT_AN_OBJECT)
    allowed = _ALLOWED_KEYS[trigger]
    for key in conditions:
        if key not in allowed:
            raise ConditionError(
                f"conditions.{key}",
                UNKNOWN_CONDITION.format(key=key, trigger=trigger, allowed=", ".join(allowed) or "none"),
            )
    return validator(conditions)


def is_slug(value: str) -> bool:
    return bool(_SLUG.match(value)) and len(value) <= 60


def _required(conditions: Mapping, key: str) -> object:
    if key not in conditions or conditions[key] is None:
        raise ConditionError(f"conditions.{key}", REQUIRED)
    return conditions[key]


def _number(value: object, key: str, *, minimum: float, maximum: float, above: bool = False, below: bool = False):
    """A finite JSON number within [minimum, maximum]; `above`/`below` make that end open. Booleans are not numbers."""
    name = f"conditions.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConditionError(name, f"must be a number, not {value!r}")
    too_low = value <= minimum if above else value < minimum
    too_high = value >= maximum if below else value > maximum
    if too_low or too_high:
        low, high = "(" if above else "[", ")" if below else "]"
        raise ConditionError(name, f"must be in {low}{_fmt(minimum)}, {_fmt(maximum)}{high}, not {_fmt(value)}")
    return value


def _integer(value: object, key: str, *, minimum: int, maximum: int | None = None) -> int:
    """A whole number (3 or 3.0, which JSON forms sometimes send) within [minimum, maximum]."""
    name = f"conditions.{key}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConditionError(name, f"must be a whole number, not {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConditionError(name, f"must be {bound}, not {value}")
    return value


def _list(value: object, key: str, *, allow_empty: bool = False) -> list:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ConditionError(f"conditions.{key}", f"must be a list, not {value!r}")
    if not value and not allow_empty:
        raise ConditionError(f"conditions.{key}", "must not be empty")
    return list(value)


def _phrases(value: object, key: str, *, allow_empty: bool = False) -> list[str]:
    """Words or phrases to look for: non-empty strings with at least one word character, duplicates (by their
    normalised form) dropped, first spelling kept."""
    phrases, seen = [], set()
    for i, item in enumerate(_list(value, key, allow_empty=allow_empty)):
        if not isinstance(item, str) or not item.strip():
            raise ConditionError(f"conditions.{key}", f"item {i} must be a non-empty string, not {item!r}")
        words = _words(item)
        if not words:
            raise ConditionError(f"conditions.{key}", f"item {i} ({item!r}) has no letters or digits to match")
        if words not in seen:
            seen.add(words)
            phrases.append(item.strip())
    return phrases


def _choices(value: object, key: str, choices: Sequence[str]) -> list[str]:
    picked: list[str] = []
    for i, item in enumerate(_list(value, key)):
        if item not in choices:
            raise ConditionError(f"conditions.{key}", f"item {i} ({item!r}) is not one of: {', '.join(choices)}")
        if item not in picked:
            picked.append(item)
    return picked


def _validate_keyword(c: Mapping) -> dict:
    return {"keywords": _phrases(_required(c, "keywords"), "keywords")}


def _validate_sentiment(c: Mapping) -> dict:
    return {"below": float(_number(_required(c, "below"), "below", minimum=-1.0, maximum=1.0, below=True))}


def _validate_value(c: Mapping) -> dict:
    out: dict = {}
    if c.get("vip") is not None:
        if not isinstance(c["vip"], bool):
            raise ConditionError("conditions.vip", f"must be true or false, not {c['vip']!r}")
        out["vip"] = c["vip"]
    if c.get("plans") is not None:
        out["plans"] = _choices(c["plans"], "plans", PLANS)
    for key in ("acv_gte", "lifetime_value_gte"):
        if c.get(key) is not None:
            out[key] = _number(c[key], key, minimum=0, maximum=math.inf)
    if c.get("customer_years_gte") is not None:
        out["customer_years_gte"] = _integer(c["customer_years_gte"], "customer_years_gte", minimum=1, maximum=200)
    if not (out.get("vip") or {"plans", "acv_gte", "lifetime_value_gte", "customer_years_gte"} & out.keys()):
        raise ConditionError("conditions", VALUE_NEEDS_ONE)
    return out


def _validate_time_open(c: Mapping) -> dict:
    # A year of business hours is the most that means anything; more is a typo that would make the sweep
    # compute deadlines centuries away.
    hours = _number(_required(c, "business_hours"), "business_hours", minimum=0, maximum=8760, above=True)
    out: dict = {"business_hours": hours}
    if c.get("tier") is not None:
        out["tier"] = _integer(c["tier"], "tier", minimum=0, maximum=MAX_TIER)
    return out


def _validate_sla_risk(c: Mapping) -> dict:
    has_percent = c.get("percent") is not None
    breached = c.get("breached")
    if breached is not None and not isinstance(breached, bool):
        raise ConditionError("conditions.breached", f"must be true or false, not {breached!r}")
    # "breached": false is the same as leaving it out (an unticked box), like "vip": false.
    if has_percent == (breached is True):
        raise ConditionError("conditions", SLA_RISK_NEEDS_ONE)
    out: dict = (
        {"percent": _number(c["percent"], "percent", minimum=1, maximum=100)} if has_percent else {"breached": True}
    )
    if c.get("metrics") is not None:
        out["metrics"] = _choices(c["metrics"], "metrics", SLA_METRICS)
    return out


def _validate_repeat_contact(c: Mapping) -> dict:
    return {
        "tickets": _integer(_required(c, "tickets"), "tickets", minimum=2, maximum=REPEAT_SAMPLE - 1),
        "days": _integer(_required(c, "days"), "days", minimum=1, maximum=365),
    }


def _validate_count(minimum: int) -> Callable[[Mapping], dict]:
    def validate(c: Mapping) -> dict:
        return {"count": _integer(_required(c, "count"), "count", minimum=minimum)}

    return validate


def _validate_manager_request(c: Mapping) -> dict:
    if c.get("phrases") is None:
        return {}
    return {"phrases": _phrases(c["phrases"], "phrases", allow_empty=True)}


def _validate_category(c: Mapping) -> dict:
    categories: list[str] = []
    for i, item in enumerate(_list(_required(c, "categories"), "categories")):
        slug = item.strip().lower() if isinstance(item, str) else None
        if not slug or not _SLUG.match(slug):
            raise ConditionError("conditions.categories", f"item {i} ({item!r}) is not a slug like 'data_loss'")
        if slug not in categories:
            categories.append(slug)
    return {"categories": categories}


def tag_slugs(value: object, key: str = "tags") -> list[str]:
    """A non-empty list of tag slugs, lower-cased, duplicates dropped (a rule's tags and tag_added's)."""
    tags: list[str] = []
    for i, item in enumerate(_list(value, key)):
        slug = item.strip().lower() if isinstance(item, str) else None
        if not slug or not _SLUG.match(slug) or len(slug) > 50:
            raise ConditionError(f"conditions.{key}", f"item {i} ({item!r}) is not a tag like 'bug_confirmed'")
        if slug not in tags:
            tags.append(slug)
    return tags


def _validate_tag_added(c: Mapping) -> dict:
    return {"tags": tag_slugs(_required(c, "tags"))}


def money(value: object, name: str, *, maximum: Decimal = MAX_DISPUTE_AMOUNT) -> Decimal:
    """A positive amount with at most two decimals, up to `maximum`, from a decimal string or a JSON number.
    Raises ConditionError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ConditionError(name, f'must be an amount like "1000.00", not {value!r}')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConditionError(name, f'must be an amount like "1000.00", not {value!r}') from None
    if not amount.is_finite() or amount <= 0:
        raise ConditionError(name, f"must be above 0, not {value!r}")
    if amount > maximum:
        raise ConditionError(name, f"must be at most {maximum:,.2f}, not {value!r}")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ConditionError(name, f"has more than two decimals: {value!r}")
    return amount.quantize(Decimal("0.01"))


def currency_code(value: object, name: str) -> str:
    """An active ISO 4217 code, upper-cased ("usd" -> "USD"). Raises ConditionError naming `name`."""
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in ISO_4217:
        raise ConditionError(name, f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return code


def _validate_dispute(c: Mapping) -> dict:
    # Stored as a decimal string: a JSON float would turn 1000.10 into 1000.1000000000000227. The currency is
    # always stored, so the rule says what its threshold is in.
    return {
        "amount_gte": str(money(_required(c, "amount_gte"), "conditions.amount_gte")),
        "currency": currency_code(c.get("currency", DEFAULT_DISPUTE_CURRENCY), "conditions.currency"),
    }


_VALIDATORS: dict[str, Callable[[Mapping], dict]] = {
    "keyword": _validate_keyword,
    "sentiment": _validate_sentiment,
    "value": _validate_value,
    "time_open": _validate_time_open,
    "sla_risk": _validate_sla_risk,
    "repeat_contact": _validate_repeat_contact,
    "follow_ups": _validate_count(1),
    "failed_attempts": _validate_count(1),
    "back_and_forth": _validate_count(2),
    "manager_request": _validate_manager_request,
    "category": _validate_category,
    "tag_added": _validate_tag_added,
    "dispute": _validate_dispute,
}
# --- what each trigger's conditions hold, for the people who write them ------------------------------------------
# The admin builds one form field per key from these (escalation/admin_forms.py), in this order, and shows each
# trigger's doc next to its fields. The validators above stay the only judges of the values.


@dataclass(frozen=True)
class ConditionKey:
    """One key a trigger's conditions may hold. `kind` says how a form asks for it:
    phrases: a list of words or phrases; slugs: a list of slugs; choices: several of `choices`;
    number: a number; whole: a whole number (one of `choices` when given); flag: true, or left out;
    money: an amount; currency: one ISO 4217 code of `choices`."""

    key: str
    kind: str
    label: str
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriggerDoc:
    fires_when: str  # API.md's trigger table, "fires when"
    example: Mapping  # API.md's conditions example (tests validate each one)
    seeds: str  # what the seeds say about the trigger


_COUNT = ConditionKey("count", "whole", "Count", "fires at this count")
CONDITION_KEYS: dict[str, tuple[ConditionKey, ...]] = {
    "keyword": (
        ConditionKey("keywords", "phrases", "Keywords", "whole words or phrases, any case: 'refund' matches "
                     "'Refund!' but not 'refundable'; a phrase matches its words in a row"),
    ),
    "sentiment": (
        ConditionKey("below", "number", "Below", "fires when the ticket's customer sentiment (-1 angry .. 1 happy) "
                     "falls below this, strictly"),
    ),
    "value": (
        ConditionKey("vip", "flag", "VIP account", "the account is marked VIP"),
        ConditionKey("plans", "choices", "Plans", "the account is on one of these plans", PLANS),
        ConditionKey("acv_gte", "number", "Annual contract value at least", "in the account's currency"),
        ConditionKey("lifetime_value_gte", "number", "Lifetime value at least", "in the account's currency"),
        ConditionKey("customer_years_gte", "whole", "Customer for at least (years)", "the account's tenure, from "
                     "its customer_since date"),
    ),
    "time_open": (
        ConditionKey("business_hours", "number", "Business hours", "open this long (on the ticket's calendar) "
                     "without resolution; fractions allowed"),
        ConditionKey("tier", "whole", "At tier", "only while the ticket is at this tier (empty: any tier)",
                     tuple(str(t) for t in range(MAX_TIER + 1))),
    ),
    "sla_risk": (
        ConditionKey("percent", "number", "Percent used", "a running clock has used this share of its target; use "
                     "one of the policies' warning thresholds"),
        ConditionKey("breached", "flag", "Breached", "instead of a percent: a clock has breached"),
        ConditionKey("metrics", "choices", "Clocks", "only these clocks (none ticked: every clock)", SLA_METRICS),
    ),
    "repeat_contact": (
        ConditionKey("tickets", "whole", "Tickets", "the requester opened this many tickets about the issue, this "
                     "one included"),
        ConditionKey("days", "whole", "Within days", "in this many days"),
    ),
    "follow_ups": (_COUNT,),
    "failed_attempts": (_COUNT,),
    "back_and_forth": (_COUNT,),
    "manager_request": (
        ConditionKey("phrases", "phrases", "More phrases", "on top of the built-in ones: "
                     + ", ".join(f"'{p}'" for p in analysis.MANAGER_PHRASES)),
    ),
    "category": (
        ConditionKey("categories", "slugs", "Categories", "the ticket's category is one of these slugs"),
    ),
    "tag_added": (
        ConditionKey("tags", "slugs", "Tags", "a person or a rule adds one of these tags"),
    ),
    "dispute": (
        ConditionKey("amount_gte", "money", "Amount at least", "a billing dispute of at least this amount is "
                     "recorded (POST /tickets/{id}/disputes/), in the rule's currency"),
        ConditionKey("currency", "currency", "Currency", "ISO 4217; only disputes in this currency are compared "
                     f"(empty: {DEFAULT_DISPUTE_CURRENCY})", tuple(sorted(ISO_4217))),
    ),
}  # fmt: skip
_ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    trigger: tuple(key.key for key in keys) for trigger, keys in CONDITION_KEYS.items()
}
_SEED_001 = "seed 001, Define Clear Triggers: "
TRIGGER_DOCS: dict[str, TriggerDoc] = {
    "keyword": TriggerDoc(
        "a customer message contains one (word match, case-insensitive)",
        {"keywords": ["refund", "lawsuit"]},
        "seed 003: escalation is triggered by rules such as a keyword match like 'cancel' or 'lawsuit'; start with "
        "a keyword trigger (refund, legal, cancel, urgent)",
    ),
    "sentiment": TriggerDoc(
        "the ticket's customer sentiment falls below",
        {"below": -0.5},
        "seed 000: escalate if a sentiment score drops below 3/10 (about -0.4 on this scale)",
    ),
    "value": TriggerDoc(
        "the account matches any of the conditions",
        {"vip": True, "plans": ["enterprise"], "acv_gte": 100000},
        _SEED_001 + "customer is on an enterprise plan, has revenue above a certain threshold",
    ),
    "time_open": TriggerDoc(
        "open that long at that tier without resolution",
        {"business_hours": 4, "tier": 1},
        "seed 003: when a ticket sits unanswered for four business hours, it auto-escalates",
    ),
    # API.md's table says 80; a percent must be one of the policies' warning thresholds (escalation/validation.py)
    # and the default policies warn at 75 and 90, so the example is the default matrix's 75.
    "sla_risk": TriggerDoc(
        "a running SLA clock has used that share of its target (or breached)",
        {"percent": 75},
        "seed 000: automated systems should flag tickets nearing an SLA deadline before any breach occurs",
    ),
    "repeat_contact": TriggerDoc(
        "the requester opened that many tickets about the same issue in that window",
        {"tickets": 3, "days": 30},
        _SEED_001 + "customer has contacted support more than 3 times about the same issue in 30 days",
    ),
    "follow_ups": TriggerDoc(
        "that many customer messages without an agent reply",
        {"count": 3},
        "seed 000: three or more follow-up messages without resolution call for a live conversation",
    ),
    "failed_attempts": TriggerDoc(
        "that many failed resolution attempts at tier 0-1",
        {"count": 2},
        "seed 000: if Tier 0 (self-service) and Tier 1 fail to resolve an issue after two attempts, escalate",
    ),
    "back_and_forth": TriggerDoc(
        "that many alternating customer/agent exchanges",
        {"count": 6},
        "seed 000: track the number of back-and-forth interactions and escalate when a threshold is reached",
    ),
    "manager_request": TriggerDoc(
        "the customer asks for a manager or supervisor (built-in phrases)",
        {},
        "seed 003: escalate when the customer explicitly asks for a manager",
    ),
    "category": TriggerDoc(
        "the ticket's category matches",
        {"categories": ["legal", "security", "data_loss"]},
        _SEED_001 + "data loss or security concern reported; seed 004: anything touching legal or compliance",
    ),
    "tag_added": TriggerDoc(
        "a person or a rule adds one of the tags",
        {"tags": ["bug_confirmed"]},
        "seed 003: a tag such as 'bug confirmed by reproduction' routes the ticket to engineering",
    ),
    "dispute": TriggerDoc(
        "a billing dispute at or above the amount, in the rule's currency, is recorded",
        {"amount_gte": "1000.00", "currency": "USD"},
        "seed 003: a billing dispute above a set amount goes to the finance or billing team",
    ),
}


# --- text -------------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    # The very normalisation keyword_hits applies (lower case, runs of [a-z0-9']), as a tuple of words.
    return tuple(analysis._normalise(text).split())


class _Text:
    """The customer text of one evaluation, normalised once (keyword_hits' normalisation). A single word is in the
    text iff it is in the set of its words; a phrase iff " phrase " is in " the text " — keyword_hits' own test."""

    __slots__ = ("padded", "wordset")

    def __init__(self, text: str) -> None:
        normalised = analysis._normalise(text) if text else ""
        self.wordset = frozenset(normalised.split())
        self.padded = f" {normalised} "

    def has(self, words: tuple[str, ...]) -> bool:
        return words[0] in self.wordset if len(words) == 1 else f" {' '.join(words)} " in self.padded


class _Needles:
    """A list of phrases compiled for lookup: single words are tested all at once (one C-level set test), phrases
    by a substring test each; the list is walked one by one (for the reason, in its configured order) only when
    something matched."""

    __slots__ = ("phrases", "singles", "span_keys", "spans")

    def __init__(self, phrases: Sequence[str]) -> None:
        compiled, seen = [], set()
        for phrase in phrases:
            words = _words(phrase)
            # A phrase without words never matches; one listed twice (an extra phrase that is also built in) is
            # reported once.
            if words and words not in seen:
                seen.add(words)
                compiled.append((phrase, words))
        self.phrases = tuple(compiled)
        self.singles = frozenset(words[0] for words in seen if len(words) == 1)
        multi = [words for words in seen if len(words) > 1]
        self.spans = tuple(f" {' '.join(words)} " for words in multi)
        # A phrase can only occur if each of its words does; its longest word (likeliest the rarest: "supervisor",
        # not "to") stands for it, so most texts are ruled out for all phrases by one set test.
        self.span_keys = frozenset(max(reversed(words), key=len) for words in multi)

    def hits(self, text: _Text) -> list[str]:
        wordset = text.wordset
        if not wordset:
            return []
        if self.singles.isdisjoint(wordset):
            if self.span_keys.isdisjoint(wordset):
                return []
            padded = text.padded
            if not any(span in padded for span in self.spans):
                return []
        return [phrase for phrase, words in self.phrases if text.has(words)]


_MANAGER_NEEDLES = _Needles(analysis.MANAGER_PHRASES)


# --- evaluation -------------------------------------------------------------------------------------------


class _Context:
    """One evaluation: the facts, `now`, and what more than one rule may need, computed at most once."""

    __slots__ = ("_business_minutes", "_text", "facts", "now")

    def __init__(self, facts: TicketFacts, now: datetime) -> None:
        self.facts = facts
        self.now = now
        self._text: _Text | None = None
        self._business_minutes: float | None = None

    @property
    def text(self) -> _Text:
        if self._text is None:
            self._text = _Text(self.facts.text)
        return self._text

    @property
    def business_minutes_at_tier(self) -> float:
        if self._business_minutes is None:
            facts = self.facts
            self._business_minutes = business_minutes_between(facts.tier_since, self.now, facts.calendar)
        return self._business_minutes


Check = Callable[[_Context], "str | None"]


@dataclass(frozen=True)
class _Compiled:
    check: Check | None
    error: ConditionError | None = None


def triggers_evaluated(rules: Sequence[Rule], *, time_based: bool) -> frozenset[str]:
    """The triggers evaluate() will look at for these rules: the caller gathers only the facts they read."""
    wanted = TIME_TRIGGERS if time_based else _EVENT_TRIGGERS
    return frozenset(rule.trigger for rule in rules if rule.active and rule.trigger in wanted)


def evaluate(facts: TicketFacts, rules: Sequence[Rule], now: datetime, *, time_based: bool) -> list[Decision]:
    """The active rules that fire for this ticket at `now`, in (position, id) order, each with its reason.

    time_based=False (an event: the ticket opened, a message, an attempt): every trigger but time_open.
    time_based=True (the sweep): only TIME_TRIGGERS. A solved or closed ticket fires nothing."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if facts.solved:
        return []
    wanted = TIME_TRIGGERS if time_based else _EVENT_TRIGGERS
    context = _Context(facts, now)
    decisions = []
    for rule in sorted([r for r in rules if r.active and r.trigger in wanted], key=_ORDER):
        check = rule._compiled.check
        if check is None:
            logger.warning("escalation rule %s (%s) skipped: %s", rule.id, rule.slug, rule._compiled.error)
            continue
        reason = check(context)
        if reason is not None:
            decisions.append(Decision(rule_id=rule.id, slug=rule.slug, trigger=rule.trigger, reason=reason))
    return decisions


_ORDER = attrgetter("position", "id")


# --- one escalation per cause ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """The rules that fired together for one cause: `lead` opens (or reinforces) the escalation, `superseded`
    join it — their firings point to it, so it lists every rule that fired and why."""

    lead: Decision
    superseded: tuple[Decision, ...] = ()


def supersedes(winner: Rule, loser: Rule) -> bool:
    """Whether `winner`, fired in the same evaluation as `loser`, makes `loser`'s own escalation redundant:
    * the rule names it (`supersedes`: slugs);
    * breached supersedes at-risk: an sla_risk `{"breached": true}` rule over an sla_risk percent rule;
    * a hierarchical escalation supersedes a functional one to the same level: a hierarchical rule aimed at tier
      T (or above) over a functional rule that only asks for tier T (no skill, no team — those are another
      cause: the ticket needs a specialist, not more seniority)."""
    if winner.id == loser.id:
        return False
    if loser.slug in winner.supersedes:
        return True
    breached_over_risk = bool(winner.conditions.get("breached")) and not loser.conditions.get("breached")
    if winner.trigger == loser.trigger == "sla_risk" and breached_over_risk:
        return True
    return (
        winner.kind == "hierarchical"
        and loser.kind == "functional"
        and not loser.by_skill_or_team
        and winner.target_tier is not None
        and loser.target_tier is not None
        and winner.target_tier >= loser.target_tier
    )


def merge(decisions: Sequence[Decision], rules: Sequence[Rule]) -> list[Merge]:
    """The decisions of one evaluation grouped by cause, in decision order of their leads. A superseded decision
    joins the first decision (in decision order) that supersedes it, followed up to one that nothing supersedes.
    Rules that name each other in a cycle: the edge that would close the cycle is ignored, and the one first in
    decision order leads (losers are settled from the last one up, so an earlier rule's claim is never refused)."""
    by_id = {rule.id: rule for rule in rules if rule.action == "escalate"}  # tagging and flagging open nothing
    seen: set[int] = set()
    decisions = [d for d in decisions if not (d.rule_id in seen or seen.add(d.rule_id))]  # a rule once
    fired = [d for d in decisions if d.rule_id in by_id]
    winner_of: dict[int, Decision] = {}
    for loser in reversed(fired):
        for winner in fired:
            if supersedes(by_id[winner.rule_id], by_id[loser.rule_id]) and _lead(winner, winner_of) is not loser:
                winner_of[loser.rule_id] = winner
                break
    groups: dict[int, list[Decision]] = {d.rule_id: [d] for d in decisions if d.rule_id not in winner_of}
    for decision in decisions:
        if decision.rule_id in winner_of:
            groups[_lead(decision, winner_of).rule_id].append(decision)
    return [Merge(lead=members[0], superseded=tuple(members[1:])) for members in groups.values()]


def _lead(decision: Decision, winner_of: Mapping[int, Decision]) -> Decision:
    while decision.rule_id in winner_of:
        decision = winner_of[decision.rule_id]
    return decision


def conversation_sentiment(scores: Sequence[float], *, weight: float = 0.6) -> float:
    """The recency-weighted sentiment of a conversation from its per-customer-message scores (oldest first): the
    same running blend tickets/services.py stores on the ticket, so it equals `facts.sentiment` for the same thread.
    0.0 for no messages."""
    if not scores:
        return 0.0
    blended = round(max(-1.0, min(1.0, scores[0])), 4)
    for score in scores[1:]:
        blended = analysis.blend_sentiment(blended, score, weight=weight)
    return blended


# --- compiling rules into checks --------------------------------------------------------------------------


_COMPILED: dict[tuple, _Compiled] = {}
_COMPILED_MAX = 4096


def _compile(trigger: str, conditions: Mapping) -> _Compiled:
    """Compiled once per distinct (trigger, conditions) value: services build Rule objects from rows on every
    event, and the matrix rarely changes. (A plain dict, not lru_cache: the conditions themselves are unhashable.)"""
    try:
        key = (trigger, _cache_key(conditions))
        compiled = _COMPILED.get(key)
    except TypeError:  # something unhashable in there; validation will name it
        return _compile_uncached(trigger, conditions)
    if compiled is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()  # idempotent entries: at worst a rule is compiled again
        compiled = _COMPILED[key] = _compile_uncached(trigger, conditions)
    return compiled


def _compile_uncached(trigger: str, conditions: Mapping) -> _Compiled:
    try:
        normalised = validate_conditions(trigger, conditions)
    except ConditionError as error:
        return _Compiled(check=None, error=error)
    return _Compiled(check=_COMPILERS[trigger](normalised))


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _cache_key(conditions: Mapping) -> object:
    """The identity of a conditions value. The usual shape (a dict of scalars and lists of scalars, as loaded from
    JSON) is keyed by its repr, which is exact on those types (True vs 1, 1.0 vs 1, quoted strings) and several
    times cheaper than freezing; anything else is frozen recursively."""
    if type(conditions) is dict and all(type(key) is str for key in conditions):
        for value in conditions.values():
            kind = type(value)
            if kind is list:
                if not all(type(item) in _JSON_SCALARS for item in value):
                    return _freeze(conditions)
            elif kind not in _JSON_SCALARS:
                return _freeze(conditions)
        return repr(conditions)
    return _freeze(conditions)


def _freeze(value: object) -> object:
    """A hashable identity for JSON-ish conditions. Types are kept, so {"count": true} and {"count": 1} (equal and
    equally hashed in Python) are not the same cache entry."""
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_freeze(v) for v in value))
    return (type(value).__name__, value)


def _compile_keyword(c: dict) -> Check:
    needles = _Needles(c["keywords"])

    def check(ctx: _Context) -> str | None:
        if not ctx.facts.text:
            return None
        hits = needles.hits(ctx.text)
        return f"customer wrote {_quoted(hits)}" if hits else None

    return check


def _compile_sentiment(c: dict) -> Check:
    below = c["below"]

    def check(ctx: _Context) -> str | None:
        score = ctx.facts.sentiment
        return f"sentiment {_fmt(score)} below {_fmt(below)}" if score < below else None

    return check


def _compile_value(c: dict) -> Check:
    vip = c.get("vip", False)
    plans = frozenset(c.get("plans", ()))
    acv_gte = c.get("acv_gte")
    ltv_gte = c.get("lifetime_value_gte")
    years_gte = c.get("customer_years_gte")

    def check(ctx: _Context) -> str | None:
        facts = ctx.facts
        matched = []
        if vip and facts.vip:
            matched.append("VIP account")
        if facts.plan in plans:
            matched.append(f"plan {facts.plan}")
        if acv_gte is not None and facts.annual_contract_value >= acv_gte:
            matched.append(f"annual contract value {_money(facts.annual_contract_value)} (threshold {_money(acv_gte)})")
        if ltv_gte is not None and facts.lifetime_value >= ltv_gte:
            matched.append(f"lifetime value {_money(facts.lifetime_value)} (threshold {_money(ltv_gte)})")
        if years_gte is not None and facts.customer_since is not None:
            years = tenure_years(facts.customer_since, ctx.now.date())
            if years >= years_gte:
                matched.append(
                    f"customer for {years} years since {facts.customer_since.isoformat()} (threshold {years_gte})"
                )
        return "account: " + "; ".join(matched) if matched else None

    return check


def _compile_time_open(c: dict) -> Check:
    hours = c["business_hours"]
    tier = c.get("tier")
    limit_us = round(hours * 3_600_000_000)

    def check(ctx: _Context) -> str | None:
        if tier is not None and ctx.facts.tier != tier:
            return None
        minutes = ctx.business_minutes_at_tier
        # Compared in whole microseconds: 0.1 h is 6.000000000000001 minutes in floats, and must fire at 6.
        if round(minutes * 60_000_000) < limit_us:
            return None
        return f"open {minutes / 60:.1f} business hours at tier {ctx.facts.tier} (limit {_fmt(hours)})"

    return check


def _compile_sla_risk(c: dict) -> Check:
    metrics = frozenset(c["metrics"]) if "metrics" in c else None
    percent = c.get("percent")

    def at_risk(timer: TimerFact) -> str | None:
        if percent is None:
            if (timer.breached or timer.status == "breached") and timer.status != "met":
                return f"{timer.metric} SLA breached"
            return None
        if timer.status in ("running", "breached") and timer.percent_used >= percent:
            return f"{timer.metric} SLA at {timer.percent_used:.0f}% of its target (limit {_fmt(percent)}%)"
        return None

    def check(ctx: _Context) -> str | None:
        reasons = [
            reason
            for timer in ctx.facts.timers
            if (metrics is None or timer.metric in metrics) and (reason := at_risk(timer)) is not None
        ]
        return "; ".join(reasons) if reasons else None

    return check


def _compile_repeat_contact(c: dict) -> Check:
    tickets, days = c["tickets"], c["days"]
    window = timedelta(days=days)

    def check(ctx: _Context) -> str | None:
        now = ctx.now
        since = now - window
        count = sum(1 for created in ctx.facts.requester_ticket_times if since <= created <= now)
        if count < tickets:
            return None
        # The facts carry a sample of the most recent tickets, enough for any threshold a rule may set.
        shown = f"at least {count}" if count >= REPEAT_SAMPLE else str(count)
        return f"requester opened {shown} tickets about the same issue in the last {days} days (limit {tickets})"

    return check


def tenure_years(since: date, today: date) -> int:
    """Whole years completed on `today` since `since`: 5 on the fifth anniversary, 4 the day before (29 February
    counts its anniversary on 1 March in common years)."""
    years = today.year - since.year
    return years - 1 if (today.month, today.day) < (since.month, since.day) else years


def _compile_tag_added(c: dict) -> Check:
    tags = c["tags"]
    wanted = frozenset(tags)

    def check(ctx: _Context) -> str | None:
        added = ctx.facts.added_tags
        if not added or wanted.isdisjoint(added):
            return None
        return f"tag {_quoted([tag for tag in tags if tag in added])} added"

    return check


def _compile_dispute(c: dict) -> Check:
    threshold = Decimal(c["amount_gte"])
    wanted = c["currency"]

    def check(ctx: _Context) -> str | None:
        amount = ctx.facts.dispute_amount
        # No exchange rates: a dispute in another currency is not comparable, so it never fires the rule.
        if amount is None or ctx.facts.dispute_currency != wanted or amount < threshold:
            return None
        return f"billing dispute of {amount:,.2f} {wanted} (threshold {threshold:,.2f} {wanted})"

    return check


def _compile_count(attribute: str, sentence: str) -> Callable[[dict], Check]:
    def compile_(c: dict) -> Check:
        count = c["count"]

        def check(ctx: _Context) -> str | None:
            value = getattr(ctx.facts, attribute)
            return sentence.format(value=value, count=count) if value >= count else None

        return check

    return compile_


def _compile_manager_request(c: dict) -> Check:
    extra = c.get("phrases", ())
    needles = _Needles(analysis.MANAGER_PHRASES + tuple(extra)) if extra else _MANAGER_NEEDLES

    def check(ctx: _Context) -> str | None:
        if not ctx.facts.text:
            return None
        hits = needles.hits(ctx.text)
        return f"customer asked for a manager ({_quoted(hits)})" if hits else None

    return check


def _compile_category(c: dict) -> Check:
    categories = frozenset(c["categories"])

    def check(ctx: _Context) -> str | None:
        category = (ctx.facts.category or "").lower()
        return f"category {category!r}" if category in categories else None

    return check


_COMPILERS: dict[str, Callable[[dict], Check]] = {
    "keyword": _compile_keyword,
    "sentiment": _compile_sentiment,
    "value": _compile_value,
    "time_open": _compile_time_open,
    "sla_risk": _compile_sla_risk,
    "repeat_contact": _compile_repeat_contact,
    "follow_ups": _compile_count("follow_up_count", "{value} customer messages without an agent reply (limit {count})"),
    "failed_attempts": _compile_count(
        "failed_attempts_low_tier", "{value} failed resolution attempts at tier 0-1 (limit {count})"
    ),
    "back_and_forth": _compile_count("exchange_count", "{value} back-and-forth exchanges (limit {count})"),
    "manager_request": _compile_manager_request,
    "category": _compile_category,
    "tag_added": _compile_tag_added,
    "dispute": _compile_dispute,
}


def _fmt(number: float) -> str:
    """-0.5 -> "-0.5", 4.0 -> "4", -0.72341 -> "-0.7234": short, and never "-0.50" next to a limit of -0.5."""
    if isinstance(number, float) and math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return f"{number:.4f}".rstrip("0").rstrip(".") if isinstance(number, float) else str(number)


def _money(amount: float) -> str:
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def _quoted(items: Sequence[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


# --- triage -----------------------------------------------------------------------------------------------

HIGH_RISK_CATEGORIES = frozenset({"legal", "security", "data_loss"})
SENSITIVE_CATEGORIES = frozenset({"billing"})
# Words of a money or contract action a bot must not take unapproved (whole words, like keyword rules).
SENSITIVE_KEYWORDS = (
    "refund", "refunds", "reimburse", "cancel", "cancellation", "chargeback", "billing", "billed", "invoice",
    "charged", "overcharged",
)  # fmt: skip
HUMAN_FIRST_SENTIMENT = -0.6
HUMAN_FIRST_VIP_SENTIMENT = -0.3
GUARDRAILED_SENTIMENT = -0.2
_SENSITIVE_NEEDLES = _Needles(SENSITIVE_KEYWORDS)


@dataclass(frozen=True)
class Triage:
    level: str  # "autonomous" | "guardrailed" | "human_first"
    reasons: tuple[str, ...]


def triage(facts: TicketFacts) -> Triage:
    """Who may work this ticket: a bot alone, a bot with a human approving sensitive actions, or a human first.

    The first level with any matching fact wins; `reasons` lists every matching fact of that level.

    | level        | any of (sentiment comparisons are strict)                                               |
    |--------------|-----------------------------------------------------------------------------------------|
    | human_first  | category legal, security or data_loss; the text asks for a manager; VIP and sentiment    |
    |              | < -0.3; an SLA timer breached; sentiment < -0.6                                         |
    | guardrailed  | billing/refund/cancel words in the text (SENSITIVE_KEYWORDS) or category billing;       |
    |              | plan enterprise; one or more failed attempts at tier 0-1; sentiment < -0.2              |
    | autonomous   | none of the above                                                                       |

    Text facts read `facts.text`. evaluate() is given only the new message, but triage is a property of the whole
    ticket: pass the customer's whole thread (e.g. `dataclasses.replace(facts, text=thread)`) so a manager request
    three messages ago still counts. Solved tickets are triaged like any other (the class explains the ticket)."""
    text = _Text(facts.text)
    category = (facts.category or "").lower()
    breached = [t.metric for t in facts.timers if t.breached or t.status == "breached"]
    manager_hits = _MANAGER_NEEDLES.hits(text)

    human_first = []
    if category in HIGH_RISK_CATEGORIES:
        human_first.append(f"category {category!r} is high risk")
    if manager_hits:
        human_first.append(f"customer asked for a manager ({_quoted(manager_hits)})")
    if facts.vip and facts.sentiment < HUMAN_FIRST_VIP_SENTIMENT:
        human_first.append(f"VIP account with sentiment {_fmt(facts.sentiment)} (below {HUMAN_FIRST_VIP_SENTIMENT})")
    if breached:
        human_first.append(f"SLA breached: {', '.join(breached)}")
    if facts.sentiment < HUMAN_FIRST_SENTIMENT:
        human_first.append(f"sentiment {_fmt(facts.sentiment)} below {HUMAN_FIRST_SENTIMENT}")
    if human_first:
        return Triage("human_first", tuple(human_first))

    guardrailed = []
    sensitive_hits = _SENSITIVE_NEEDLES.hits(text)
    if sensitive_hits:
        guardrailed.append(f"customer wrote {_quoted(sensitive_hits)} (a sensitive action is likely)")
    if category in SENSITIVE_CATEGORIES:
        guardrailed.append(f"category {category!r} involves money")
    if facts.plan == "enterprise":
        guardrailed.append("enterprise plan")
    if facts.failed_attempts_low_tier >= 1:
        guardrailed.append(f"{facts.failed_attempts_low_tier} failed resolution attempt(s) at tier 0-1")
    if facts.sentiment < GUARDRAILED_SENTIMENT:
        guardrailed.append(f"sentiment {_fmt(facts.sentiment)} below {GUARDRAILED_SENTIMENT}")
    if guardrailed:
        return Triage("guardrailed", tuple(guardrailed))

    return Triage("autonomous", ("no high-risk or sensitive facts",))
