"""`manage.py setup_periodic_tasks`: register the periodic tasks with django-celery-beat (idempotent)."""
from django.core.management.base import BaseCommand

from ops.services import periodic_tasks_register


class Command(BaseCommand):
    help = (
        "Create or update the django-celery-beat entry (UTC crontab, expiry) of every periodic task. "
        "Safe to run on every deploy: a task paused in admin stays paused."
    )

    def handle(self, *args, **options):
        created, updated = periodic_tasks_register()
        for name in created:
            self.stdout.write(f"created {name}")
        for name in updated:
            self.stdout.write(f"updated {name}")
        if not created and not updated:
            self.stdout.write("periodic tasks already up to date")
