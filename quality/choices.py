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
