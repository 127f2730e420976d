"""`migrate`, run as the table owner, then (re)grant the app role its privileges.

Django's own migrate runs with the connection's usual role, which here is the app role that may not
create tables. This wrapper is picked up instead of Django's because `helpdesk` is listed first in
INSTALLED_APPS; pytest-django's test database setup calls it too.
"""

from django.core.management.commands import migrate

from helpdesk.db.base import owner_mode
from helpdesk.db.roles import ensure_app_role, grant_app_role


class Command(migrate.Command):
    def handle(self, *args, **options):
        with owner_mode(options["database"]) as connection:
            with connection.cursor() as cursor:
                ensure_app_role(cursor)
            super().handle(*args, **options)
            with connection.cursor() as cursor:
                grant_app_role(cursor)
