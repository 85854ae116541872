"""Version 1 of every surface's FeedConfig, with the default parameters, active."""
from django.db import migrations


def create_defaults(apps, schema_editor):
    from personalization.ranking.config import default_params

    FeedConfig = apps.get_model("personalization", "FeedConfig")
    for surface in ("home", "category", "market_related"):
        if not FeedConfig.objects.filter(surface=surface).exists():
            FeedConfig.objects.create(
                surface=surface, version=1, is_active=True, params=default_params(), note="defaults"
            )


class Migration(migrations.Migration):
    dependencies = [("personalization", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
