"""The demo products' standard checks, made to find the flaws planted in their data (``products.demo.datasets``).

Every output gets: rows present, its unique key present and unique, other keys mostly present,
well-formed emails, no negative money, fresh data on its time column, and a schema that matches
its spec. Idempotent: a second run finds every check as it left it and changes nothing.
"""

from __future__ import annotations

from products.choices import ColumnRole, DataType
from products.demo import specs
from products.models import SLO, Output

from .choices import Operator, Severity
from .models import Check

EMAIL_REGEX = r"[^@\s]+@[^@\s]+\.[^@\s]+"
# The demo's data is generated once a day, up to the day before; a server left running for a day
# must not see it go stale, but the scoring run that stopped 12 days ago must be.
MAX_AGE_HOURS = 72
MONEY_TYPES = {DataType.FLOAT, DataType.DECIMAL}
# Time columns that date an entity rather than a delivery: they say nothing about freshness.
NOT_DELIVERY_TIMES = {"signup_date", "launched_on"}


# Outputs whose key an SLO promises unique ("Order ids complete and unique", "Customer ids …").
UNIQUE_PROMISED = {"orders", "customers"}
# Which checks measure which SLO: {product slug: {SLO name: [(output, check name), ...]}}.
SLO_MEASURES = {
    "sales-intelligence": {
        "Orders ready by 06:00": [("orders", "fresh"), ("orders", "rows present")],
        "Order ids complete and unique": [("orders", "order_id present"), ("orders", "order_id unique")],
        "Net revenue published daily": [("orders", "revenue not negative"), ("order_lines", "fresh")],
    },
    "product-engagement": {
        "Events land within two hours": [("raw_events", "fresh"), ("sessions", "fresh")],
        "DAU computed every day": [("user_daily_activity", "fresh"), ("user_daily_activity", "rows present")],
    },
    "retail-cross-sell": {
        "Outputs ready for the recommendation feed": [("purchases", "fresh"), ("customer_affinity", "rows present")],
        "Customer ids complete and unique": [("customers", "customer_id present"), ("customers", "customer_id unique")],
        "Affinity scores fresh": [("customer_affinity", "fresh")],
        "Wine spend valid": [("customer_affinity", "mnt_wines not negative")],
    },
    "churn-early-warning": {
        "Scores ready for the morning list": [("churn_scores", "fresh"), ("churn_scores", "rows present")],
    },
}


def on_demo_seeded(sender, **kwargs) -> None:
    seed_demo_checks()
    link_demo_slos()
    compute_demo_kpis()


def compute_demo_kpis() -> None:
    """Every demo KPI's series, computed now, so the pages open on numbers rather than on "not computed yet"."""
    from .kpi_tasks import computable
    from .kpis import compute_many

    demo_slugs = [spec["slug"] for spec in specs.PRODUCTS]
    chosen = computable().filter(product__slug__in=demo_slugs).select_related("output", "output__connection")
    compute_many(list(chosen), trigger="demo")


def link_demo_slos() -> None:
    """Name the checks that measure each demo SLO (idempotent: ``set`` replaces the links)."""
    for slug, slos in SLO_MEASURES.items():
        for slo in SLO.objects.filter(product__slug=slug, name__in=slos):
            wanted = slos[slo.name]
            checks = [
                check
                for check in Check.objects.filter(product=slo.product).select_related("output")
                if (check.output.name, check.name) in wanted
            ]
            slo.checks.set(checks)


def seed_demo_checks() -> list[Check]:
    checks = []
    for product in specs.PRODUCTS:
        for spec in product["outputs"]:
            output = Output.objects.filter(product__slug=product["slug"], name=spec["name"]).first()
            if output is not None:
                checks += [upsert(output, name, values) for name, values in standard_checks(spec).items()]
    return checks


def standard_checks(spec: dict) -> dict[str, dict]:
    """The standard check set of one demo output, by check name."""
    columns = [
        dict(zip(("name", "data_type", "role", "classification"), column, strict=False)) for column in spec["columns"]
    ]
    unique = spec["unique"]
    found = {"rows present": rule("row_count", Operator.GT, 0)}
    for name in unique:
        found[f"{name} present"] = rule("missing_count", Operator.EQ, 0, column=name)
    for column in columns:
        if column["role"] == ColumnRole.KEY and column["name"] not in unique:
            found[f"{column['name']} present"] = rule(
                "missing_count", Operator.EQ, 0, column=column["name"], severity=Severity.WARN
            )
            found[f"{column['name']} mostly present"] = rule("missing_percent", Operator.LTE, 1, column=column["name"])
    # Every demo table carries a few duplicate keys; only the keys an SLO promises unique fail on them.
    severity = Severity.FAIL if spec["name"] in UNIQUE_PROMISED else Severity.WARN
    found[f"{' + '.join(unique)} unique"] = rule(
        "duplicate_count", Operator.EQ, 0, columns=list(unique), severity=severity
    )
    for column in columns:
        if "email" in column["name"]:
            found[f"{column['name']} well-formed"] = rule(
                "invalid_count", Operator.EQ, 0, column=column["name"], params={"regex": EMAIL_REGEX},
                severity=Severity.WARN,
            )  # fmt: skip
        if column["role"] == ColumnRole.MEASURE and column["data_type"] in MONEY_TYPES:
            found[f"{column['name']} not negative"] = rule(
                "invalid_count", Operator.EQ, 0, column=column["name"], params={"min": 0}
            )
    time_column = next(
        (c["name"] for c in columns if c["role"] == ColumnRole.TIME and c["name"] not in NOT_DELIVERY_TIMES), None
    )
    if time_column:
        found["fresh"] = rule(
            "freshness", Operator.LTE, MAX_AGE_HOURS, column=time_column, params={"max_age_hours": MAX_AGE_HOURS}
        )
    found["schema matches the spec"] = rule("schema", Operator.EQ, 0)
    return found


def rule(check_type: str, operator: str, threshold: float, severity: str = Severity.FAIL, **values) -> dict:
    return {
        "check_type": check_type,
        "operator": operator,
        "threshold": float(threshold),
        "threshold_high": None,
        "severity": severity,
        "column": values.get("column", ""),
        "columns": values.get("columns", []),
        "params": values.get("params", {}),
    }


def upsert(output: Output, name: str, values: dict) -> Check:
    """Create the check or bring it in line with ``values``; saved, after ``full_clean``, only if something differs."""
    check = Check.objects.filter(output=output, name=name).first() or Check(output=output, name=name)
    changed = check.pk is None
    for field, value in values.items():
        if getattr(check, field) != value:
            setattr(check, field, value)
            changed = True
    if changed:
        check.full_clean()
        check.save()
    return check
