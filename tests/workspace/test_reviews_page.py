"""/reviews/ with the Django client: managers see the open reviews with their case and complete them (done needs
what worked and what failed: the error beside the field, the typed text kept); agents get the styled 403; another
tenant's review is a 404 and nothing is written; the list reads a bounded number of queries."""

from __future__ import annotations

import re

import pytest

from escalation import services as escalations
from escalation.models import Review
from escalation.validation import ERR_REVIEW_DONE_NEEDS
from helpdesk.tenancy import tenant_context
from tests.workspace.conftest import open_ticket

pytestmark = pytest.mark.django_db

SUMMARY = {
    "problem": "The export stops at 80 %.",
    "tried": "Retried.",
    "emotional_state": "annoyed",
    "desired_outcome": "A working export.",
    "account_context": "Business plan.",
}


def _review(tenant, subject="Export stops", root_cause="Timeout in the worker") -> Review:
    ticket = open_ticket(tenant, subject=subject, priority="high")
    with tenant_context(tenant):
        escalation = escalations.escalation_create(
            ticket=ticket, actor=None, kind="functional", trigger="manual", summary_fields=SUMMARY, target_tier=2
        )
        escalations.escalation_resolve(
            escalation=escalation, actor=None, resolution="Raised the limit.", root_cause=root_cause
        )
        return Review.objects.get(escalation=escalation)


def _stored(tenant, pk) -> Review:
    with tenant_context(tenant):
        return Review.objects.get(pk=pk)


def test_a_manager_sees_the_open_reviews_with_their_case(acme, as_bob):
    review = _review(acme)
    page = as_bob.get("/reviews/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<nav aria-label="Review status"' in html
    assert re.search(r'aria-current="page">Open <span class="count">1</span>', html)
    section = html[html.index(f'id="review-{review.pk}"') :]
    assert f'<a href="/tickets/{review.ticket_id}/">Export stops</a>' in section
    assert "<dd>The export stops at 80 %.</dd>" in section and "<dd>Timeout in the worker</dd>" in section
    for label, control in (("What worked", "worked"), ("What failed", "failed"), ("Rule change", "change")):
        assert f'<label for="r{review.pk}-{control}">{label}</label>' in section
    assert f'<label for="r{review.pk}-rule">Rule to change</label>' in section
    assert '<button type="submit" name="submit" value="done">Mark done</button>' in section
    assert '<a href="/reviews/" aria-current="page">Reviews</a>' in html
    assert '<a href="/reviews/">Reviews</a>' in as_bob.get("/tickets/").content.decode()  # the nav link, for managers


def test_a_manager_completes_a_review_and_it_moves_to_done(acme, as_bob, bob):
    review = _review(acme)
    response = as_bob.post(
        f"/reviews/{review.pk}/?status=open",
        {"what_worked": "The summary.", "what_failed": "Slow ack.", "rule_to_change": "", "submit": "done"},
    )
    assert response.status_code == 302 and response["Location"] == f"/reviews/?status=open#review-{review.pk}"
    stored = _stored(acme, review.pk)
    assert (stored.status, stored.what_worked, stored.what_failed, stored.completed_by_id) == (
        "done",
        "The summary.",
        "Slow ack.",
        bob.pk,
    )
    assert f'id="review-{review.pk}"' not in as_bob.get("/reviews/").content.decode()
    done = as_bob.get("/reviews/?status=done").content.decode()
    assert f'id="review-{review.pk}"' in done and "by bob" in done
    assert '<button type="submit" name="submit" value="reopen">Reopen</button>' in done


def test_done_without_answers_comes_back_with_the_errors_and_the_text_kept(acme, as_bob):
    review = _review(acme)
    response = as_bob.post(
        f"/reviews/{review.pk}/?status=open",
        {"what_worked": "Half-written thought", "what_failed": "  ", "rule_change": "", "submit": "done"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<p class="error" id="r{review.pk}-failed-error">{ERR_REVIEW_DONE_NEEDS}</p>' in html
    assert re.search(rf'id="r{review.pk}-failed" [^>]*aria-invalid="true"', html)
    assert ">Half-written thought</textarea>" in html
    stored = _stored(acme, review.pk)
    assert (stored.status, stored.what_worked) == ("open", "")


def test_saving_keeps_the_review_open(acme, as_bob):
    review = _review(acme)
    as_bob.post(f"/reviews/{review.pk}/", {"what_worked": "Draft.", "submit": "save"})
    stored = _stored(acme, review.pk)
    assert (stored.status, stored.what_worked) == ("open", "Draft.")


def test_agents_get_the_styled_403_and_write_nothing(acme, as_alice):
    review = _review(acme)
    page = as_alice.get("/reviews/")
    assert page.status_code == 403 and "This page is for managers and admins." in page.content.decode()
    assert "Export stops" not in page.content.decode()
    refused = as_alice.post(f"/reviews/{review.pk}/", {"what_worked": "x", "what_failed": "y", "submit": "done"})
    assert refused.status_code == 403
    assert _stored(acme, review.pk).status == "open"
    assert "/reviews/" not in as_alice.get("/tickets/").content.decode()  # no nav link for agents


def test_another_tenants_review_is_a_404_and_nothing_is_written(acme, globex, as_bob):
    theirs = _review(globex, subject="Globex merger")
    response = as_bob.post(f"/reviews/{theirs.pk}/", {"what_worked": "x", "what_failed": "y", "submit": "done"})
    assert response.status_code == 404
    assert _stored(globex, theirs.pk).status == "open"
    assert "Globex merger" not in as_bob.get("/reviews/?status=all").content.decode()


def test_the_list_reads_a_bounded_number_of_queries(acme, as_bob, django_assert_max_num_queries):
    for n in range(5):
        _review(acme, subject=f"Case {n}")
    with django_assert_max_num_queries(14):
        page = as_bob.get("/reviews/?status=all")
    assert page.content.decode().count('class="panel review"') == 5


def test_the_reviews_times_are_in_the_tenants_zone_as_on_every_workspace_page(acme, as_bob):
    # A tester read "opened Dec 6, 12:29" here and 13:29 on the ticket page (Europe/Berlin): the page rendered UTC.
    from zoneinfo import ZoneInfo

    acme.timezone = "Asia/Tokyo"  # +9 h all year: never the same wall time as UTC
    acme.save(update_fields=["timezone"])
    review = _review(acme)
    local = review.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
    html = as_bob.get("/reviews/").content.decode()
    section = html[html.index(f'id="review-{review.pk}"') :]
    assert f"{local.strftime('%b')} {local.day}, {local.strftime('%H:%M')}</time>" in section


def _shown(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<section class="panel review" id="review-(\d+)"', html)]


def _link(html: str, name: str) -> str | None:
    found = re.search(rf'<a href="(\?[^"]+)" rel="\w+">{name}</a>', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_list_pages_with_previous_and_next_like_the_queues(acme, as_bob, monkeypatch):
    # /reviews/ showed the newest 100 and no way to the others.
    monkeypatch.setattr("helpdesk.workspace.reviews.PAGE", 2)
    pks = [_review(acme, subject=f"Case {n}").pk for n in range(5)][::-1]  # newest first, as listed

    first = as_bob.get("/reviews/?status=open").content.decode()
    assert _shown(first) == pks[:2] and _link(first, "Previous page") is None
    second = as_bob.get("/reviews/" + _link(first, "Next page")).content.decode()
    assert _shown(second) == pks[2:4] and _link(second, "Previous page") and _link(second, "Next page")
    third = as_bob.get("/reviews/" + _link(second, "Next page")).content.decode()
    assert _shown(third) == pks[4:] and _link(third, "Next page") is None
    back = as_bob.get("/reviews/" + _link(third, "Previous page")).content.decode()
    assert _shown(back) == pks[2:4]
    assert _shown(as_bob.get("/reviews/" + _link(back, "Previous page")).content.decode()) == pks[:2]

    # A form saved on the second page comes back to the second page.
    cursor = _link(first, "Next page")
    action = re.search(rf'action="(/reviews/{pks[2]}/\?[^"]+)"', second).group(1).replace("&amp;", "&")
    assert action == f"/reviews/{pks[2]}/{cursor}"
    saved = as_bob.post(action, {"what_worked": "Fast.", "submit": "save"})
    assert saved.status_code == 302 and saved["Location"] == f"/reviews/{cursor}#review-{pks[2]}"


def test_a_malformed_page_link_is_a_400_that_says_so(acme, as_bob):
    _review(acme)
    response = as_bob.get("/reviews/?status=open&cursor=not-a-cursor")
    assert response.status_code == 400
    html = response.content.decode()
    assert "This page link is no longer valid; start from the first page." in html and _shown(html) == []
