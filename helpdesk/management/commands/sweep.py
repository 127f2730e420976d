import json

from django.core.management.base import BaseCommand

from helpdesk import workflows


class Command(BaseCommand):
    help = "Run one sweep now (SLA timers, time-based rules, outbox), as beat does every SWEEP_INTERVAL_S."

    def handle(self, *args, **options):
        report = workflows.sweep()
        self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
