"""The transcript draft on a sample call: key sentences by TextRank, action items with owner and date phrases,
sentiment; no database (pure module), and through the API: stored as a draft, a 5 MB transcript refused."""

from __future__ import annotations

from datetime import date

from callnotes import transcript
from callnotes.models import CallNote
from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from tests.api.helpers import error_of

from .conftest import open_ticket, schedule_body

TODAY = date(2031, 4, 2)  # a Wednesday

SAMPLE = """Alice: Thanks for joining, Pat. I read the thread, so you will not have to repeat the whole story.
Pat: Okay.
Pat: Since Tuesday the nightly sync drops customer records from our European region.
Alice: I can see that in the sync logs: rows with an empty region field are dropped by the mapping.
Pat: That matches what we saw, about four hundred records in the European region are missing.
Alice: The mapping change from last week treats an empty region as invalid and skips the row.
Pat: We need those records back before our finance close on Friday.
Alice: I will restore the missing records from the backup by tomorrow.
Sam will check the billing totals for April by Friday.
Pat: We need to update our import template next week as well.
Alice: Action item: add a regression test for empty regions.
Pat: Great, thank you, that is really helpful.
"""


def test_the_draft_has_the_key_sentences_action_items_and_sentiment():
    draft = transcript.draft(SAMPLE, today=TODAY)
    assert len(draft.key_sentences) == transcript.KEY_SENTENCES
    assert all(sentence in SAMPLE for sentence in draft.key_sentences)
    joined = " ".join(draft.key_sentences)
    assert "empty region" in joined and "Okay." not in draft.key_sentences
    items = [(a.owner, a.description, a.due_phrase, a.due) for a in draft.action_items]
    assert ("Alice", "restore the missing records from the backup by tomorrow", "tomorrow", date(2031, 4, 3)) in items
    assert ("Sam", "check the billing totals for April by Friday", "by Friday", date(2031, 4, 4)) in items
    assert ("Pat", "update our import template next week as well", "next week", date(2031, 4, 7)) in items
    assert ("Alice", "add a regression test for empty regions", "", None) in items
    assert draft.speakers == ["Alice", "Pat"]
    assert draft.sentiment > 0


def test_textrank_keeps_the_text_order_and_short_texts_whole():
    units = ["The sync drops rows.", "Rows with empty regions drop.", "Lunch was nice."]
    assert transcript.textrank(units, limit=5) == [0, 1, 2]
    assert transcript.textrank(units, limit=2) == [0, 1]


def test_an_empty_transcript_drafts_nothing():
    draft = transcript.draft("", today=TODAY)
    assert (draft.key_sentences, draft.action_items, draft.sentiment) == ([], [], 0.0)


def test_a_pasted_transcript_becomes_a_draft_for_review_and_nothing_is_sent(tenant_a, api_a, alice):
    ticket = open_ticket(tenant_a)
    call = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=alice.pk), format="json").json()
    with tenant_context(tenant_a):
        before = OutboxEvent.objects.count()
    response = api_a.post(f"/api/v1/calls/{call['id']}/transcript/", {"text": SAMPLE}, format="json")
    assert response.status_code == 200, response.content
    draft = response.json()["live_draft"]
    assert len(draft["key_sentences"]) == 5 and draft["action_items"]
    live = {f["key"]: f["value"] for f in response.json()["sections"]["live"]}
    assert all(value is None for value in live.values())  # the notes themselves are untouched
    with tenant_context(tenant_a):
        assert CallNote.objects.get(call_id=call["id"]).live_draft["key_sentences"] == draft["key_sentences"]
        assert OutboxEvent.objects.count() == before


def test_a_5_mb_transcript_is_413_and_nothing_is_stored(tenant_a, api_a, alice):
    ticket = open_ticket(tenant_a)
    call = api_a.post(f"/api/v1/tickets/{ticket.pk}/calls/", schedule_body(agent=alice.pk), format="json").json()
    huge = "Pat: the sync broke again today. " * (5 * 1024 * 1024 // 33)
    response = api_a.post(f"/api/v1/calls/{call['id']}/transcript/", {"text": huge}, format="json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"
    with tenant_context(tenant_a):
        assert CallNote.objects.get(call_id=call["id"]).live_draft == {}
