from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_init, post_save

        from products.models import KPI
        from products.panels import KPI_DECORATORS, register_panel
        from products.signals import demo_seeded

        from . import demo, kpi_alerts, kpi_tasks, kpis, panels, schedules, views_kpis
        from .models import Check
        from .views_dashboards import dashboards_panel_context

        # products never imports quality: the demo's checks join through this signal.
        demo_seeded.connect(demo.on_demo_seeded, dispatch_uid="quality.demo_checks")
        # Beat's schedules follow the checks (one PeriodicTask per output and cron).
        post_init.connect(schedules.on_check_loaded, sender=Check, dispatch_uid="quality.check_loaded")
        post_save.connect(schedules.on_check_saved, sender=Check, dispatch_uid="quality.check_schedules")
        post_delete.connect(schedules.on_check_deleted, sender=Check, dispatch_uid="quality.check_unscheduled")
        # A KPI's stored series follows its calculation: a change drops the old points and computes anew.
        post_init.connect(kpi_tasks.on_kpi_loaded, sender=KPI, dispatch_uid="quality.kpi_loaded")
        post_save.connect(kpi_tasks.on_kpi_saved, sender=KPI, dispatch_uid="quality.kpi_saved")
        kpis.AFTER_COMPUTE.append(kpi_alerts.evaluate_run)  # each computed KPI is judged against its alert rule
        # The product page's Quality section, after the SLOs it measures.
        register_panel("quality", "quality/_quality_panel.html", 65, panels.quality_context, title="Quality")
        KPI_DECORATORS.append(views_kpis.decorate_kpi_panel)  # the KPI panel: each KPI's value, change and status
        register_panel("dashboards", "quality/_dashboards_panel.html", 45, dashboards_panel_context, title="Dashboards")
