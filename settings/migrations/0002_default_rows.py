"""Create the rows of the two settings the site starts with, holding their defaults.

Later settings need no migration: the admin creates missing rows on demand.
"""

from django.db import migrations

INITIAL = {"SysMsgLib": "asterisk", "SysMsgServerNode": ""}


def create_rows(apps, schema_editor):
    SystemSetting = apps.get_model("system_settings", "SystemSetting")
    for code, value in INITIAL.items():
        SystemSetting.objects.get_or_create(code=code, defaults={"value": value})


class Migration(migrations.Migration):
    dependencies = [("system_settings", "0001_initial")]

    operations = [migrations.RunPython(create_rows, migrations.RunPython.noop)]
