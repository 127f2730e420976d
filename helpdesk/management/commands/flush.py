"""`flush` (TRUNCATE of every table) needs the owner: the app role may not truncate."""

from django.core.management.commands import flush

from helpdesk.db.base import owner_mode


class Command(flush.Command):
    def handle(self, **options):
        with owner_mode(options["database"]):
            super().handle(**options)
