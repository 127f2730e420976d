"""helpdesk.redaction (pure): what an erasure masks in the text and JSON that copied a customer's data."""

from __future__ import annotations

import pytest

from helpdesk.redaction import MASK, TOMBSTONE_NAME, TOMBSTONE_TEXT, fragments, is_erased_address, redactor

GONE = "erased-7@erased.invalid"
R = redactor(
    email="Pat.Quill@Example.com",
    email_replacement=GONE,
    name="Pat Quill",
    phone="+44 20 7946 0958",
    texts=["Refund", "Hello. My xylophonist invoice was charged twice last Tuesday!\nThanks."],
)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Write to pat.quill@example.COM", f"Write to {GONE}"),
        ("PAT QUILL called", f"{TOMBSTONE_NAME} called"),
        ("Hi Pat, thanks", f"Hi {MASK}, thanks"),
        ("you may pat the dog", "you may pat the dog"),  # name parts are matched capitalised only
        ("Patricia is another person", "Patricia is another person"),  # whole words only
        ("call +44 20 7946 0958 now", f"call {MASK} now"),
        ("> My xylophonist invoice was charged twice last Tuesday!", f"> {TOMBSTONE_TEXT}"),
        ("so your xylophonist invoice was charged twice?", f"so your {TOMBSTONE_TEXT}?"),  # a 5-word quote
        ("the issue fixed: Refund", f"the issue fixed: {TOMBSTONE_TEXT}"),  # a whole text, however short
        ("Refunds are processed", "Refunds are processed"),
        ("Thanks.", "Thanks."),  # too short a sentence to be theirs
        ("", ""),
    ],
)
def test_it_masks_the_customers_data_and_nothing_else(before, after):
    assert R.text(before) == after


def test_it_masks_every_string_of_a_json_value_and_keeps_its_structure():
    payload = {
        "ticket": 5,
        "to": "pat.quill@example.com",
        "ticket_context": {"customer_name": "Pat Quill", "vip": False},
    }
    assert R.json(payload) == {
        "ticket": 5,
        "to": GONE,
        "ticket_context": {"customer_name": TOMBSTONE_NAME, "vip": False},
    }
    assert R.json(["Pat", 1, None]) == [MASK, 1, None]


def test_fragments_are_the_text_and_its_long_sentences_and_lines():
    text = "Hi. The export to CSV drops the last row!\nCould you look?"
    assert fragments(text) == [text, "The export to CSV drops the last row!"]
    assert fragments("   ") == []


def test_an_empty_redactor_changes_nothing():
    empty = redactor(email="", email_replacement=GONE)
    assert empty.text("anything at all") == "anything at all"


def test_it_knows_a_tombstone_address():
    assert is_erased_address("Erased-7@Erased.Invalid") and not is_erased_address("pat@example.com")
