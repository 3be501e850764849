from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from products.signals import demo_seeded

        from . import demo

        # products never imports quality: the demo's checks join through this signal.
        demo_seeded.connect(demo.on_demo_seeded, dispatch_uid="quality.demo_checks")
