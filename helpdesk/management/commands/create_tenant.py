from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from helpdesk import workflows
from helpdesk.models import Tenant


class Command(BaseCommand):
    help = "Create a tenant with its default calendar, SLA policies and escalation matrix."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args, slug, name, timezone, **options):
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(f"tenant {slug!r} already exists")
        try:
            tenant = workflows.tenant_bootstrap(slug=slug, name=name, timezone=timezone)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"created tenant {tenant.slug} (id {tenant.pk})")
