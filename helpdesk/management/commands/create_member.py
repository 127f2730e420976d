import sys

from django.core.management.base import BaseCommand, CommandError

from helpdesk import workflows
from helpdesk.members import MemberError
from helpdesk.models import Role, Team, Tenant
from helpdesk.tenancy import tenant_context


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    # Tests hand the password in as `stdin=` (as Django's createsuperuser does).
    stealth_options = ("stdin",)
    help = (
        "Add a member to a tenant. With --password-stdin the password is read from standard input; without "
        "it an invitation is e-mailed to --email. Prints the member id alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, required=True)
        parser.add_argument("--tier", type=int, default=1, help="0 (self-service/bot) to 3")
        parser.add_argument("--skills", default="", help="comma-separated slugs, e.g. billing,refunds")
        parser.add_argument("--capacity", type=int, default=20, help="open tickets this member can carry")
        parser.add_argument("--email", default="")
        parser.add_argument("--name", default="", help="the person's full name")
        parser.add_argument("--teams", default="", help="comma-separated team names of the tenant")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (never from the command line, where ps shows it)",
        )

    def handle(self, *args, slug, username, password_stdin, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        password = self._password(options.get("stdin") or sys.stdin) if password_stdin else None
        with tenant_context(tenant):
            teams = self._teams(tenant, _names(options["teams"]))
            try:
                membership = workflows.member_add(
                    tenant=tenant,
                    actor=None,
                    username=username,
                    email=options["email"],
                    name=options["name"],
                    password=password,
                    role=options["role"],
                    tier=options["tier"],
                    skills=_names(options["skills"]),
                    capacity=options["capacity"],
                    teams=teams,
                )
            except MemberError as exc:
                raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in exc.fields.items())) from None
        how = "with a password" if password else f"invited at {membership.user.email}"
        self.stderr.write(f"{membership.role} {username} added to {tenant.slug} ({how}); member id:")
        self.stdout.write(str(membership.pk))

    def _password(self, stream) -> str:
        # One line: what `echo` or a password manager pipes in, without its line break.
        password = stream.readline().rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin: standard input held no password")
        return password

    def _teams(self, tenant: Tenant, names: list[str]) -> list[Team]:
        teams = {team.name: team for team in Team.objects.filter(tenant=tenant, name__in=names)}
        missing = [name for name in names if name not in teams]
        if missing:
            raise CommandError(f"no team {', '.join(map(repr, missing))} in {tenant.slug}")
        return [teams[name] for name in names]
