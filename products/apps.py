from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Data products"

    def ready(self) -> None:
        from . import signals, versions

        versions.connect()  # every committed change to a spec records a version

        post_migrate.connect(signals.ensure_roles, sender=self)
