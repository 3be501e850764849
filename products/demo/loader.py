"""Load the demo specs into the database and write their Parquet outputs.

Idempotent: every row is found by its natural key (a username, a slug, a part's title or name
within its product, a column's name within its output) and saved — after ``full_clean()`` —
only when a value differs, so a second run changes nothing. The loader adds what the specs
name and never removes what people added since (extra stewards, tags or goals stay).
People named on a product are added through the many-to-many managers, so the signals in
``products.signals`` grant their object permissions.

A Parquet file is written only when it is missing or was generated for another seed, size or
day (see ``datasets.is_current``): a second run on the same day touches no file.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pyarrow.parquet as pq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import models, transaction
from guardian.shortcuts import assign_perm

from products import choices
from products.models import (
    KPI,
    SLO,
    Dashboard,
    DataProduct,
    Domain,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    OutputColumn,
    ProductInput,
    RowFilter,
    Tag,
    Team,
    UsagePattern,
    UseCase,
)
from products.signals import ensure_roles
from utilities.paths import resolve_data_path

from . import datasets, specs


@dataclass
class OutputFile:
    path: str
    rows: int
    columns: int
    written: bool


@dataclass
class SeedResult:
    users: list
    products: list[DataProduct]
    files: list[OutputFile]


def seed(password: str, rows: int, anchor: date, regenerate: bool = False) -> SeedResult:
    """Load everything; the database part is one transaction."""
    with transaction.atomic():
        users = load_people(password)
        products = [load_product(spec, anchor, users) for spec in specs.PRODUCTS]
    files = [file for spec in specs.PRODUCTS for file in write_outputs(spec, rows, anchor, regenerate)]
    return SeedResult(users=list(users.values()), products=products, files=files)


# --- Generic ------------------------------------------------------------------------------


def assign(obj: models.Model, values: dict) -> bool:
    """Set the values that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def upsert(model: type[models.Model], lookup: dict, values: dict) -> models.Model:
    """The row with the natural key ``lookup``, created or updated to ``values``, validated before saving."""
    return update(model._default_manager.filter(**lookup).first() or model(**lookup), values)


def update(obj: models.Model, values: dict) -> models.Model:
    """Give ``obj`` the ``values`` and save it after ``full_clean()`` — if it is new or any value changed."""
    if obj.pk is None:
        for name, value in values.items():
            setattr(obj, name, value)
    elif not assign(obj, values):
        return obj
    obj.full_clean()
    obj.save()
    return obj


def month_end(anchor: date, months: int) -> date:
    """The last day of the month ``months`` after the anchor's month."""
    year, month = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + year, month + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# --- People and reference data --------------------------------------------------------------


def load_people(password: str) -> dict:
    """The demo users by username, with their groups, teams and the domains."""
    ensure_roles(sender=None)  # normally run after migrate; harmless to repeat
    Group.objects.get_or_create(name=settings.PRODUCT_MANAGERS_GROUP)
    demo_password = DemoPassword(password)
    users = {spec["username"]: load_user(spec, demo_password) for spec in specs.USERS}
    for spec in specs.DOMAINS:
        upsert(Domain, {"slug": spec["slug"]}, {"name": spec["name"], "description": spec["description"]})
    for spec in specs.TEAMS:
        team = upsert(Team, {"slug": spec["slug"]}, {"name": spec["name"], "description": spec["description"]})
        team.members.add(*[users[username] for username in spec["members"]])
    return users


class DemoPassword:
    """The demo password and one salted hash of it, shared by every demo user.

    PBKDF2 costs about half a second per hash: hashing once per run rather than once or twice per
    user keeps a re-run fast. Sharing the hash gives nothing away: the demo users share the
    password, and the command prints it.
    """

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._hash: str | None = None

    @property
    def hash(self) -> str:
        if self._hash is None:
            self._hash = make_password(self.raw)
        return self._hash

    def matches(self, user) -> bool:
        if self._hash is not None and user.password == self._hash:
            return True
        if user.pk is None or not user.check_password(self.raw):
            return False
        self._hash = self._hash or user.password
        return True


def load_user(spec: dict, password: DemoPassword):
    User = get_user_model()
    user = User.objects.filter(username=spec["username"]).first() or User(username=spec["username"])
    changed = assign(
        user,
        {
            "first_name": spec["first_name"],
            "last_name": spec["last_name"],
            "email": f"{spec['username']}@{specs.EMAIL_DOMAIN}",
            "is_active": True,
            "is_staff": spec.get("is_staff", False),
            "is_superuser": spec.get("is_superuser", False),
        },
    )
    if not password.matches(user):
        user.password = password.hash
        changed = True
    if changed:
        user.full_clean()
        user.save()
    for name in spec.get("groups", []):
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


# --- Products -------------------------------------------------------------------------------


def load_product(spec: dict, anchor: date, users: dict) -> DataProduct:
    product = upsert(
        DataProduct,
        {"slug": spec["slug"]},
        {
            "name": spec["name"],
            "domain": Domain.objects.get(slug=spec["domain"]),
            "summary": spec["summary"],
            "vision": spec["vision"],
            "status": spec["status"],
            "version": spec["version"],
            "owner": users[spec["owner"]],
        },
    )
    product.tags.add(*[upsert(Tag, {"name": name}, {}) for name in spec["tags"]])
    product.stewards.add(*[users[username] for username in spec["stewards"]])
    product.consumer_teams.add(*[Team.objects.get(slug=slug) for slug in spec["consumer_teams"]])
    goals = load_goals(product, spec["goals"], anchor)
    initiatives = load_initiatives(product, spec["initiatives"], goals)
    hypotheses = load_hypotheses(product, spec["hypotheses"], goals, initiatives)
    load_use_cases(product, spec["use_cases"], hypotheses)
    load_usage_patterns(product, spec["usage_patterns"])
    outputs = load_outputs(product, spec["outputs"])
    load_inputs(product, spec["inputs"])
    kpis = load_kpis(product, spec["kpis"], goals, outputs, users)
    if assign(product, {"north_star": kpis[spec["north_star"]]}):
        product.full_clean()
        product.save()
    load_slos(product, spec["slos"], kpis)
    load_dashboards(product, spec.get("dashboards", []))
    return product


def load_goals(product: DataProduct, goal_specs: list[dict], anchor: date) -> dict[str, Goal]:
    goals = {}
    for order, spec in enumerate(goal_specs):
        values = {
            "description": spec["description"],
            "success_measure": spec["success_measure"],
            "target_value": decimal(spec["target_value"]),
            "target_unit": spec["target_unit"],
            "target_date": month_end(anchor, spec["due_in_months"]),
            "order": order,
        }
        goals[spec["title"]] = upsert(Goal, {"product": product, "title": spec["title"]}, values)
    return goals


def load_initiatives(product: DataProduct, initiative_specs: list[dict], goals: dict) -> dict[str, Initiative]:
    initiatives = {}
    for order, spec in enumerate(initiative_specs):
        values = {"description": spec["description"], "order": order}
        initiative = upsert(Initiative, {"product": product, "title": spec["title"]}, values)
        initiative.goals.add(*[goals[title] for title in spec["goals"]])
        initiatives[spec["title"]] = initiative
    return initiatives


def load_hypotheses(product: DataProduct, hypothesis_specs: list[dict], goals: dict, initiatives: dict) -> dict:
    hypotheses = {}
    for spec in hypothesis_specs:
        values = {
            "goal": goals[spec["goal"]],
            "initiative": initiatives[spec["initiative"]],
            "statement": spec["statement"],
            "status": spec["status"],
            "evidence": spec["evidence"],
        }
        hypotheses[spec["title"]] = upsert(Hypothesis, {"product": product, "title": spec["title"]}, values)
    return hypotheses


def load_use_cases(product: DataProduct, use_case_specs: list[dict], hypotheses: dict) -> None:
    for spec in use_case_specs:
        values = {
            "description": spec["description"],
            "stakeholders": spec["stakeholders"],
            "priority": spec["priority"],
        }
        use_case = upsert(UseCase, {"product": product, "title": spec["title"]}, values)
        use_case.hypotheses.add(*[hypotheses[title] for title in spec["hypotheses"]])


def load_usage_patterns(product: DataProduct, pattern_specs: list[dict]) -> None:
    for spec in pattern_specs:
        values = {key: value for key, value in spec.items() if key != "name"}
        upsert(UsagePattern, {"product": product, "name": spec["name"]}, values)


def load_outputs(product: DataProduct, output_specs: list[dict]) -> dict[str, Output]:
    outputs = {}
    for spec in output_specs:
        values = {
            "description": spec["description"],
            "kind": choices.OutputKind.FILE,
            "format": choices.OutputFormat.PARQUET,
            "path": spec["path"],
            "refresh_cadence": spec["refresh_cadence"],
        }
        output = upsert(Output, {"product": product, "name": spec["name"]}, values)
        current = {column.name: column for column in output.columns.all()}
        masking = spec.get("masking", {})
        for order, (name, data_type, role, classification, description) in enumerate(spec["columns"]):
            values = {
                "data_type": data_type,
                "role": role,
                "classification": classification,
                "masking": masking.get(name, choices.MaskingMethod.REDACT),
                "description": description,
                "order": order,
            }
            update(current.get(name) or OutputColumn(output=output, name=name), values)
        load_readers(output, spec.get("readers", []))
        load_row_filters(output, spec.get("row_filters", []))
        outputs[spec["name"]] = output
    return outputs


def load_readers(output: Output, reader_specs: list[dict]) -> None:
    """Groups that may read the output's rows (a guardian permission: granted once, kept)."""
    for spec in reader_specs:
        assign_perm(f"products.{spec['permission']}", Group.objects.get_or_create(name=spec["group"])[0], output)


def load_row_filters(output: Output, filter_specs: list[dict]) -> None:
    """A group's rule, found by output, group and column; its values set as the spec says."""
    for spec in filter_specs:
        group = Group.objects.get_or_create(name=spec["group"])[0]
        rule = RowFilter.objects.filter(output=output, group=group, column=spec["column"]).first()
        update(rule or RowFilter(output=output, group=group, column=spec["column"]), {"values": spec["values"]})


def load_inputs(product: DataProduct, input_specs: list[dict]) -> None:
    for spec in input_specs:
        if "output" in spec:
            slug, name = spec["output"].split(".")
            source = Output.objects.get(product__slug=slug, name=name)
            lookup = {"product": product, "kind": choices.InputKind.OUTPUT, "source_output": source}
        else:
            lookup = {"product": product, "kind": choices.InputKind.EXTERNAL, "external_name": spec["external"]}
        upsert(ProductInput, lookup, {"description": spec["description"]})


KPI_TEXT_FIELDS = ("aggregation", "column", "denominator_aggregation", "denominator_column", "filter", "time_column",
                   "grain", "unit")  # fmt: skip


def load_kpis(product: DataProduct, kpi_specs: list[dict], goals: dict, outputs: dict, users: dict) -> dict:
    """KPIs in spec order, which puts every parent before its children."""
    kpis = {}
    for spec in kpi_specs:
        values = {
            "level": spec["level"],
            "parent": kpis[spec["parent"]] if spec.get("parent") else None,
            "definition": spec["definition"],
            "output": outputs[spec["output"]],
            **{name: spec.get(name, "") for name in KPI_TEXT_FIELDS},
            "direction": spec["direction"],
            "target": decimal(spec.get("target")),
            "indicator_type": spec["indicator_type"],
            "owner": users[spec["owner"]],
            "dimensions": spec.get("dimensions", []),
            "alert_rule": spec.get("alert_rule", ""),
            "alert_max": spec.get("alert_max"),
        }
        kpi = upsert(KPI, {"product": product, "name": spec["name"]}, values)
        kpi.goals.add(*[goals[title] for title in spec.get("goals", [])])
        kpis[spec["name"]] = kpi
    for spec in kpi_specs:  # counter-metrics may name KPIs listed after them
        kpis[spec["name"]].counter_metrics.add(*[kpis[name] for name in spec.get("counter_metrics", [])])
    return kpis


def load_dashboards(product: DataProduct, dashboard_specs: list[dict]) -> None:
    for order, spec in enumerate(dashboard_specs):
        values = {key: spec[key] for key in ("description", "default_days", "filters", "tiles") if key in spec}
        upsert(Dashboard, {"product": product, "name": spec["name"]}, values | {"order": order})


def load_slos(product: DataProduct, slo_specs: list[dict], kpis: dict) -> None:
    for spec in slo_specs:
        values = {
            "category": spec["category"],
            "description": spec["description"],
            "indicator": spec["indicator"],
            "kpi": kpis[spec["kpi"]] if spec.get("kpi") else None,
            "objective_percent": decimal(spec["objective_percent"]),
            "window_days": spec["window_days"],
        }
        upsert(SLO, {"product": product, "name": spec["name"]}, values)


# --- Files ----------------------------------------------------------------------------------


def write_outputs(spec: dict, rows: int, anchor: date, regenerate: bool) -> list[OutputFile]:
    """Write the product's Parquet files that are missing or out of date; report on all of them."""
    paths = {output["name"]: resolve_data_path(output["path"]) for output in spec["outputs"]}
    outdated = {name for name, path in paths.items() if regenerate or not datasets.is_current(path, rows, anchor)}
    frames = datasets.FAMILIES[spec["slug"]](rows, anchor) if outdated else {}
    files = []
    for output in spec["outputs"]:
        name, path = output["name"], paths[output["name"]]
        columns = [(column[0], column[1]) for column in output["columns"]]
        if name in outdated:
            count = datasets.write_parquet(frames[name], path, columns, datasets.stamp(rows, anchor))
        else:
            count = pq.read_metadata(path).num_rows
        files.append(OutputFile(path=output["path"], rows=count, columns=len(columns), written=name in outdated))
    return files
