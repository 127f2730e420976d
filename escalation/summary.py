"""The 5-field escalation summary, drafted from the thread for automatic escalations. Pure.

A person writes it for a manual escalation (all five required); an automatic one gets this draft,
which the receiver can edit. The aim is the seeds' rule: the customer never repeats themselves."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tickets.analysis import keyword_hits

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
MAX_PROBLEM = 300

# Words in the customer's text that say what would make them feel it is resolved.
DESIRED_OUTCOMES = (
    (("refund", "money back", "chargeback", "reimburse"), "a refund of the disputed charge"),
    (("cancel", "cancellation", "close my account"), "to cancel, or a reason to stay"),
    (("manager", "supervisor", "someone in charge"), "to speak with someone with authority"),
    (("call me", "phone me", "give me a call"), "a phone call"),
    (("lawyer", "lawsuit", "legal action", "attorney"), "a formal, accountable answer (legal risk)"),
)


@dataclass(frozen=True)
class ThreadFacts:
    subject: str
    description: str
    customer_texts: tuple[str, ...]
    agent_replies: tuple[str, ...]
    attempts: tuple[tuple[str, str], ...]  # (outcome, note)
    sentiment: float
    account_line: str
    history_line: str


def first_sentence(text: str) -> str:
    sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0] if text.strip() else ""
    return sentence[:MAX_PROBLEM]


def emotional_state(sentiment: float) -> str:
    # VADER's conventional bands (±0.05 neutral), with a stronger band for the seeds' "high emotion".
    if sentiment <= -0.6:
        label = "angry / very upset"
    elif sentiment <= -0.2:
        label = "frustrated"
    elif sentiment < 0.05:
        label = "neutral"
    else:
        label = "positive"
    return f"{label} (sentiment {sentiment:+.2f})"


def desired_outcome(facts: ThreadFacts) -> str:
    text = " ".join((facts.subject, facts.description, *facts.customer_texts))
    for words, outcome in DESIRED_OUTCOMES:
        if keyword_hits(text, list(words)):
            return outcome
    return f"the issue fixed: {facts.subject}"


def tried(facts: ThreadFacts) -> str:
    parts = [f"{outcome} attempt: {note}" for outcome, note in facts.attempts if note]
    parts += [f"agent replied: {first_sentence(reply)}" for reply in facts.agent_replies[-3:]]
    return "; ".join(parts) or "nothing yet: no resolution attempt or agent reply recorded"


def draft(facts: ThreadFacts) -> dict[str, str]:
    problem = first_sentence(facts.description) or facts.subject
    return {
        "problem": problem,
        "tried": tried(facts),
        "emotional_state": emotional_state(facts.sentiment),
        "desired_outcome": desired_outcome(facts),
        "account_context": f"{facts.account_line}; {facts.history_line}",
    }
