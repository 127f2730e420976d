"""Bulk import (tickets/importer.py and `manage.py import_tickets`): back-dated tickets with their threads
and the counters the services would have computed; bad lines reported by number, good lines kept."""

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from helpdesk.fields import ERR_NUL, ERR_OFFSET, ERR_SURROGATE
from helpdesk.tenancy import tenant_context
from tickets import importer, selectors, services
from tickets.importer import LineError, tickets_import
from tickets.models import Customer, Message, Ticket, TicketEvent

OPENED = "2024-03-01T09:00:00+01:00"


def _ticket(**overrides) -> dict:
    ticket = {
        "external_id": "ZD-1",
        "subject": "Invoice charged twice",
        "description": "We were charged twice for March.",
        "requester": {"email": "Pat@Example.com", "name": "Pat"},
        "priority": "high",
        "channel": "email",
        "category": "billing",
        "tags": ["refund", "billing"],
        "status": "open",
        "created_at": OPENED,
        "messages": [
            {"author_type": "agent", "body": "Sorry about that, checking now.", "created_at": "2024-03-01T10:00:00Z"},
            {"author_type": "agent", "body": "Known payment gateway bug.", "internal": True,
             "created_at": "2024-03-01T10:05:00Z"},
            {"author_type": "customer", "body": "Any update? This is awful.", "created_at": "2024-03-02T08:00:00Z"},
        ],
    }  # fmt: skip
    ticket.update(overrides)
    return ticket


def _line(**overrides) -> str:
    return json.dumps(_ticket(**overrides))


def _import(tenant, *lines, **options):
    return tickets_import(tenant=tenant, lines=list(lines), **options)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- good lines ---------------------------------------------------------------------------------


def test_it_imports_a_ticket_back_dated_with_its_messages_in_order(tenant_a):
    report = _import(tenant_a, _line())
    assert (report.imported, report.skipped, report.errors) == (1, 0, [])
    with tenant_context(tenant_a):
        ticket = Ticket.objects.select_related("requester").get()
        messages = list(Message.objects.filter(ticket=ticket).order_by("created_at", "id"))
    assert ticket.subject == "Invoice charged twice"
    assert ticket.created_at == _at(OPENED)
    assert ticket.updated_at == _at("2024-03-02T08:00:00Z")
    assert (ticket.priority, ticket.channel, ticket.category, ticket.status) == ("high", "email", "billing", "open")
    assert ticket.tags == ["billing", "refund"]
    assert ticket.requester.email == "pat@example.com" and ticket.requester.name == "Pat"
    assert [(m.author_type, m.body, m.internal) for m in messages] == [
        ("agent", "Sorry about that, checking now.", False),
        ("agent", "Known payment gateway bug.", True),
        ("customer", "Any update? This is awful.", False),
    ]
    assert [m.created_at for m in messages] == [
        _at("2024-03-01T10:00:00Z"),
        _at("2024-03-01T10:05:00Z"),
        _at("2024-03-02T08:00:00Z"),
    ]
    assert messages[2].sentiment < 0 and messages[0].sentiment is None


def test_it_computes_the_counters_the_services_would(tenant_a):
    _import(tenant_a, _line())
    with tenant_context(tenant_a):
        imported = Ticket.objects.get()
        # The same ticket through the per-ticket services, message by message.
        original = _ticket()
        reference = services.ticket_open(
            tenant=tenant_a, actor=None, subject=original["subject"], description=original["description"],
            requester_email="other@example.com", created_at=_at(OPENED),
        )  # fmt: skip
        for message in original["messages"]:
            services.message_post(
                ticket=reference, actor=None, body=message["body"], author_type=message["author_type"],
                internal=message.get("internal", False), created_at=_at(message["created_at"]),
            )  # fmt: skip
        reference.refresh_from_db()
    fields = ["sentiment", "opening_sentiment", "follow_up_count", "exchange_count", "last_author_type",
              "first_response_at", "last_customer_message_at", "last_agent_reply_at"]  # fmt: skip
    assert {f: getattr(imported, f) for f in fields} == {f: getattr(reference, f) for f in fields}
    assert imported.follow_up_count == 1 and imported.exchange_count == 2
    assert imported.opening_sentiment is not None and imported.opening_sentiment != imported.sentiment
    assert imported.first_response_at == _at("2024-03-01T10:00:00Z")


def test_it_sorts_a_thread_given_out_of_order_before_counting(tenant_a):
    messages = [
        {"author_type": "customer", "body": "Still broken.", "created_at": "2024-03-03T09:00:00Z"},
        {"author_type": "agent", "body": "Fixed it.", "created_at": "2024-03-02T09:00:00Z"},
    ]
    _import(tenant_a, _line(messages=messages))
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get()
        bodies = list(Message.objects.filter(ticket=ticket).order_by("id").values_list("body", flat=True))
    assert bodies == ["Fixed it.", "Still broken."]
    assert (ticket.last_author_type, ticket.follow_up_count, ticket.exchange_count) == ("customer", 1, 2)


@pytest.mark.parametrize(
    ("status", "solved", "closed"),
    [("new", False, False), ("pending", False, False), ("solved", True, False), ("closed", True, True)],
)
def test_it_stamps_solved_and_closed_times_from_the_status(tenant_a, status, solved, closed):
    _import(tenant_a, _line(status=status, updated_at="2024-03-05T12:00:00Z"))
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get()
    assert ticket.status == status
    assert ticket.updated_at == _at("2024-03-05T12:00:00Z")
    assert ticket.solved_at == (ticket.updated_at if solved else None)
    assert ticket.closed_at == (ticket.updated_at if closed else None)


def test_it_applies_the_defaults_of_the_api_to_absent_null_or_empty_fields(tenant_a):
    minimal = {"subject": "Hi", "description": "Help", "requester": {"email": "a@b.test"}, "created_at": OPENED,
               "priority": "", "category": None, "messages": None}  # fmt: skip
    _import(tenant_a, json.dumps(minimal))
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get()
    assert (ticket.status, ticket.priority, ticket.channel, ticket.category, ticket.tags) == (
        "new", "normal", "api", "", [],
    )  # fmt: skip
    assert ticket.updated_at == ticket.created_at == ticket.last_customer_message_at == _at(OPENED)
    assert ticket.first_response_at is None and ticket.follow_up_count == 0


# --- bad lines ----------------------------------------------------------------------------------

LONG = "x" * 501
BAD_LINES = [
    ('{"subject": "no end"', importer.ERR_JSON.format(detail="Expecting ',' delimiter at column 21")),
    (json.dumps({**_ticket(), "subject": None}), importer.ERR_MISSING.format(field="subject")),
    (_line(requester={"name": "Pat"}), importer.ERR_MISSING.format(field="requester.email")),
    (_line(priority="critical"), importer.ERR_CHOICE.format(
        field="priority", choices="low, normal, high, urgent", value="critical")),
    (_line(status="archived"), importer.ERR_CHOICE.format(
        field="status", choices="new, open, pending, on_hold, solved, closed", value="archived")),
    (_line(priority=0), importer.ERR_CHOICE.format(field="priority", choices="low, normal, high, urgent", value=0)),
    (_line(tags="billing"), importer.ERR_TYPE.format(field="tags", kind="a list of slugs")),
    (_line(subject=42), importer.ERR_TYPE.format(field="subject", kind="a string")),
    (_line(created_at="2024-03-01T09:00:00"), importer.ERR_NAIVE.format(
        field="created_at", value="2024-03-01T09:00:00")),
    (_line(created_at="yesterday"), importer.ERR_DATETIME.format(field="created_at", value="yesterday")),
    (_line(created_at="2999-01-01T00:00:00Z"), importer.ERR_FUTURE.format(
        field="created_at", value="2999-01-01T00:00:00Z")),
    (_line(created_at="1901-01-01T00:00:00Z"), importer.ERR_TOO_OLD.format(
        field="created_at", value="1901-01-01T00:00:00Z", earliest="1990-01-01")),
    (_line(requester={"email": "not-an-email"}), importer.ERR_EMAIL.format(
        field="requester.email", value="not-an-email")),
    (_line(subject=LONG), importer.ERR_TOO_LONG.format(field="subject", limit=500)),
    (_line(description="nul \u0000 byte"), importer.ERR_UNSTORABLE.format(field="description", problem=ERR_NUL)),
    (_line(subject="lone \ud800 surrogate"), importer.ERR_UNSTORABLE.format(field="subject", problem=ERR_SURROGATE)),
    (_line(created_at="2024-03-01T09:00:00+23:59"), importer.ERR_UNSTORABLE.format(
        field="created_at", problem=ERR_OFFSET)),
    (_line(assignee="alice"), importer.ERR_UNKNOWN.format(field="assignee")),
    (_line(tags=["not a slug"]), importer.ERR_SLUG.format(field="tags[0]", value="not a slug")),
    (_line(messages=[{"author_type": "bot", "body": "hi", "created_at": OPENED}]), importer.ERR_CHOICE.format(
        field="messages[0].author_type", choices="customer, agent", value="bot")),
    (_line(messages=[{"author_type": "customer", "body": "hi", "internal": True, "created_at": OPENED}]),
     importer.ERR_CUSTOMER_INTERNAL.format(field="messages[0]")),
    (_line(messages=[{"author_type": "agent", "body": "hi", "created_at": "2020-01-01T00:00:00Z"}]),
     importer.ERR_BEFORE_TICKET.format(field="messages[0].created_at")),
    (_line(messages=[{"author_type": "agent", "body": " ", "created_at": OPENED}]),
     importer.ERR_BLANK.format(field="messages[0].body")),
    (_line(updated_at="2024-03-01T12:00:00Z"), importer.ERR_UPDATED_BEFORE),
    ("[1, 2]", importer.ERR_TYPE.format(field="the line", kind="an object")),
    (b'{"subject": "caf\xe9"}', importer.ERR_UTF8),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "message"), BAD_LINES)
def test_it_reports_a_bad_line_by_number_and_keeps_the_good_ones(tenant_a, bad, message):
    report = _import(tenant_a, _line(external_id="A"), bad, _line(external_id="C"))
    assert report.errors == [LineError(2, message)]
    assert (report.imported, report.skipped) == (2, 1)
    with tenant_context(tenant_a):
        assert Ticket.objects.count() == 2
        kept = TicketEvent.objects.filter(kind="imported").values_list("after__external_id", flat=True)
        assert sorted(kept) == ["A", "C"]


def test_it_refuses_an_external_id_already_seen_in_the_file(tenant_a):
    report = _import(tenant_a, _line(external_id=7), _line(external_id=8), _line(external_id=7), batch_size=2)
    assert report.errors == [LineError(3, importer.ERR_DUPLICATE.format(value=7, line=1))]
    assert report.imported == 2


def test_it_passes_over_blank_lines_without_losing_the_numbering(tenant_a):
    report = _import(tenant_a, _line(external_id=1), "", "  ", "{oops", _line(external_id=2))
    assert [error.line for error in report.errors] == [4]
    assert report.imported == 2 and report.last_committed_line == 5


# --- customers ----------------------------------------------------------------------------------


def test_it_reuses_an_existing_customer_case_insensitively_and_copies_the_account(tenant_a):
    with tenant_context(tenant_a):
        account = services.account_create(tenant=tenant_a, name="Initech", vip=True)
        existing = services.customer_create(tenant=tenant_a, actor=None, email="pat@example.com", account=account)
    _import(tenant_a, _line(requester={"email": "PAT@EXAMPLE.COM"}), _line(external_id="2"))
    with tenant_context(tenant_a):
        assert Customer.objects.count() == 1
        tickets = list(Ticket.objects.all())
    assert {(t.requester_id, t.account_id) for t in tickets} == {(existing.pk, account.pk)}


def test_it_fills_an_empty_customer_name_but_never_overwrites_one(tenant_a):
    with tenant_context(tenant_a):
        services.customer_create(tenant=tenant_a, actor=None, email="pat@example.com")
        services.customer_create(tenant=tenant_a, actor=None, email="sam@example.com", name="Sam Original")
    _import(tenant_a, _line(), _line(external_id="2", requester={"email": "sam@example.com", "name": "Imposter"}))
    with tenant_context(tenant_a):
        assert dict(Customer.objects.values_list("email", "name")) == {
            "pat@example.com": "Pat",
            "sam@example.com": "Sam Original",
        }


def test_it_creates_one_customer_for_many_tickets_of_a_new_requester(tenant_a):
    lines = [_line(external_id=n, requester={"email": f"{'NEW' if n % 2 else 'new'}@example.com"}) for n in range(5)]
    _import(tenant_a, *lines, batch_size=2)
    with tenant_context(tenant_a):
        assert list(Customer.objects.values_list("email", flat=True)) == ["new@example.com"]
        assert Ticket.objects.values("requester").distinct().count() == 1


# --- tenancy, search, audit ---------------------------------------------------------------------


def test_it_never_writes_into_another_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        services.customer_create(tenant=tenant_b, actor=None, email="pat@example.com", name="Pat of Globex")
    _import(tenant_a, _line())
    with tenant_context(tenant_b):
        assert Ticket.objects.count() == 0 and Message.objects.count() == 0 and TicketEvent.objects.count() == 0
        assert list(Customer.objects.values_list("name", flat=True)) == ["Pat of Globex"]
    with tenant_context(tenant_a):
        ticket = Ticket.objects.select_related("requester").get()
    assert ticket.tenant_id == ticket.requester.tenant_id == tenant_a.pk


def test_search_finds_an_imported_ticket_by_a_word_of_its_messages(tenant_a):
    _import(tenant_a, _line(), _line(external_id="2", messages=[]))
    with tenant_context(tenant_a):
        found = selectors.ticket_search(selectors.ticket_list(tenant=tenant_a), "gateway")
        by_subject = selectors.ticket_search(selectors.ticket_list(tenant=tenant_a), "invoice")
        assert [t.tags for t in found] == [["billing", "refund"]]
        assert found.get().events.get().after["external_id"] == "ZD-1"
        assert by_subject.count() == 2


def test_it_records_one_imported_event_per_ticket(tenant_a):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    _import(tenant_a, _line(), _line(external_id=None, subject="Second"), now=now)
    with tenant_context(tenant_a):
        events = list(TicketEvent.objects.order_by("ticket_id"))
        assert [e.ticket.subject for e in events] == ["Invoice charged twice", "Second"]
    assert {(e.kind, e.actor_id, e.actor_label, e.created_at) for e in events} == {("imported", None, "import", now)}
    assert events[0].after == {
        "subject": "Invoice charged twice", "priority": "high", "channel": "email", "category": "billing",
        "requester": "pat@example.com", "status": "open", "messages": 3, "external_id": "ZD-1",
    }  # fmt: skip
    assert "external_id" not in events[1].after


# --- batches ------------------------------------------------------------------------------------


@pytest.mark.parametrize("helper_process", [True, False])
def test_it_runs_a_constant_number_of_queries_per_batch(tenant_a, django_assert_max_num_queries, helper_process):
    # Per batch: savepoint (the test's transaction is outside), tenant on, external ids already imported,
    # customers select + insert, ticket ids, tickets, messages, events, tenant off, release = 11, for 5
    # tickets as for 50.
    for size in (5, 50):
        lines = [_line(external_id=f"{size}-{n}", requester={"email": f"c{size}-{n}@example.com"}) for n in range(size)]
        with django_assert_max_num_queries(11) as captured:
            report = _import(tenant_a, *lines, batch_size=size, helper_process=helper_process)
        assert report.imported == size
        assert len(captured) == 11


def test_it_keeps_the_committed_batches_when_the_input_breaks_off(tenant_a):
    def lines():
        for n in range(5):
            yield _line(external_id=n)
        raise OSError("connection to the export server lost")

    broken = importer.TicketImporter(tenant=tenant_a, batch_size=2)
    with pytest.raises(OSError):
        broken.run(lines())
    assert (broken.report.imported, broken.report.last_committed_line) == (4, 4)
    with tenant_context(tenant_a):
        assert Ticket.objects.count() == 4
    resumed = importer.TicketImporter(tenant=tenant_a).run([_line(external_id=n) for n in range(5)], start_line=5)
    assert resumed.imported == 1
    with tenant_context(tenant_a):
        assert Ticket.objects.count() == 5


# --- the command --------------------------------------------------------------------------------


def test_the_command_prints_errors_by_line_and_exits_1_when_a_line_was_skipped(tenant_a, tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join([_line(external_id=1), _line(priority="asap"), _line(external_id=3)]) + "\n")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_tickets", "acme", str(path), stdout=out, stderr=err)
    assert exited.value.code == 1
    assert err.getvalue().splitlines() == [
        "line 2: " + importer.ERR_CHOICE.format(field="priority", choices="low, normal, high, urgent", value="asap")
    ]
    assert out.getvalue().startswith("imported 2 tickets, skipped 1 lines in ")
    with tenant_context(tenant_a):
        assert Ticket.objects.count() == 2


def test_the_command_reads_stdin_and_exits_0_when_all_lines_imported(tenant_a, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO((_line() + "\n" + _line(external_id=2) + "\n").encode()))
    monkeypatch.setattr("sys.stdin", stdin)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_tickets", "acme", "-", stdout=out, stderr=err)
    assert out.getvalue().startswith("imported 2 tickets, skipped 0 lines")
    assert err.getvalue() == ""


def test_the_command_refuses_an_unknown_tenant(db, tmp_path):
    with pytest.raises(CommandError, match="no tenant 'nope'"):
        call_command("import_tickets", "nope", str(tmp_path / "x.jsonl"))


def test_the_command_starts_the_clocks_of_imported_open_tickets(db, tmp_path):
    import json as _json
    from datetime import timedelta as _td

    from django.core.management import call_command
    from django.utils import timezone as _tz

    from helpdesk import workflows
    from slas.models import SlaTimer

    tenant = workflows.tenant_bootstrap(slug="importer", name="Importer")
    created = (_tz.now() - _td(days=10)).isoformat()
    lines = [
        {
            "subject": "Still open",
            "description": "Help",
            "requester": {"email": "a@x.test"},
            "created_at": created,
            "priority": "urgent",
            "status": "open",
        },
        {
            "subject": "Done",
            "description": "Thanks",
            "requester": {"email": "b@x.test"},
            "created_at": created,
            "status": "solved",
        },
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(_json.dumps(line) for line in lines))
    call_command("import_tickets", "importer", str(path))
    with tenant_context(tenant):
        timers = list(SlaTimer.objects.values_list("ticket__subject", "metric", "status"))
    assert sorted(timers) == [("Still open", "first_response", "running"), ("Still open", "resolution", "running")]
    report = workflows.sweep()
    assert report.breached == 2


def test_a_first_response_given_late_before_the_import_flags_the_ticket_breached(db, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from helpdesk import workflows
    from slas.models import SlaTimer

    tenant = workflows.tenant_bootstrap(slug="importer", name="Importer")
    opened = timezone.now() - timedelta(days=3)
    late, prompt = (opened + timedelta(hours=5)).isoformat(), (opened + timedelta(minutes=5)).isoformat()
    lines = [
        _line(external_id=f"ZD-{n}", priority="urgent", created_at=opened.isoformat(), subject=subject,
              messages=[{"author_type": "agent", "body": "On it.", "created_at": answered}])
        for n, (subject, answered) in enumerate([("Answered late", late), ("Answered at once", prompt)])
    ]  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines))
    call_command("import_tickets", "importer", str(path), stdout=io.StringIO())
    with tenant_context(tenant):
        flags = dict(Ticket.objects.values_list("subject", "sla_breached"))
        first = dict(SlaTimer.objects.filter(metric="first_response").values_list("ticket__subject", "status"))
    assert flags == {"Answered late": True, "Answered at once": False}
    assert first == {"Answered late": "breached", "Answered at once": "met"}


def test_a_second_run_of_the_same_file_imports_nothing_twice(tenant_a):
    lines = [_line(external_id="ZD-1"), _line(external_id=2), _line(external_id=None)]
    first = _import(tenant_a, *lines)
    assert (first.imported, first.already_imported, first.skipped) == (3, 0, 0)
    again = _import(tenant_a, *lines, _line(external_id="ZD-3"))
    # The two with an external_id are recognised; one without can't be, and is imported again.
    assert (again.imported, again.already_imported, again.skipped) == (2, 2, 0)
    assert "2 already imported before" in again.summary()
    with tenant_context(tenant_a):
        assert sorted(Ticket.objects.exclude(external_id=None).values_list("external_id", flat=True)) == [
            "2",
            "ZD-1",
            "ZD-3",
        ]
        assert Ticket.objects.count() == 5
