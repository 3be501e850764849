from django.core.management.base import BaseCommand

from quality.schedules import sync_all_schedules


class Command(BaseCommand):
    help = "Rebuild the django-celery-beat schedules of every enabled check (idempotent)."

    def handle(self, *args, **options) -> None:
        outputs, removed = sync_all_schedules()
        self.stdout.write(f"Check schedules in step for {outputs} output(s); {removed} stale task(s) removed.")
