"""Text analysis of customer messages. Pure: no Django, no database, no clock.

Sentiment is VADER's compound score (-1 .. 1), which handles the shouty, emoji-laden prose of support
threads better than a general-purpose model of its size, and runs in microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Phrases of a customer asking to go over the agent's head (the seed's "manager request" trigger).
MANAGER_PHRASES = (
    "speak to a manager",
    "speak to your manager",
    "speak with a manager",
    "speak with your manager",
    "talk to a manager",
    "talk to your manager",
    "talk to a supervisor",
    "speak to a supervisor",
    "speak with a supervisor",
    "your supervisor",
    "your manager",
    "escalate this",
    "escalate my",
    "someone in charge",
    "someone more senior",
    "higher up",
)

# Phrases of a customer asking to be called (the seed's "call me" reason to move to a call).
CALL_PHRASES = ("call me", "give me a call", "phone me", "ring me", "can we talk", "schedule a call", "hop on a call")

_WORD = re.compile(r"[a-z0-9']+")


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER compound score of the text, -1 (very negative) .. 1 (very positive)."""
    if not text.strip():
        return 0.0
    return round(_analyzer().polarity_scores(text)["compound"], 4)


def opening_sentiment(subject: str, description: str) -> float:
    """The score a ticket opens with: its subject and description are the customer's first message (the ticket
    page plots it first, before the messages that follow)."""
    return sentiment(f"{subject}. {description}")


def blend_sentiment(previous: float, latest: float, *, weight: float = 0.6) -> float:
    """The ticket's sentiment follows the latest customer message but remembers the thread:
    one polite 'thanks' after three furious messages should not read as a happy customer."""
    return round(max(-1.0, min(1.0, weight * latest + (1 - weight) * previous)), 4)


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def words(text: str) -> list[str]:
    """The words keyword_hits matches against: lower case, runs of letters, digits and apostrophes."""
    return _normalise(text).split()


def keyword_hits(text: str, keywords: list[str]) -> list[str]:
    """The keywords (single words or phrases) found in the text as whole words, case-insensitively.
    'refund' matches "Refund!" but not "refundable"."""
    haystack = f" {_normalise(text)} "
    return [kw for kw in keywords if (needle := _normalise(kw)) and f" {needle} " in haystack]


def keyword_matcher(keywords: Sequence[str]) -> Callable[[str], bool]:
    """keyword_hits' test for a fixed list, with the keywords normalised once: does the text contain any of
    them? For lists asked about many texts (each sentence of a thread), where normalising ~80 keywords
    per text was most of the cost."""
    first = first_matcher([keywords])
    return lambda text: first(text) is not None


def _needles(keywords: Sequence[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The keywords normalised: the single words, and the phrases padded with spaces."""
    needles = [words for keyword in keywords if (words := _normalise(keyword).split())]
    single = frozenset(words[0] for words in needles if len(words) == 1)
    spans = tuple(f" {' '.join(words)} " for words in needles if len(words) > 1)
    return single, spans


def first_matcher(keyword_lists: Sequence[Sequence[str]]) -> Callable[[str], int | None]:
    """keyword_matcher of each list asked in turn about one text, normalised once for all of them (a long text: a
    ticket's whole thread): the index of the first list with a keyword in the text, None if none has one."""
    tests = [_needles(keywords) for keywords in keyword_lists]

    def first(text: str) -> int | None:
        normalised = _normalise(text)
        words, padded = normalised.split(), f" {normalised} "
        for index, (single, spans) in enumerate(tests):
            if not single.isdisjoint(words) or any(span in padded for span in spans):
                return index
        return None

    return first


def asks_for_manager(text: str) -> bool:
    return bool(keyword_hits(text, list(MANAGER_PHRASES)))


def asks_for_call(text: str) -> bool:
    return bool(keyword_hits(text, list(CALL_PHRASES)))
