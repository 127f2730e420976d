"""The default matrix hears data loss, security incidents and legal words in the customer's own words, not only
in a category the ticket may arrive without (escalation/defaults.py) — and not in everyday sentences that share
a word with them. First the pure evaluation (no database), then the real workflow of a new tenant."""

import pytest

from escalation.defaults import DEFAULT_RULES, HIGH_STAKES_SLUGS
from escalation.models import Escalation
from escalation.triggers import Rule, evaluate
from helpdesk import workflows
from helpdesk.models import OutboxEvent, Role
from helpdesk.services import membership_create, team_create
from helpdesk.tenancy import tenant_context
from tests.escalation.test_triggers import NOW, make_facts
from tickets.models import Message, TicketEvent

KEYWORD_SLUGS = {"legal-threat", "security-reported", "data-loss-reported", "legal-mention"}
MATRIX = [
    Rule(id=i, slug=r["slug"], trigger=r["trigger"], conditions=r["conditions"], position=r["position"])
    for i, r in enumerate(DEFAULT_RULES)
]


def _keyword_rules_fired(text: str) -> set[str]:
    decisions = evaluate(make_facts(text=text, category=""), MATRIX, NOW, time_based=False)
    return {d.slug for d in decisions} & KEYWORD_SLUGS


@pytest.mark.parametrize(
    ("text", "fired"),
    [
        # Data loss (seeds 000, 001: "data loss ... reported")
        ("I am absolutely furious. You deleted our quarterly reports\u2026", {"data-loss-reported"}),
        ("Half of our customer records disappeared after the last sync.", {"data-loss-reported"}),
        ("All our invoices have vanished overnight.", {"data-loss-reported"}),
        ("Our project data was wiped by the last update.", {"data-loss-reported"}),
        ("We lost our data after the migration.", {"data-loss-reported"}),
        ("There are missing records in the March report.", {"data-loss-reported"}),
        ("Every attachment from 2025 got deleted.", {"data-loss-reported"}),
        # Security (seed 001: "security concern reported")
        ("Our admin account was hacked last night.", {"security-reported"}),
        ("We see unauthorized access to our workspace.", {"security-reported"}),
        ("Is this a data breach? Customer addresses showed up on a forum.", {"security-reported"}),
        ("Someone logged into my account from an IP in Brazil.", {"security-reported"}),
        # Legal threats (seeds 001, 003) and legal questions (seed 003's "legal" keyword)
        ("Fix this or we will sue you.", {"legal-threat"}),
        ("Our attorney will be in touch.", {"legal-threat"}),
        ("Expect legal action.", {"legal-threat", "legal-mention"}),
        ("Can you send us your GDPR data processing agreement?", {"legal-mention"}),
        ("Is it legal to store these logs in the US?", {"legal-mention"}),
        # Everyday sentences that share a word with an incident: nothing
        ("I deleted the old printer from my list, how do I add the new one?", set()),
        ("I wiped the cache and the page still loads slowly.", set()),
        ("The CSV export is missing a column.", set()),
        ("Sue from accounting asked for last year's invoices.", set()),
        ("Your SLA was breached twice this month, please explain.", set()),
        ("We lost the invite link, can you send it again?", set()),
        ("How do I delete a user who left the company?", set()),
        ("Our hackathon team needs ten more seats.", set()),
    ],
)
def test_the_default_matrix_hears_incidents_in_the_customers_words(text, fired):
    assert _keyword_rules_fired(text) == fired


def test_the_keyword_twins_escalate_like_their_categories():
    by_slug = {r["slug"]: r for r in DEFAULT_RULES}
    for keywords, category in (("data-loss-reported", "data-loss"), ("security-reported", "security")):
        twin, original = by_slug[keywords], by_slug[category]
        same = ("kind", "target_skill", "response_minutes", "notify", "to_call", "priority_override")
        assert {f: twin[f] for f in same} == {f: original[f] for f in same}
    assert by_slug["legal-mention"]["target_skill"] == by_slug["legal"]["target_skill"] == "legal"
    assert set(HIGH_STAKES_SLUGS) == KEYWORD_SLUGS


def test_the_docstrings_keywords_are_in_the_matrix():
    """The module docstring says the keyword lists come from the seeds: "refund", "cancel", "lawsuit", "legal",
    "call me", "urgent"."""
    keywords = {k for r in DEFAULT_RULES if r["trigger"] == "keyword" for k in r["conditions"]["keywords"]}
    assert {"refund", "cancel", "lawsuit", "legal", "call me", "urgent"} <= keywords


# --- through the real workflow ------------------------------------------------------------------------------


@pytest.fixture
def initech(db):
    """A tenant as create_tenant makes it (so with the default matrix), with the demo's specialists: an engineer
    and a legal & security agent, each in their team, and a manager."""
    tenant = workflows.tenant_bootstrap(slug="initech", name="Initech")
    eli = membership_create(tenant=tenant, username="eli", role=Role.AGENT, tier=3, skills=["engineering"])
    lea = membership_create(tenant=tenant, username="lea", role=Role.AGENT, tier=2, skills=["legal", "security"])
    membership_create(tenant=tenant, username="maya", role=Role.MANAGER, tier=3, skills=["escalations"])
    team_create(tenant=tenant, name="Engineering", skills=["engineering"], tier=3, members=[eli])
    team_create(tenant=tenant, name="Legal & Security", skills=["legal", "security"], tier=2, members=[lea])
    return tenant


def _open(tenant, subject: str, description: str):
    with tenant_context(tenant):
        return workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject=subject,
            description=description,
            requester_email="pat@initech.test",
            requester_name="Pat",
        )


def test_the_data_loss_sentence_opens_a_data_loss_escalation_to_engineering(initech):
    ticket = _open(initech, "Reports", "I am absolutely furious. You deleted our quarterly reports\u2026")
    with tenant_context(initech):
        escalation = Escalation.objects.select_related("agent__user", "team").get(
            ticket=ticket, trigger="data-loss-reported"
        )
        assert (escalation.kind, escalation.to_call) == ("functional", True)
        assert "engineering" in escalation.agent.skills and escalation.agent.user.username == "eli"
        assert escalation.team.name == "Engineering"
        assert escalation.reason == "customer wrote 'you deleted', 'deleted our'"
        ticket.refresh_from_db()
        assert (ticket.priority, ticket.escalated) == ("urgent", True)
        # The fury is its own (hierarchical) reason to escalate: the sentiment rule, as before.
        assert set(Escalation.objects.filter(ticket=ticket).values_list("trigger", "kind")) == {
            ("data-loss-reported", "functional"),
            ("negative-sentiment", "hierarchical"),
        }
        # The drafted summary says what is broken, and how the customer feels, apart.
        assert escalation.summary["problem"] == "You deleted our quarterly reports\u2026"
        assert '"I am absolutely furious."' in escalation.summary["emotional_state"]
        # High stakes: no automatic word to the customer, the engineer is asked for a personal update.
        assert not Message.objects.filter(ticket=ticket, author_type="system", internal=False).exists()
        reminder = OutboxEvent.objects.get(type="owner.reminder", payload__escalation=escalation.pk)
        assert reminder.payload["recipient"] == escalation.agent_id


def test_a_security_sentence_opens_a_security_escalation_to_the_security_specialist(initech):
    ticket = _open(initech, "Admin account", "Our admin account was hacked last night and the billing e-mail changed.")
    with tenant_context(initech):
        escalation = Escalation.objects.select_related("agent__user").get(ticket=ticket, trigger="security-reported")
        assert escalation.kind == "functional"
        assert escalation.agent.user.username == "lea" and "security" in escalation.agent.skills
        assert escalation.summary["problem"] == (
            "Our admin account was hacked last night and the billing e-mail changed."
        )
        ticket.refresh_from_db()
        assert ticket.priority == "urgent"
        created = OutboxEvent.objects.get(type="escalation.created", payload__escalation=escalation.pk)
        assert created.payload["notify"] == ["manager"]


def test_a_harmless_deletion_escalates_nothing(initech):
    ticket = _open(initech, "New printer", "I deleted the old printer from my list. How do I add the new one?")
    with tenant_context(initech):
        assert not Escalation.objects.filter(ticket=ticket).exists()
        ticket.refresh_from_db()
        assert (ticket.escalated, ticket.tier, ticket.priority) == (False, 1, "normal")
        assert not TicketEvent.objects.filter(ticket=ticket, kind="escalated").exists()
