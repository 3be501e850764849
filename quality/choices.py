from django.db import models


class Operator(models.TextChoices):
    """How the observed value must compare with the threshold for a check to pass."""

    EQ = "eq", "equals"
    NE = "ne", "differs from"
    LT = "lt", "less than"
    LTE = "lte", "at most"
    GT = "gt", "greater than"
    GTE = "gte", "at least"
    BETWEEN = "between", "between (inclusive)"


OPERATOR_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class Severity(models.TextChoices):
    WARN = "warn", "Warn"
    FAIL = "fail", "Fail"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    PASS = "pass", "Pass"
    WARN = "warn", "Warn"
    FAIL = "fail", "Fail"
    ERROR = "error", "Error"


FINISHED_STATUSES = (RunStatus.PASS, RunStatus.WARN, RunStatus.FAIL, RunStatus.ERROR)


class SLOState(models.TextChoices):
    """Where an SLO stands over its window; ``unknown`` when there is nothing to measure yet."""

    MET = "met", "Met"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    UNKNOWN = "unknown", "Unknown"


class Health(models.TextChoices):
    """A product's health, the worst of its SLOs, its latest check results and its open incidents."""

    HEALTHY = "healthy", "Healthy"
    WARNING = "warning", "Warning"
    FAILING = "failing", "Failing"
    UNKNOWN = "unknown", "Unknown"


# Worst first: search sorts products by health in this order.
HEALTH_ORDER = (Health.FAILING, Health.WARNING, Health.UNKNOWN, Health.HEALTHY)


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


ACTIVE_INCIDENT_STATUSES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class IncidentEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    FAILED_AGAIN = "failed_again", "Failed again"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    AUTO_RESOLVED = "auto_resolved", "Resolved by a passing run"


class KPIRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "Computed"
    ERROR = "error", "Error"


class KPIAlertState(models.TextChoices):
    OK = "ok", "Within its band"
    BREACH = "breach", "Outside its band"
    UNKNOWN = "unknown", "Not enough history"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
