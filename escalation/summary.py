"""The 5-field escalation summary, drafted from the thread for automatic escalations. Pure.

A person writes it for a manual escalation (all five required); an automatic one gets this draft,
which the receiver can edit. The aim is the seeds' rule: the customer never repeats themselves.

The problem and the emotional state are two fields (seed 001: "What is the customer's actual problem? (one
sentence)", "What is the customer's current emotional state?"), and angry customers often open with the
feeling: "I am absolutely furious. You deleted our quarterly reports…". So each sentence is read for what it
says (`read`): one that names something broken — a function that fails, data that went, money taken wrongly
(PROBLEM_MARKERS) — states the problem; one that only carries feeling (EMOTION_MARKERS, or VADER at or below
EMOTION_SENTIMENT with no problem in it) belongs to the emotional state, quoted there; greetings and thanks are
neither. The problem is the first sentence that names something broken (the opening message first, then the
customer's later messages), else the opening message's first plain sentence, else the subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from tickets import analysis

# A sentence ends at . ! ? or an ellipsis followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+|\s*\n\s*")
MAX_PROBLEM = 300
MAX_QUOTE = 160
MAX_QUOTES = 2  # the latest feelings: the state is the current one
# VADER of a sentence at or below this, with nothing broken named in it, is feeling (an outburst with no
# emotion word of the list: "I hate this so much.").
EMOTION_SENTIMENT = -0.5

# What is broken, in the customer's words (matched as whole words or phrases, tickets.analysis.keyword_hits):
# negations of function, failures, lost or exposed data, wrong charges — the seeds' multi-system failures,
# data loss and security concerns, billing disputes.
PROBLEM_MARKERS = (
    "doesn't work", "does not work", "don't work", "didn't work", "not working", "isn't working", "stopped working",
    "won't", "can't", "cannot", "couldn't", "unable", "no longer", "doesn't", "stopped",
    "error", "errors", "fails", "failed", "failing", "failure", "broken", "broke", "crash", "crashes", "crashed",
    "crashing", "down", "outage", "timeout", "timeouts", "timed out", "timing out", "times out", "hangs", "stuck",
    "slow", "bug", "wrong", "incorrect", "expired", "blocked", "locked out", "500", "404",
    "deleted", "lost", "missing", "disappeared", "vanished", "wiped", "gone", "corrupted", "erased",
    "charged twice", "billed twice", "double charged", "overcharged", "charged",
    "hacked", "breach", "compromised", "unauthorized", "unauthorised", "leaked",
)  # fmt: skip
# Feeling, not fact: a sentence with one of these and nothing broken in it tells the emotional state.
EMOTION_MARKERS = (
    "furious", "angry", "livid", "outraged", "frustrated", "frustrating", "upset", "annoyed", "disappointed",
    "disgusted", "appalled", "fed up", "sick of", "tired of", "unacceptable", "ridiculous", "outrageous",
    "disgrace", "disgraceful", "disaster", "nightmare", "terrible", "awful", "horrible", "worst", "pathetic",
    "shocking", "unbelievable", "incompetent", "useless", "shame", "hate",
)  # fmt: skip
# Openers and closers that say neither what is broken nor how the customer feels.
PLEASANTRIES = ("hi", "hello", "hey", "dear", "good morning", "good afternoon", "hope you", "thanks", "thank you",
                "regards", "best regards", "cheers")  # fmt: skip

_OPENERS = tuple(phrase.split() for phrase in PLEASANTRIES)
_NAMES_A_PROBLEM = analysis.keyword_matcher(PROBLEM_MARKERS)
_NAMES_A_FEELING = analysis.keyword_matcher(EMOTION_MARKERS)

# Desired outcomes: words in the customer's text that say what would make them feel it is resolved.
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


def sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def first_sentence(text: str) -> str:
    found = sentences(text)
    return found[0][:MAX_PROBLEM] if found else ""


@dataclass(frozen=True)
class Sentence:
    text: str
    states_problem: bool  # names something broken
    feeling: bool  # carries feeling and names nothing broken
    filler: bool  # a greeting or thanks that names nothing broken


# Sentences recur: a ticket's thread is read again by each escalation drafted from it, and the same customer
# texts (templates, forwarded mails, the opening message quoted back) recur across tickets. `read` depends on the
# text alone, so a storm reads each distinct sentence once (VADER: 0.6-0.8 s per 10,000 sentences, profiled).
# Bounded: a worker keeps at most READ_CACHE sentences of at most READ_CACHE_CHARS characters (a long one, a whole
# message without a full stop, is read each time), a few MB.
READ_CACHE = 8192
READ_CACHE_CHARS = 400


def read(text: str) -> Sentence:
    return _read_cached(text) if len(text) <= READ_CACHE_CHARS else _read(text)


def _read(text: str) -> Sentence:
    # A typographic apostrophe (U+2019, what phones and word processors type) is the matcher's plain one.
    plain = text.replace("\u2019", "'")
    states_problem = _NAMES_A_PROBLEM(plain)
    feeling = not states_problem and (_NAMES_A_FEELING(plain) or analysis.sentiment(plain) <= EMOTION_SENTIMENT)
    opening = analysis.words(plain)
    opens_politely = any(opening[: len(opener)] == opener for opener in _OPENERS)
    return Sentence(
        text=text, states_problem=states_problem, feeling=feeling, filler=opens_politely and not states_problem
    )


_read_cached = lru_cache(maxsize=READ_CACHE)(_read)


@dataclass(frozen=True)
class Thread:
    """The customer's sentences, each read once: the opening message's, then the later messages'."""

    opening: tuple[Sentence, ...]
    later: tuple[Sentence, ...]

    @classmethod
    def of(cls, facts: ThreadFacts) -> Thread:
        return cls(
            opening=tuple(read(text) for text in sentences(facts.description)),
            later=tuple(read(text) for body in facts.customer_texts for text in sentences(body)),
        )


def problem(facts: ThreadFacts, thread: Thread | None = None) -> str:
    """The one sentence that says what is broken (see the module docstring)."""
    thread = thread or Thread.of(facts)
    chosen = next((s for s in thread.opening + thread.later if s.states_problem), None)
    chosen = chosen or next((s for s in thread.opening if not (s.feeling or s.filler)), None)
    if chosen is None and facts.subject.strip() and not read(facts.subject).feeling:
        return facts.subject.strip()[:MAX_PROBLEM]
    if chosen is None:
        return first_sentence(facts.description) or facts.subject
    return chosen.text[:MAX_PROBLEM]


def feelings(thread: Thread, problem_text: str) -> list[str]:
    """The customer's own sentences of feeling, the latest MAX_QUOTES of them, each once."""
    found: list[str] = []
    for sentence in thread.opening + thread.later:
        quote = sentence.text[:MAX_QUOTE]
        if sentence.feeling and sentence.text[:MAX_PROBLEM] != problem_text and quote not in found:
            found.append(quote)
    return found[-MAX_QUOTES:]


def emotional_state(sentiment: float, said: Sequence[str] = ()) -> str:
    # VADER's conventional bands (±0.05 neutral), with a stronger band for the seeds' "high emotion".
    if sentiment <= -0.6:
        label = "angry / very upset"
    elif sentiment <= -0.2:
        label = "frustrated"
    elif sentiment < 0.05:
        label = "neutral"
    else:
        label = "positive"
    state = f"{label} (sentiment {sentiment:+.2f})"
    if not said:
        return state
    return f"{state}; the customer wrote: " + " ".join(f'"{text}"' for text in said)


# Each outcome's words normalised once, not once per ticket (profiled: most of desired_outcome's cost in a storm),
# and the thread normalised once for all of them.
_FIRST_OUTCOME = analysis.first_matcher([words for words, _ in DESIRED_OUTCOMES])


def desired_outcome(facts: ThreadFacts) -> str:
    found = _FIRST_OUTCOME(" ".join((facts.subject, facts.description, *facts.customer_texts)))
    return f"the issue fixed: {facts.subject}" if found is None else DESIRED_OUTCOMES[found][1]


def tried(facts: ThreadFacts) -> str:
    parts = [f"{outcome} attempt: {note}" for outcome, note in facts.attempts if note]
    parts += [f"agent replied: {first_sentence(reply)}" for reply in facts.agent_replies[-3:]]
    return "; ".join(parts) or "nothing yet: no resolution attempt or agent reply recorded"


def draft(facts: ThreadFacts) -> dict[str, str]:
    thread = Thread.of(facts)
    what = problem(facts, thread)
    return {
        "problem": what,
        "tried": tried(facts),
        "emotional_state": emotional_state(facts.sentiment, feelings(thread, what)),
        "desired_outcome": desired_outcome(facts),
        "account_context": f"{facts.account_line}; {facts.history_line}",
    }
