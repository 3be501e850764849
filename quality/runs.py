"""'Run now': a steward asks for an output's checks (or some of them) to run at once on a worker."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from access import policy
from products.models import Output

from .models import Check, CheckRun, now_slot
from .tasks import enqueue_output_checks


@transaction.atomic
def run_now(user, output: Output, checks: list[Check] | None = None) -> list[CheckRun]:
    """Pending runs, for this second, of the given enabled checks (default: all of the output's), queued for a worker.

    Needs change permission on the product (404 when the user cannot see it, 403 when they
    only see it). The runs are returned at once so a page or the API can point at them. A broker
    that is down does not fail the request: the runs stay pending, the error is logged, and
    ``quality.tasks.requeue_stale_runs`` sends them once the broker is back.
    """
    policy.require(user, policy.CHANGE, output.product)
    chosen = checks if checks is not None else list(output.checks.filter(enabled=True))
    chosen = [check for check in chosen if check.enabled and check.output_id == output.pk]
    if not chosen:
        raise ValidationError({"checks": "There is no enabled check to run."})
    slot = now_slot()
    runs = [CheckRun.objects.get_or_create(quality_check=check, scheduled_for=slot)[0] for check in chosen]
    enqueue_output_checks(output, slot, checks=chosen)
    return runs
