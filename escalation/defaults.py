"""The default escalation matrix `create_tenant` installs: one or more rules for every trigger, with the seeds'
figures. Pure data; every rule's conditions pass `escalation.triggers.validate_conditions` (tests/escalation).

Shape of a rule: exactly the API.md rule fields, with the target spelled for a tenant that has no ids yet — every
dict carries all four target keys and exactly one of them is set:
    target_team_name  a team's name ("Billing"), resolved to the tenant's team when installed
    target_skill      routing by skill: whoever has it (functional escalations)
    target_tier       routing by tier (2 = a senior agent)
    target_role       "manager" | "admin" (hierarchical escalations that need authority)

How kind and target were chosen (seeds 001 and 003): *functional* when the ticket needs a skill or more capacity
(billing, legal, security, engineering, tier 2); *hierarchical* when it needs authority or the relationship is at
risk (a legal threat, a manager request, a VIP, an angry customer, a breached SLA). response_minutes follows the
seed's escalation SLAs: a manager / senior responds within 60 minutes; tier 2 gives a first substantive response
within 120; security incidents and data loss get 60 like a hierarchical escalation. to_call follows seed 000's
"when to move to a call": high emotion, a manager request, data loss (multi-system failure), SLA breached,
Tier 0/1 failed twice, three follow-ups, a loop of exchanges, and "call me".

Figures: keyword lists from the seeds ("refund", "cancel", "lawsuit", "legal", "call me", "urgent"), and the words a
customer uses for the seeds' "data loss or security concern reported" (001) and "legal threat" (001, 003); sentiment
below -0.5 (API.md; the seed's "below 3/10" is -0.4 on a linear map of VADER's -1..1, and -0.5 keeps the rate of
automatic escalations inside the seed's 10-20 %); time_open 4 business hours at tier 1; SLA 80 % used; repeat
contact "more than 3 times in 30 days" = 4 tickets (the rule fires at its count); 3 follow-ups; 2 failed attempts;
6 exchanges (API.md's loop threshold).

Keywords fire on whole words or phrases, case-insensitively (escalation/triggers.py), in any customer text — so a
word that is also everyday speech is listed only inside a phrase that makes it mean the incident: "deleted our",
"you deleted", "were deleted", never "deleted" alone ("I deleted the old printer from my list" is no data loss);
"were wiped", never "wiped" ("I wiped the cache" is a troubleshooting step); "data breach", never "breach" alone (an
SLA or a contract is breached too); "sue you", never "sue" (a name).
A ticket whose category already says data_loss, security or legal gets the same escalation from the category
rule; the keyword rule is for the ticket that arrives without one (a rule of the same kind reinforces the open
escalation rather than opening a second).
"""

from __future__ import annotations

from escalation.triggers import DEFAULT_DISPUTE_CURRENCY

HIERARCHICAL_MINUTES = 60  # seed 001: "manager or senior team member responds within 1 hour"
TIER2_MINUTES = 120  # seed 001: tier 2 "first substantive response within 2 hours"
URGENT_MINUTES = 60

# The ticket clocks; the escalation clocks (acknowledge, first response, customer update, manager response) are
# left to the breached rule, which sends a breach up to a manager whatever the clock.
TICKET_METRICS = ("first_response", "next_response", "resolution")

# How customers report the seeds' incidents in their own words (see the module docstring on everyday words).
DATA_LOSS_PHRASES = (
    "data loss", "lost our data", "lost my data", "lost all our", "lost all my", "lost everything", "data was lost",
    "data is lost", "you deleted", "deleted our", "deleted all", "deleted everything", "was deleted", "were deleted",
    "been deleted", "got deleted", "missing records", "records are missing", "records missing", "data is missing",
    "data missing", "files are missing", "data is gone", "data disappeared", "records disappeared",
    "files disappeared", "has disappeared", "have disappeared", "has vanished", "have vanished", "data vanished",
    "records vanished", "files vanished", "all vanished", "been wiped", "was wiped", "were wiped", "got wiped",
    "wiped out", "wiped our", "wiped all", "wiped everything", "corrupted our", "erased our",
)  # fmt: skip
SECURITY_PHRASES = (
    "data breach", "security breach", "privacy breach", "hacked", "unauthorized access", "unauthorised access",
    "unauthorized login", "unauthorised login", "unauthorized logins",
    "account was compromised", "account has been compromised", "accounts were compromised", "been compromised",
    "data leak", "data leaked", "credentials leaked", "password leaked", "phishing", "malware", "ransomware",
    "suspicious login", "someone logged into",
)  # fmt: skip
LEGAL_THREAT_PHRASES = (
    "lawsuit", "lawyer", "lawyers", "legal action", "attorney", "attorneys", "sue you", "sue your", "will sue",
    "going to sue", "suing", "take you to court", "see you in court", "small claims", "litigation", "solicitor",
    "solicitors",
)  # fmt: skip
# Legal questions rather than threats (seed 003's "legal" keyword): a specialist answers, no manager is needed.
LEGAL_PHRASES = (
    "legal", "gdpr", "ccpa", "hipaa", "data protection", "subject access request", "right to be forgotten",
    "data processing agreement", "subpoena", "compliance",
)  # fmt: skip
# The rules whose escalations are high stakes whatever the ticket's category (escalation/communication.py): the
# keyword twins of the legal, security and data-loss categories, and the threat of litigation.
HIGH_STAKES_SLUGS = ("legal-threat", "security-reported", "data-loss-reported", "legal-mention")

# tickets.analysis.CALL_PHRASES, spelled out so this module stays plain data (a test keeps the two in step).
CALL_PHRASES = ("call me", "give me a call", "phone me", "ring me", "can we talk", "schedule a call", "hop on a call")


def _rule(
    position: int,
    name: str,
    slug: str,
    trigger: str,
    conditions: dict,
    *,
    kind: str = "",
    action: str = "escalate",
    tags: tuple[str, ...] = (),
    target_team_name: str | None = None,
    target_skill: str | None = None,
    target_tier: int | None = None,
    target_role: str | None = None,
    response_minutes: int | None = None,
    notify: list[str] | None = None,
    to_call: bool = False,
    priority_override: str | None = None,
    supersedes: tuple[str, ...] = (),
) -> dict:
    return {
        "name": name,
        "slug": slug,
        "trigger": trigger,
        "conditions": conditions,
        "kind": kind,
        "action": action,
        "tags": list(tags),
        "target_team_name": target_team_name,
        "target_skill": target_skill,
        "target_tier": target_tier,
        "target_role": target_role,
        "response_minutes": response_minutes,
        "notify": notify or [],
        "to_call": to_call,
        "priority_override": priority_override,
        "active": True,
        "position": position,
        "supersedes": list(supersedes),
    }


# The seeds' auto-tagging (seed 003: "cancellation intent, billing disputes, urgent issues flagged immediately,
# not after an agent reads them"): tag rules, which add their tag at intake (or at the message that says it) and
# escalate nothing. Their words are the customer's; the escalating keyword rules below keep their own lists.
CANCELLATION_PHRASES = (
    "cancel", "cancelling", "canceling", "cancellation", "close my account", "close our account",
    "terminate our contract", "terminate the contract", "not renewing", "won't renew", "switch to another provider",
    "switching providers", "moving to a competitor",
)  # fmt: skip
BILLING_DISPUTE_PHRASES = (
    "dispute", "disputed", "disputing", "chargeback", "charged twice", "double charged", "overcharged",
    "wrong amount", "billing error", "incorrect invoice", "did not authorize this charge",
)  # fmt: skip
URGENT_PHRASES = ("urgent", "urgently", "asap", "as soon as possible", "emergency", "immediately", "production down")
AUTO_TAGS = ("cancellation_intent", "billing_dispute", "legal_threat", "urgent", "negative_sentiment")
DISPUTE_THRESHOLD = "1000.00"  # seed 003's "billing dispute above $Y": Y, in US dollars (the "$")
DISPUTE_CURRENCY = DEFAULT_DISPUTE_CURRENCY  # a dispute in another currency is not compared with the threshold
# The resolution clock at the default policies' second warning threshold: flagged for review, not silently missed.
# (A time_open flag rule at any tier would make the sweep re-arm a watch per escalated ticket: watches_arm_many.)
REVIEW_AT_PERCENT = 90

DEFAULT_RULES: list[dict] = [
    # --- auto-tagging on intake: tags at once, no escalation ---
    _rule(
        1,
        "Tag: cancellation intent",
        "tag-cancellation-intent",
        "keyword",
        {"keywords": list(CANCELLATION_PHRASES)},
        action="tag",
        tags=("cancellation_intent",),
    ),
    _rule(
        2,
        "Tag: billing dispute",
        "tag-billing-dispute",
        "keyword",
        {"keywords": list(BILLING_DISPUTE_PHRASES)},
        action="tag",
        tags=("billing_dispute",),
    ),
    _rule(
        3,
        "Tag: legal threat",
        "tag-legal-threat",
        "keyword",
        {"keywords": list(LEGAL_THREAT_PHRASES)},
        action="tag",
        tags=("legal_threat",),
    ),
    _rule(
        4, "Tag: urgent", "tag-urgent", "keyword", {"keywords": list(URGENT_PHRASES)}, action="tag", tags=("urgent",)
    ),
    _rule(
        5,
        "Tag: negative sentiment",
        "tag-negative-sentiment",
        "sentiment",
        {"below": -0.5},
        action="tag",
        tags=("negative_sentiment",),
    ),
    # --- high stakes first: authority, legal exposure, incidents ---
    _rule(
        10,
        "Legal threat",
        "legal-threat",
        "keyword",
        {"keywords": list(LEGAL_THREAT_PHRASES)},
        kind="hierarchical",
        target_role="manager",
        response_minutes=HIERARCHICAL_MINUTES,
        notify=["manager"],
        # A threat of litigation is answered in writing, by someone with authority (and counsel), not on a call.
        to_call=False,
        priority_override="urgent",
    ),
    _rule(
        20,
        "Customer asks for a manager",
        "manager-request",
        "manager_request",
        {},
        kind="hierarchical",
        target_role="manager",
        response_minutes=HIERARCHICAL_MINUTES,
        notify=["manager"],
        to_call=True,
        priority_override="high",
    ),
    _rule(
        30,
        "Security concern",
        "security",
        "category",
        {"categories": ["security"]},
        kind="functional",
        target_skill="security",
        response_minutes=URGENT_MINUTES,
        notify=["manager"],
        priority_override="urgent",
    ),
    _rule(
        35,
        "Security incident reported",
        "security-reported",
        "keyword",
        {"keywords": list(SECURITY_PHRASES)},
        kind="functional",
        target_skill="security",
        response_minutes=URGENT_MINUTES,
        notify=["manager"],
        priority_override="urgent",
    ),
    _rule(
        40,
        "Data loss",
        "data-loss",
        "category",
        {"categories": ["data_loss"]},
        kind="functional",
        target_skill="engineering",
        response_minutes=URGENT_MINUTES,
        notify=["manager"],
        to_call=True,
        priority_override="urgent",
    ),
    _rule(
        45,
        "Data loss reported",
        "data-loss-reported",
        "keyword",
        {"keywords": list(DATA_LOSS_PHRASES)},
        kind="functional",
        target_skill="engineering",
        response_minutes=URGENT_MINUTES,
        notify=["manager"],
        to_call=True,
        priority_override="urgent",
    ),
    _rule(
        50,
        "Legal question",
        "legal",
        "category",
        {"categories": ["legal"]},
        kind="functional",
        target_skill="legal",
        response_minutes=TIER2_MINUTES,
    ),
    _rule(
        55,
        "Legal or compliance mention",
        "legal-mention",
        "keyword",
        {"keywords": list(LEGAL_PHRASES)},
        kind="functional",
        target_skill="legal",
        response_minutes=TIER2_MINUTES,
    ),
    _rule(
        60,
        "SLA breached",
        "sla-breached",
        "sla_risk",
        {"breached": True},
        kind="hierarchical",
        target_role="manager",
        response_minutes=HIERARCHICAL_MINUTES,
        notify=["manager"],
        to_call=True,
        # Breached supersedes at-risk (also implicit, escalation.triggers.supersedes): a clock that went from under
        # 75 % to breached between two sweeps gets one escalation, to the manager, listing both rules.
        supersedes=("sla-at-risk",),
    ),
    _rule(
        70,
        "VIP account",
        "vip",
        "value",
        {"vip": True},
        kind="hierarchical",
        target_role="manager",
        response_minutes=HIERARCHICAL_MINUTES,
        notify=["manager"],
    ),
    _rule(
        80,
        "Very negative sentiment",
        "negative-sentiment",
        "sentiment",
        {"below": -0.5},
        # Relationship risk is a hierarchical reason (seed 001); a senior agent takes it, on a call (seed 000).
        kind="hierarchical",
        target_tier=2,
        response_minutes=HIERARCHICAL_MINUTES,
        notify=["manager"],
        to_call=True,
    ),
    # --- skills ---
    _rule(
        90,
        "Billing dispute or cancellation",
        "billing",
        "keyword",
        {"keywords": ["refund", "refunds", "cancel", "cancellation", "chargeback", "charged twice"]},
        kind="functional",
        target_skill="billing",
        response_minutes=TIER2_MINUTES,
    ),
    _rule(
        100,
        "Customer asks for a call",
        "call-request",
        "keyword",
        {"keywords": list(CALL_PHRASES)},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
        to_call=True,
    ),
    _rule(
        110,
        "Urgent or outage",
        "urgent",
        "keyword",
        {"keywords": ["urgent", "emergency", "outage", "production down"]},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
        priority_override="high",
    ),
    # --- time and loops: tier 1 is not getting there ---
    _rule(
        120,
        "SLA at risk (75 %)",
        "sla-at-risk",
        "sla_risk",
        # 75 %: the default policies' first warning threshold, where the sweep looks at the clock.
        {"percent": 75, "metrics": list(TICKET_METRICS)},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
    ),
    _rule(
        130,
        "Open 4 business hours at tier 1",
        "time-open-tier1",
        "time_open",
        {"business_hours": 4, "tier": 1},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
    ),
    _rule(
        140,
        "Failed twice at tier 0-1",
        "failed-attempts",
        "failed_attempts",
        {"count": 2},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
        to_call=True,
    ),
    _rule(
        150,
        "Three follow-ups without a reply",
        "follow-ups",
        "follow_ups",
        {"count": 3},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
        to_call=True,
    ),
    _rule(
        160,
        "Back-and-forth loop",
        "back-and-forth",
        "back_and_forth",
        {"count": 6},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
        to_call=True,
    ),
    _rule(
        170,
        "Repeat contact (more than 3 tickets in 30 days)",
        "repeat-contact",
        "repeat_contact",
        {"tickets": 4, "days": 30},
        kind="functional",
        target_tier=2,
        response_minutes=TIER2_MINUTES,
    ),
    # --- the seeds' other triggers: a confirmed bug, a large dispute ---
    _rule(
        180,
        "Bug confirmed by reproduction",
        "bug-confirmed",
        "tag_added",
        {"tags": ["bug_confirmed"]},
        kind="functional",
        target_skill="engineering",
        response_minutes=TIER2_MINUTES,
    ),
    _rule(
        190,
        f"Billing dispute of {DISPUTE_THRESHOLD} {DISPUTE_CURRENCY} or more",
        "dispute-large",
        "dispute",
        {"amount_gte": DISPUTE_THRESHOLD, "currency": DISPUTE_CURRENCY},
        kind="functional",
        target_skill="billing",
        response_minutes=TIER2_MINUTES,
        notify=["manager"],
    ),
    # --- flagged for review: time-based, a person looks, nothing escalates (seed 000: "flag tickets nearing an SLA
    # deadline before any breach occurs"; the sweep sees the clock at the policies' 90 % warning) ---
    _rule(
        200,
        "Resolution clock at 90 %: needs review",
        "review-resolution-at-risk",
        "sla_risk",
        {"percent": REVIEW_AT_PERCENT, "metrics": ["resolution"]},
        action="flag",
    ),
]
