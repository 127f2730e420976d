"""Pure text analysis, table-driven, no database."""

import pytest

from tickets.analysis import (
    asks_for_call,
    asks_for_manager,
    blend_sentiment,
    first_matcher,
    keyword_hits,
    keyword_matcher,
    sentiment,
)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("This is absolutely terrible, I am furious and I want my money back!", -1.0, -0.5),
        ("Thanks so much, that fixed it, you are wonderful!", 0.5, 1.0),
        ("The invoice number is 4411.", -0.1, 0.1),
        ("", 0.0, 0.0),
    ],
)
def test_it_scores_sentiment(text, low, high):
    assert low <= sentiment(text) <= high


@pytest.mark.parametrize(
    ("text", "keywords", "hits"),
    [
        ("I want a REFUND now.", ["refund", "lawsuit"], ["refund"]),
        ("Is this refundable?", ["refund"], []),
        ("My lawyer will be in touch", ["lawyer", "legal action"], ["lawyer"]),
        ("We will take legal   action.", ["legal action"], ["legal action"]),
        ("nothing to see", ["refund"], []),
        ("refund", [""], []),
    ],
)
def test_it_matches_keywords_as_whole_words(text, keywords, hits):
    assert keyword_hits(text, keywords) == hits
    # The compiled matcher answers the same question for the same list.
    assert keyword_matcher(keywords)(text) == bool(hits)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("I want my money back, or a call", 0),
        ("Please call me. I want my MONEY   back!", 0),
        ("Just call me", 1),
        ("We will take legal action", 2),
        ("Legal? No: it is refundable", None),
        ("", None),
    ],
)
def test_it_finds_the_first_list_with_a_keyword_in_the_text(text, first):
    lists = [["refund", "money back"], ["call me"], ["legal action", "lawyer"], [""]]
    assert first_matcher(lists)(text) == first
    # The same answer as asking each list's matcher in turn.
    asked = [index for index, keywords in enumerate(lists) if keyword_matcher(keywords)(text)]
    assert first == (asked[0] if asked else None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to speak to a manager right now", True),
        ("Let me talk to your supervisor.", True),
        ("My manager asked me to open this ticket", False),
        ("The dashboard is slow", False),
    ],
)
def test_it_recognises_a_manager_request(text, expected):
    assert asks_for_manager(text) is expected


def test_it_recognises_a_call_request():
    assert asks_for_call("Please just call me at 555-0100")
    assert not asks_for_call("The call center was closed")


def test_it_blends_sentiment_towards_the_latest_message():
    assert blend_sentiment(-0.9, 0.9) == pytest.approx(0.18)
    assert -1.0 <= blend_sentiment(-1.0, -1.0) <= 1.0
