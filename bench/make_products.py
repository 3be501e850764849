"""The benchmark dataset: 10,000 data products with full specs, spread over ~200 people, built fast.

Every product gets 3 goals, 2 initiatives, 3 hypotheses, 2 use cases, 1 usage pattern, 2 outputs
of 8 columns, a KPI tree of 7 (north star → 2 outcomes → 4 drivers), 3 SLOs, tags, a domain,
consumer teams, an owner and 2 stewards; half read another product's output (lineage). Most
products have a health row (healthy, warning, failing or unknown), as the quality app keeps it. Rows are
written with bulk_create, which sends no signals, so the owners' and stewards' guardian object
permissions are written here too, exactly as products/roles.py would grant them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lodestar_bench python bench/make_products.py [--products N]

bench_pages.py calls ``build()`` itself when the database has no dataset yet.
"""
# ruff: noqa: E402  (run as a script, Django must be set up before the models are imported)

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal
from random import Random

if __name__ == "__main__":
    from common import setup_django

    setup_django()

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.text import slugify

from products import choices
from products.models import (
    KPI,
    SLO,
    DataProduct,
    DataProductUserObjectPermission,
    Domain,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    OutputColumn,
    ProductInput,
    Tag,
    Team,
    UsagePattern,
    UseCase,
)
from products.roles import OWNER_PERMS, STEWARD_PERMS
from quality.choices import Health
from quality.models import ProductHealth

User = get_user_model()

PASSWORD = "lodestar-bench"
BENCH_PM = "bench_pm"  # a product manager who stewards a few products
BENCH_ADMIN = "bench_admin"
BATCH = 5000

DOMAINS = [
    "Sales", "Marketing", "Finance", "Supply chain", "Customer service", "Product", "People", "Logistics",
    "Risk", "Pricing", "Procurement", "Retail stores", "E-commerce", "Payments", "Fraud", "Legal",
    "Manufacturing", "Partners", "Research", "Support",
]  # fmt: skip
SUBJECTS = [
    "customer", "order", "revenue", "churn", "basket", "campaign", "invoice", "shipment", "inventory",
    "supplier", "session", "subscription", "refund", "claim", "lead", "ticket", "payment", "store",
    "product", "price", "margin", "forecast", "visit", "review", "return", "delivery", "contract",
    "employee", "warehouse", "promotion", "loyalty", "segment", "cohort", "funnel", "checkout",
    "search", "catalogue", "partner", "budget", "risk",
]  # fmt: skip
KINDS = ["insights", "forecast", "scores", "daily facts", "health", "affinity", "segments", "monitor", "ledger", "mart"]
QUALIFIERS = ["daily", "weekly", "gold", "pii", "experimental", "regulated", "realtime", "certified"]
STATUSES = (
    [choices.Status.PUBLISHED] * 80
    + [choices.Status.DRAFT] * 12
    + [choices.Status.DEPRECATED] * 5
    + [choices.Status.RETIRED] * 3
)
COLUMNS = [
    ("customer_id", choices.DataType.INTEGER, choices.ColumnRole.KEY, choices.Classification.INTERNAL),
    ("order_date", choices.DataType.DATE, choices.ColumnRole.TIME, choices.Classification.INTERNAL),
    ("region", choices.DataType.STRING, choices.ColumnRole.DIMENSION, choices.Classification.PUBLIC),
    ("channel", choices.DataType.STRING, choices.ColumnRole.DIMENSION, choices.Classification.PUBLIC),
    ("segment", choices.DataType.STRING, choices.ColumnRole.DIMENSION, choices.Classification.INTERNAL),
    ("amount", choices.DataType.DECIMAL, choices.ColumnRole.MEASURE, choices.Classification.INTERNAL),
    ("quantity", choices.DataType.INTEGER, choices.ColumnRole.MEASURE, choices.Classification.INTERNAL),
    ("email", choices.DataType.STRING, choices.ColumnRole.ATTRIBUTE, choices.Classification.PII),
]
# A product without checks or SLO measurements has no health row yet (search counts it unknown).
HEALTH_SPREAD = (
    [None] * 25 + [Health.HEALTHY] * 55 + [Health.WARNING] * 10 + [Health.FAILING] * 7 + [Health.UNKNOWN] * 3
)
VISION = (
    "Give every {domain} team one trusted view of **{subject} {kind}**, so decisions are made on the same "
    "numbers.\n\n- refreshed {cadence}\n- documented column by column\n- measured by the KPIs below\n\n"
    "We work backwards from the outcome: the north-star metric, then the goals that move it, then the "
    "hypotheses we test and the use cases that put the data to work."
)


@dataclass
class World:
    """The reference rows every product draws from."""

    users: list[int]
    product_managers: list[int]
    domains: list[Domain]
    tags: list[int]
    teams: list[int]
    perms: dict[str, int]
    outputs: list[int] = field(default_factory=list)  # every output so far, for lineage


def build(products: int = 10_000, users: int = 200, seed: int = 7, chunk: int = 1000, log=print) -> None:
    """Create the dataset (into an empty, migrated database)."""
    rng = Random(seed)
    started = time.perf_counter()
    world = make_world(users, rng)
    for start in range(0, products, chunk):
        with transaction.atomic():
            make_products(range(start, min(start + chunk, products)), world, rng)
        log(f"  {min(start + chunk, products):>6} products  {time.perf_counter() - started:6.1f} s")
    set_north_stars()
    make_bench_pm_a_steward(world, rng)
    make_health(Random(seed + 1))  # its own generator: the products stay the same as before health existed
    log(f"built {products} products in {time.perf_counter() - started:.1f} s")


# --- People and reference data ----------------------------------------------------------------


def make_world(n_users: int, rng: Random) -> World:
    password = make_password(PASSWORD)  # hashed once: hashing 200 times would take longer than the rest
    people = User.objects.bulk_create(
        User(username=f"user{i:03d}", email=f"user{i:03d}@example.com", password=password, first_name=f"User {i}")
        for i in range(n_users)
    )
    pm_group, _ = Group.objects.get_or_create(name="Product managers")
    managers = people[: n_users // 5]
    bench_pm = User.objects.create(username=BENCH_PM, email="bench_pm@example.com", password=password)
    pm_group.user_set.add(bench_pm, *managers)
    User.objects.create(
        username=BENCH_ADMIN, email="admin@example.com", password=password, is_staff=True, is_superuser=True
    )
    domains = Domain.objects.bulk_create(Domain(name=name, slug=slugify(name)) for name in DOMAINS)
    tags = Tag.objects.bulk_create(Tag(name=name) for name in tag_names())
    teams = Team.objects.bulk_create(Team(name=f"Team {i}", slug=f"team-{i}") for i in range(30))
    Team.members.through.objects.bulk_create(
        Team.members.through(team_id=team.pk, user_id=person.pk) for team in teams for person in rng.sample(people, 8)
    )
    perms = dict(
        Permission.objects.filter(content_type__app_label="products", codename__in=OWNER_PERMS).values_list(
            "codename", "pk"
        )
    )
    return World(
        users=[u.pk for u in people],
        product_managers=[u.pk for u in managers],
        domains=domains,
        tags=[t.pk for t in tags],
        teams=[t.pk for t in teams],
        perms=perms,
    )


def tag_names() -> list[str]:
    return SUBJECTS + [f"{subject}-{q}" for subject in SUBJECTS[:20] for q in QUALIFIERS[:3]]


# --- Products and their spec parts --------------------------------------------------------------


def make_products(indexes: range, world: World, rng: Random) -> None:
    products = DataProduct.objects.bulk_create([new_product(i, world, rng) for i in indexes], batch_size=BATCH)
    make_people_and_labels(products, world, rng)
    goals = bulk(Goal, (new_goal(p, k, rng) for p in products for k in range(3)))
    initiatives = bulk(Initiative, (new_initiative(p, k) for p in products for k in range(2)))
    link_initiatives(products, goals, initiatives)
    hypotheses = bulk(
        Hypothesis, (new_hypothesis(p, k, goals, initiatives, j) for j, p in enumerate(products) for k in range(3))
    )
    use_cases = bulk(UseCase, (new_use_case(p, k) for p in products for k in range(2)))
    bulk(
        UseCase.hypotheses.through,
        (
            UseCase.hypotheses.through(usecase_id=use_cases[2 * j + k].pk, hypothesis_id=hypotheses[3 * j + h].pk)
            for j in range(len(products))
            for k, h in ((0, 0), (0, 1), (1, 2))
        ),
    )
    bulk(UsagePattern, (new_usage_pattern(p) for p in products))
    outputs = bulk(Output, (new_output(p, k) for p in products for k in range(2)))
    bulk(OutputColumn, (new_column(o, k) for o in outputs for k in range(len(COLUMNS))))
    kpis = make_kpi_trees(products, outputs, goals)
    bulk(SLO, (new_slo(p, k, kpis[7 * j]) for j, p in enumerate(products) for k in range(3)))
    make_inputs(products, outputs, world, rng)


def bulk(model, objects) -> list:
    return model.objects.bulk_create(list(objects), batch_size=BATCH)


def new_product(i: int, world: World, rng: Random) -> DataProduct:
    subject, kind = SUBJECTS[i % len(SUBJECTS)], KINDS[(i // len(SUBJECTS)) % len(KINDS)]
    domain = world.domains[rng.randrange(len(world.domains))]
    name = f"{subject.capitalize()} {kind} {i:05d}"
    return DataProduct(
        slug=slugify(name),
        name=name,
        domain=domain,
        summary=f"{subject.capitalize()} {kind} for {domain.name.lower()}, refreshed daily.",
        vision=VISION.format(domain=domain.name.lower(), subject=subject, kind=kind, cadence="daily"),
        status=STATUSES[rng.randrange(len(STATUSES))],
        version=f"1.{i % 7}.{i % 3}",
        owner_id=rng.choice(world.product_managers),
    )


def make_people_and_labels(products: list[DataProduct], world: World, rng: Random) -> None:
    """Stewards, tags, consumer teams, and the guardian permissions the signals would have granted."""
    stewards = {p.pk: rng.sample([u for u in rng.sample(world.users, 3) if u != p.owner_id], 2) for p in products}
    through = DataProduct.stewards.through
    bulk(through, (through(dataproduct_id=pid, user_id=uid) for pid, uids in stewards.items() for uid in uids))
    through = DataProduct.tags.through
    bulk(through, (through(dataproduct_id=p.pk, tag_id=t) for p in products for t in rng.sample(world.tags, 3)))
    through = DataProduct.consumer_teams.through
    bulk(
        through,
        (through(dataproduct_id=p.pk, team_id=t) for p in products for t in rng.sample(world.teams, rng.randint(1, 2))),
    )
    grants = [(p.pk, p.owner_id, perm) for p in products for perm in OWNER_PERMS]
    grants += [(pid, uid, perm) for pid, uids in stewards.items() for uid in uids for perm in STEWARD_PERMS]
    grant(grants, world.perms)


def grant(grants: list[tuple[int, int, str]], perms: dict[str, int]) -> None:
    bulk(
        DataProductUserObjectPermission,
        (
            DataProductUserObjectPermission(content_object_id=pid, user_id=uid, permission_id=perms[codename])
            for pid, uid, codename in grants
        ),
    )


def new_goal(product: DataProduct, k: int, rng: Random) -> Goal:
    measures = ["revenue share", "retention rate", "time to insight", "forecast error"]
    return Goal(
        product=product,
        title=f"Goal {k + 1}: improve {measures[k % len(measures)]}",
        description=f"Move the **{measures[k % len(measures)]}** of {product.name} in the right direction.",
        success_measure=measures[k % len(measures)],
        target_value=Decimal(rng.randint(5, 40)),
        target_unit="%",
        target_date=dt.date(2027, 1 + k * 3, 1),
        order=k,
    )


def new_initiative(product: DataProduct, k: int) -> Initiative:
    return Initiative(
        product=product, title=f"Initiative {k + 1}", description="Ship a weekly recommendation list.", order=k
    )


def link_initiatives(products: list[DataProduct], goals: list[Goal], initiatives: list[Initiative]) -> None:
    through = Initiative.goals.through
    bulk(
        through,
        (
            through(initiative_id=initiatives[2 * j + i].pk, goal_id=goals[3 * j + g].pk)
            for j in range(len(products))
            for i, g in ((0, 0), (0, 1), (1, 2))
        ),
    )


def new_hypothesis(
    product: DataProduct, k: int, goals: list[Goal], initiatives: list[Initiative], j: int
) -> Hypothesis:
    return Hypothesis(
        product=product,
        title=f"Hypothesis {k + 1}",
        goal=goals[3 * j + k],
        initiative=initiatives[2 * j + k % 2],
        statement=f"We believe that initiative {k % 2 + 1} will help achieve goal {k + 1}.",
        status=[choices.HypothesisStatus.PROPOSED, choices.HypothesisStatus.VALIDATED][k % 2],
        evidence="A/B test over four weeks." if k % 2 else "",
    )


def new_use_case(product: DataProduct, k: int) -> UseCase:
    return UseCase(
        product=product,
        title=f"Use case {k + 1}",
        description="Managers review the list every Monday.",
        stakeholders="Sales managers, Marketing",
        priority=[choices.Priority.HIGH, choices.Priority.MEDIUM][k],
    )


def new_usage_pattern(product: DataProduct) -> UsagePattern:
    return UsagePattern(
        product=product,
        name="Weekly review",
        users="Analysts and managers",
        frequency=choices.Frequency.WEEKLY,
        update_cadence=choices.Frequency.DAILY,
        completeness_need="All orders of the previous day",
        freshness_need="By 07:00",
        accuracy_need="Matches finance within 0.5 %",
    )


def new_output(product: DataProduct, k: int) -> Output:
    name = ["facts", "summary"][k]
    return Output(
        product=product,
        name=name,
        description=f"The {name} of {product.name}.",
        kind=choices.OutputKind.FILE,
        format=choices.OutputFormat.PARQUET,
        path=f"{product.slug}/{name}.parquet",
    )


def new_column(output: Output, k: int) -> OutputColumn:
    name, data_type, role, classification = COLUMNS[k]
    return OutputColumn(
        output=output,
        name=name,
        data_type=data_type,
        role=role,
        classification=classification,
        description=f"The {name.replace('_', ' ')}.",
        order=k,
    )


def make_kpi_trees(products: list[DataProduct], outputs: list[Output], goals: list[Goal]) -> list[KPI]:
    """7 KPIs per product, in product order: north star, 2 outcomes under it, 2 drivers under each outcome."""

    def kpi(j: int, name: str, level: str, parent: KPI | None) -> KPI:
        return KPI(
            product=products[j],
            name=name,
            level=level,
            parent=parent,
            definition=f"{name} of {products[j].name}.",
            output=outputs[2 * j],
            aggregation=choices.Aggregation.SUM,
            column="amount",
            time_column="order_date",
            grain=choices.Grain.MONTH,
            unit="EUR",
            target=Decimal(1000),
        )

    n = range(len(products))
    stars = bulk(KPI, (kpi(j, "North star", choices.KPILevel.NORTH_STAR, None) for j in n))
    outcomes = bulk(KPI, (kpi(j, f"Outcome {k + 1}", choices.KPILevel.L1, stars[j]) for j in n for k in range(2)))
    drivers = bulk(
        KPI, (kpi(j, f"Driver {k + 1}", choices.KPILevel.L2, outcomes[2 * j + k // 2]) for j in n for k in range(4))
    )
    through = KPI.goals.through
    bulk(through, (through(kpi_id=outcomes[2 * j + k].pk, goal_id=goals[3 * j + k].pk) for j in n for k in range(2)))
    return [k for j in n for k in [stars[j], *outcomes[2 * j : 2 * j + 2], *drivers[4 * j : 4 * j + 4]]]


def new_slo(product: DataProduct, k: int, north_star: KPI) -> SLO:
    categories = [choices.SLOCategory.QUALITY, choices.SLOCategory.ARCHITECTURE, choices.SLOCategory.GOVERNANCE]
    return SLO(
        product=product,
        name=["Fresh by 07:00", "Available", "Documented"][k],
        category=categories[k],
        indicator=["facts refreshed within 24 h", "output readable", "every column described"][k],
        kpi=north_star if k == 0 else None,
        objective_percent=Decimal("99.5"),
        window_days=28,
    )


def make_inputs(products: list[DataProduct], outputs: list[Output], world: World, rng: Random) -> None:
    """Half the products read an earlier product's output (so lineage never cycles); a fifth an external source."""
    inputs = []
    for j, product in enumerate(products):
        if world.outputs and rng.random() < 0.5:
            inputs.append(ProductInput(product=product, source_output_id=rng.choice(world.outputs)))
        if rng.random() < 0.2:
            inputs.append(
                ProductInput(product=product, kind=choices.InputKind.EXTERNAL, external_name="Shopify orders API")
            )
        world.outputs.extend(o.pk for o in outputs[2 * j : 2 * j + 2])
    bulk(ProductInput, inputs)


def set_north_stars() -> None:
    star = KPI.objects.filter(product=OuterRef("pk"), level=choices.KPILevel.NORTH_STAR).values("pk")[:1]
    DataProduct.objects.update(north_star=Subquery(star))


def make_bench_pm_a_steward(world: World, rng: Random) -> None:
    """bench_pm stewards 3 published products and 2 drafts (which only stewards, owners and admins see)."""
    bench_pm = User.objects.get(username=BENCH_PM)

    def some(status: str, count: int) -> list[int]:
        return rng.sample(sorted(DataProduct.objects.filter(status=status).values_list("pk", flat=True)), count)

    chosen = some(choices.Status.PUBLISHED, 3) + some(choices.Status.DRAFT, 2)
    through = DataProduct.stewards.through
    bulk(through, (through(dataproduct_id=pk, user_id=bench_pm.pk) for pk in chosen))
    grant([(pk, bench_pm.pk, perm) for pk in chosen for perm in STEWARD_PERMS], world.perms)


def make_health(rng: Random) -> None:
    """Health rows for three products in four, with counts that agree with their state (quality/health.py)."""
    rows = []
    for pk in DataProduct.objects.order_by("pk").values_list("pk", flat=True):
        state = rng.choice(HEALTH_SPREAD)
        if state is not None:
            rows.append(new_health(pk, state, rng))
    bulk(ProductHealth, rows)


def new_health(product_id: int, state: str, rng: Random) -> ProductHealth:
    health = ProductHealth(product_id=product_id, state=state)
    if state == Health.FAILING:
        health.failing_checks = rng.randint(1, 3)
        health.open_incidents = rng.randint(0, health.failing_checks)
        health.slos_breached = rng.randint(0, 1)
    elif state == Health.WARNING:
        health.warning_checks = rng.randint(0, 2)
        health.slos_at_risk = 0 if health.warning_checks else 1
    return health


def dataset_exists() -> bool:
    return User.objects.filter(username=BENCH_PM).exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if dataset_exists():
        raise SystemExit("The database already holds the benchmark dataset; drop it first (bench_pages.py --rebuild).")
    build(args.products, args.users)


if __name__ == "__main__":
    main()
