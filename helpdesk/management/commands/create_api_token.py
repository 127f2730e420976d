from django.core.management.base import BaseCommand, CommandError

from helpdesk import workflows
from helpdesk.models import Role, Tenant


class Command(BaseCommand):
    help = "Create an API token for a tenant. The token is printed alone on the last line, once."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--role", choices=Role.values, default=Role.AGENT)
        parser.add_argument("--name", default="", help="a label to recognise the token by")

    def handle(self, *args, slug, role, name, **options):
        try:
            tenant = Tenant.objects.get(slug=slug)
        except Tenant.DoesNotExist:
            raise CommandError(f"no tenant {slug!r}") from None
        token, key = workflows.api_token_create(tenant=tenant, actor=None, role=role, label=name)
        self.stderr.write(f"{role} token {token.prefix}… for {tenant.slug}; it is shown only now:")
        self.stdout.write(key)
