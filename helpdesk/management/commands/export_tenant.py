"""`manage.py export_tenant SLUG FILE.jsonl`: everything a tenant owns that a restore brings back, in the
format `import_tickets` reads (helpdesk/portability.py; docs/BACKUP.md). FILE '-' writes to stdout."""

import sys
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError

from helpdesk import workflows
from helpdesk.models import Tenant


class Command(BaseCommand):
    help = "Export a tenant's tickets, conversations, history and configuration as JSON Lines."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("file")

    def handle(self, *args, slug, file, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        try:
            target = nullcontext(sys.stdout) if file == "-" else open(file, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc.strerror}") from None
        with target as out:
            report = workflows.tenant_export(tenant=tenant, out=out)
        # The summary goes to stderr: stdout may be the export itself.
        self.stderr.write(report.summary())
