"""`manage.py import_tickets SLUG FILE.jsonl`: bulk import from another helpdesk (format: tickets/importer.py),
and the restore of a tenant export (`manage.py export_tenant`, helpdesk/portability.py, docs/BACKUP.md).

Errors go to stderr as `line N: message` while the import runs; the summary goes to stdout. Exit code
0 when every line was imported, 1 when any was skipped (the good lines are kept either way).
"""

import sys
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError

from helpdesk.models import Tenant
from helpdesk.portability import RestoreError
from tickets.importer import BATCH_SIZE, LineError, TicketImporter

EXIT_SKIPPED = 1
ERR_NO_TENANT = "no tenant {slug!r}"
ERR_NO_FILE = "cannot read {path}: {reason}"
INTERRUPTED = "interrupted: lines up to {line} are committed or reported; resume with --from-line {next}"


class Command(BaseCommand):
    help = "Import tickets, one JSON object per line, into a tenant (FILE '-' reads stdin)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("file")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument(
            "--from-line", type=int, default=1, help="skip the lines before this one (to resume an interrupted import)"
        )

    def handle(self, *args, slug, file, batch_size, from_line, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(ERR_NO_TENANT.format(slug=slug))
        if batch_size < 1 or from_line < 1:
            raise CommandError("--batch-size and --from-line must be at least 1")
        # The workflow's hooks: the SLA clocks of each batch start in the batch's own transaction; the record
        # lines of a tenant export (manage.py export_tenant) are restored once the tickets are in.
        from helpdesk.workflows import tenant_restore

        restore = tenant_restore(tenant=tenant)
        importer = TicketImporter(
            tenant=tenant,
            batch_size=batch_size,
            on_error=self._print_error,
            after_batch=restore.after_batch,
            on_record=restore.record,
        )
        try:
            with _open(file) as lines:
                report = importer.run(lines, start_line=from_line)
            if restore.restoring:
                self.stdout.write(restore.finish().summary())
        except RestoreError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            line = importer.report.last_committed_line
            self.stderr.write(INTERRUPTED.format(line=line, next=line + 1))
            self.stdout.write(importer.report.summary())
            sys.exit(130)
        self.stdout.write(report.summary())
        if report.skipped:
            sys.exit(EXIT_SKIPPED)

    def _print_error(self, error: LineError) -> None:
        self.stderr.write(str(error))


def _open(path: str):
    if path == "-":
        # stdin is not ours to close.
        return nullcontext(sys.stdin.buffer)
    try:
        # Binary: each line is decoded by the importer, so one badly encoded line is that line's error.
        return open(path, "rb")
    except OSError as exc:
        raise CommandError(ERR_NO_FILE.format(path=path, reason=exc.strerror)) from None
