import json

from django.core.management.base import BaseCommand

from helpdesk import workflows


class Command(BaseCommand):
    help = "Read every active IMAP mailbox now (as the beat task does every MAIL_POLL_INTERVAL_S); prints a report."

    def handle(self, *args, **options):
        reports = workflows.mail_poll_all()
        self.stdout.write(json.dumps([vars(report) for report in reports], sort_keys=True))
