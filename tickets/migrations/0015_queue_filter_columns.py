"""The four queue indexes carry the filters agents combine (status, priority, account): a filtered view's count
reads the index alone (bench/WORKSPACE.md). Each is built beside the old one without locking out writes, then
swapped in by name, so the queues never run without their index while the largest table is indexed again."""

from django.db import migrations, models

QUEUE_INDEXES = (
    "ticket_unsolved_assignee",
    "ticket_unsolved_team",
    "ticket_unsolved_at_risk",
    "ticket_unsolved_breached",
)
UNSOLVED = models.Q(("status__in", ("new", "open", "pending", "on_hold")))
INCLUDE = ("status", "priority", "account")
NEW_INDEXES = (
    ("ticket_unsolved_assignee", ["tenant", "assignee", "-updated_at", "-id"], UNSOLVED),
    ("ticket_unsolved_team", ["tenant", "team", "-updated_at", "-id"], UNSOLVED),
    ("ticket_unsolved_at_risk", ["tenant", "-updated_at", "-id"], UNSOLVED & models.Q(("sla_at_risk", True))),
    ("ticket_unsolved_breached", ["tenant", "-updated_at", "-id"], UNSOLVED & models.Q(("sla_breached", True))),
)


def _swap_in(apps, schema_editor):
    ticket = apps.get_model("tickets", "Ticket")
    for index in (index for index in ticket._meta.indexes if index.name in QUEUE_INDEXES):
        built = index.clone()
        built.name = f"{index.name}_new"
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{built.name}"')  # a run interrupted before
        schema_editor.execute(built.create_sql(ticket, schema_editor, concurrently=True))
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')
        schema_editor.execute(f'ALTER INDEX "{built.name}" RENAME TO "{index.name}"')


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY

    dependencies = [
        ("helpdesk", "0014_subject_tokens"),
        ("tickets", "0014_account_manager"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(migrations.RemoveIndex(model_name="ticket", name=name) for name in QUEUE_INDEXES),
                *(
                    migrations.AddIndex(
                        model_name="ticket",
                        index=models.Index(condition=condition, fields=fields, include=INCLUDE, name=name),
                    )
                    for name, fields, condition in NEW_INDEXES
                ),
            ],
        ),
        # Backwards the wider indexes stay: the same names and key columns, so the older code reads them alike.
        migrations.RunPython(_swap_in, migrations.RunPython.noop),
    ]
