"""The drafted five-field summary (escalation/summary.py, pure): `problem` is the sentence that says what is
broken, and the customer's sentences of feeling go to `emotional_state`. No database.

The seeds give no verbatim customer messages; the cases follow the situations they describe — the angry
customer of issue 12 ("You deleted our quarterly reports"), seed 000's timeouts in a custom Okta
authentication and its "call me" and manager requests, seed 001's angry enterprise customer waiting two days
and its data-loss, security and billing triggers, seed 003's "lawsuit" — and the demo desk's own tickets
(helpdesk/management/commands/seed_demo.py)."""

import pytest

from escalation.summary import ThreadFacts, draft, emotional_state, problem, read, sentences

CASES = [
    # id, subject, opening message, later customer messages, ticket sentiment, problem, emotional state
    (
        "issue-12-feeling-first",
        "Quarterly reports gone",
        "I am absolutely furious. You deleted our quarterly reports\u2026",
        (),
        -0.61,
        "You deleted our quarterly reports\u2026",
        'angry / very upset (sentiment -0.61); the customer wrote: "I am absolutely furious."',
    ),
    (
        "issue-12-with-a-deadline-after-the-ellipsis",
        "Quarterly reports gone",
        "I am absolutely furious. You deleted our quarterly reports\u2026 The board meets on Friday.",
        (),
        -0.61,
        "You deleted our quarterly reports\u2026",
        'angry / very upset (sentiment -0.61); the customer wrote: "I am absolutely furious."',
    ),
    (
        "seed-000-multi-system-timeouts",
        "Okta login",
        "Our API integration keeps timing out during the custom Okta authentication. This is the third time "
        "I'm writing and I'm really frustrated.",
        (),
        -0.57,
        "Our API integration keeps timing out during the custom Okta authentication.",
        "frustrated (sentiment -0.57); the customer wrote: \"This is the third time I'm writing and I'm really "
        'frustrated."',
    ),
    (
        "seed-001-enterprise-customer-waiting-two-days",
        "Still waiting",
        "We have been waiting two days for an answer. This is unacceptable! Our invoices page still shows an error.",
        (),
        -0.72,
        "Our invoices page still shows an error.",
        'angry / very upset (sentiment -0.72); the customer wrote: "This is unacceptable!"',
    ),
    (
        "seed-001-data-loss-then-a-manager-request",
        "Data missing after sync",
        "Half of our customer records disappeared after the last sync. This is a disaster.",
        ("I need someone senior on this now. I want to speak to a manager.",),
        -0.72,
        "Half of our customer records disappeared after the last sync.",
        'angry / very upset (sentiment -0.72); the customer wrote: "This is a disaster."',
    ),
    (
        "seed-000-manager-request-before-the-problem",
        "Export",
        "I want to speak to a manager. The export has been broken for a week.",
        (),
        -0.42,
        "The export has been broken for a week.",
        "frustrated (sentiment -0.42)",
    ),
    (
        "seed-001-billing-dispute",
        "Charged twice for November invoice",
        "I was billed twice this month. Please refund the duplicate charge.",
        ("Any update on the refund? This is the second time I'm asking.",),
        -0.1,
        "I was billed twice this month.",
        "neutral (sentiment -0.10)",
    ),
    (
        "seed-003-legal-threat",
        "Outage",
        "This is ridiculous. Your outage cost us a day of sales and our lawyers are looking at it.",
        (),
        -0.36,
        "Your outage cost us a day of sales and our lawyers are looking at it.",
        'frustrated (sentiment -0.36); the customer wrote: "This is ridiculous."',
    ),
    (
        "seed-001-security-concern",
        "Suspicious login from unknown country",
        "We saw a login from an IP we don't recognise on an admin account.",
        ("Please call me, this is urgent.",),
        0.0,
        "We saw a login from an IP we don't recognise on an admin account.",
        "neutral (sentiment +0.00)",
    ),
    (
        "only-feeling-in-the-message-so-the-subject-says-what",
        "Invoices page down",
        "I am so angry right now!!!",
        (),
        -0.73,
        "Invoices page down",
        'angry / very upset (sentiment -0.73); the customer wrote: "I am so angry right now!!!"',
    ),
    (
        "the-problem-comes-in-a-later-message",
        "Question",
        "This is the worst service I have ever had.",
        ("Since this morning the export fails with error 403.",),
        -0.8,
        "Since this morning the export fails with error 403.",
        'angry / very upset (sentiment -0.80); the customer wrote: "This is the worst service I have ever had."',
    ),
    (
        "a-greeting-first",
        "Dashboard",
        "Hi team, hope you are well. The dashboard shows a 500 error since Monday.",
        (),
        0.32,
        "The dashboard shows a 500 error since Monday.",
        "positive (sentiment +0.32)",
    ),
    (
        "typographic-apostrophes",
        "Sync",
        "I\u2019m fed up. The mobile app doesn\u2019t sync anymore.",
        (),
        -0.45,
        "The mobile app doesn\u2019t sync anymore.",
        'frustrated (sentiment -0.45); the customer wrote: "I\u2019m fed up."',
    ),
    (
        "a-calm-question-is-its-own-problem",
        "How do I add a teammate?",
        "Where do I invite new users to our workspace?",
        (),
        0.15,
        "Where do I invite new users to our workspace?",
        "positive (sentiment +0.15)",
    ),
    (
        "the-latest-two-feelings-are-quoted",
        "Reports",
        "This is a nightmare. The reports page is blank.",
        ("I am fed up.", "Absolutely unacceptable."),
        -0.9,
        "The reports page is blank.",
        'angry / very upset (sentiment -0.90); the customer wrote: "I am fed up." "Absolutely unacceptable."',
    ),
]


@pytest.mark.parametrize(
    ("subject", "description", "later", "sentiment", "expected_problem", "expected_state"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_it_drafts_the_problem_and_the_emotional_state_apart(
    subject, description, later, sentiment, expected_problem, expected_state
):
    facts = ThreadFacts(
        subject=subject,
        description=description,
        customer_texts=later,
        agent_replies=(),
        attempts=(),
        sentiment=sentiment,
        account_line="Initech: enterprise plan",
        history_line="no earlier tickets",
    )
    drafted = draft(facts)
    assert drafted["problem"] == expected_problem
    assert drafted["emotional_state"] == expected_state


@pytest.mark.parametrize(
    ("sentence", "states_problem", "feeling", "filler"),
    [
        ("I am absolutely furious.", False, True, False),
        ("You deleted our quarterly reports\u2026", True, False, False),
        ("The export doesn't work.", True, False, False),
        ("We can't log in.", True, False, False),
        ("I hate this so much.", False, True, False),  # no word of the list: VADER says it
        ("This stupid sync keeps crashing and I'm furious.", True, False, False),  # names what is broken
        ("Thanks in advance.", False, False, True),
        ("Thanks, but the export still fails.", True, False, False),
        ("Highly urgent for our finance team.", False, False, False),  # "hi" only as a whole word
    ],
)
def test_it_reads_what_a_sentence_says(sentence, states_problem, feeling, filler):
    read_ = read(sentence)
    assert (read_.states_problem, read_.feeling, read_.filler) == (states_problem, feeling, filler)


def test_sentences_end_at_an_ellipsis_and_a_line_break():
    assert sentences("Gone\u2026 All of it.\nPlease help") == ["Gone\u2026", "All of it.", "Please help"]


def test_a_thread_with_nothing_but_feeling_falls_back_to_its_first_sentence():
    facts = ThreadFacts("Furious", "This is terrible, awful, the worst service ever!", (), (), (), -0.9, "a", "h")
    assert problem(facts) == "This is terrible, awful, the worst service ever!"


def test_without_quotes_the_state_is_the_label_alone():
    assert emotional_state(-0.61) == "angry / very upset (sentiment -0.61)"


def test_it_keeps_a_short_sentence_read_and_reads_a_long_one_each_time():
    """A storm reads each distinct short sentence once; a long one (a message with no full stop) is not kept."""
    from escalation import summary

    summary._read_cached.cache_clear()
    short, long = "I am absolutely furious.", "the export " * 60 + "is broken"
    assert summary.read(short) is summary.read(short) and summary.read(short) == summary._read(short)
    assert summary.read(long) == summary._read(long) and summary.read(long).states_problem
    assert summary._read_cached.cache_info().currsize == 1
