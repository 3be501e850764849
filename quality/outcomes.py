"""What follows a finished run: incidents opened or resolved, SLOs re-evaluated, product health refreshed.

Called once per run that reaches a final status (``CheckRun.finish``), from whichever path ran it:
a worker, the ``run_checks`` command, "run now", the redelivery cap.
"""

from __future__ import annotations


def after_run(run) -> None:
    from . import health, incidents, slo

    incidents.record_run(run)
    for measured in run.quality_check.slos.all():
        slo.evaluate(measured)
    health.refresh(run.quality_check.product_id)
