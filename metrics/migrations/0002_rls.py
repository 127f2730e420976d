"""Row-level security on the metrics app's tables."""

from django.db import migrations

from helpdesk.rls import enable_tenant_rls


class Migration(migrations.Migration):
    dependencies = [("metrics", "0001_initial")]

    operations = [enable_tenant_rls("metrics_healththreshold"), enable_tenant_rls("metrics_csatresponse")]
