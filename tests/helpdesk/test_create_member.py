"""`manage.py create_member` (API.md, "Members"): the same use case as the API, from the command line."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from helpdesk.invitations import INVITED
from helpdesk.models import AuditEvent, Membership, OutboxEvent
from helpdesk.services import team_create
from helpdesk.tenancy import tenant_context

PASSWORD = "a-long-and-unusual-passphrase-42"


def _run(*args, stdin: str | None = None) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    extra = {"stdin": StringIO(stdin)} if stdin is not None else {}
    call_command("create_member", *args, stdout=out, stderr=err, **extra)
    return out.getvalue(), err.getvalue()


def test_it_adds_a_member_with_a_password_from_stdin(tenant_a):
    team_create(tenant=tenant_a, name="Billing")
    team_create(tenant=tenant_a, name="Tier 2")
    out, _ = _run(
        "acme", "dave", "--role", "manager", "--tier", "2", "--skills", "billing,refunds", "--email", "d@acme.test",
        "--teams", "Billing,Tier 2", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    member_id = int(out.strip().splitlines()[-1])
    with tenant_context(tenant_a):
        dave = Membership.objects.select_related("user").get(pk=member_id)
        teams = sorted(dave.teams.values_list("name", flat=True))
        audit = AuditEvent.objects.get(kind="member.added")
    assert (dave.user.username, dave.role, dave.tier, dave.skills) == ("dave", "manager", 2, ["billing", "refunds"])
    assert teams == ["Billing", "Tier 2"]
    assert (audit.object_id, audit.actor_label) == (member_id, "system")
    assert authenticate(username="dave", password=PASSWORD) is not None


def test_without_a_password_it_invites(tenant_a):
    out, _ = _run("acme", "dave", "--role", "agent", "--email", "dave@acme.test")
    with tenant_context(tenant_a):
        event = OutboxEvent.objects.get(type=INVITED)
    assert event.payload["membership"] == int(out.strip())
    assert not get_user_model().objects.get(username="dave").has_usable_password()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("nope", "dave", "--role", "agent", "--email", "d@x.test"), None, "no tenant 'nope'"),
        (("acme", "dave", "--role", "agent", "--tier", "9", "--email", "d@x.test"), None, "tier"),
        (("acme", "dave", "--role", "agent", "--skills", "not a slug", "--email", "d@x.test"), None, "skills"),
        (("acme", "dave", "--role", "agent"), None, "email"),
        (("acme", "dave", "--role", "agent", "--password-stdin"), "short\n", "password"),
        (("acme", "dave", "--role", "agent", "--password-stdin"), "", "no password"),
        (("acme", "dave", "--role", "agent", "--teams", "Ghosts", "--email", "d@x.test"), None, "no team 'Ghosts'"),
        (("acme", "charlie", "--role", "agent", "--email", "c@x.test"), None, "username is taken"),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(tenant_a, charlie, args, stdin, message):
    users_before = get_user_model().objects.count()
    with pytest.raises(CommandError, match=message):
        _run(*args, stdin=stdin)
    assert get_user_model().objects.count() == users_before
    with tenant_context(tenant_a):
        assert not Membership.objects.exists() and not AuditEvent.objects.exists()


def test_an_unknown_role_is_refused_with_a_non_zero_exit(tenant_a):
    # argparse refuses it before anything runs: exit status 2 and the valid choices on stderr.
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        _run("acme", "dave", "--role", "owner", "--email", "d@x.test")
    assert not get_user_model().objects.filter(username="dave").exists()


def test_the_command_line_exits_non_zero_for_an_unknown_tenant(db, capsys):
    from helpdesk.management.commands.create_member import Command

    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(
            ["manage.py", "create_member", "nope", "dave", "--role", "agent", "--email", "d@x.test"]
        )
    assert exited.value.code == 1
    assert "no tenant 'nope'" in capsys.readouterr().err
