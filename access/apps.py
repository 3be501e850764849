from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        from products.panels import register_panel

        from . import audit, panels

        audit.connect()
        # The product page's Access section, after People (products never imports access's pages).
        register_panel("access", "access/_access_panel.html", 75, panels.access_context, title="Access")
