"""The product spec: what one data product is, designed right to left.

North star → vision → goals → initiatives → hypotheses → use cases → usage
patterns → SLOs → semantic model (outputs and their columns) → sources. Rules a
spec must keep live here, in ``clean()``, so forms, the API and imports share them.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Concat, Lower
from django.urls import reverse
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from access.models import AccessGrant, AccessRequest
from access.policy import RestrictedQuerySet
from utilities import crypto
from utilities.cron import validate_cron
from utilities.paths import validate_relative_data_path
from utilities.validators import (
    identifier_validator,
    markdown_validators,
    no_nul,
    qualified_name_validator,
    semver_validator,
    text_validators,
)

from . import choices, kpi_filters
from .choices import PUBLIC_STATUSES, KPILevel, Status

# KPIs are recomputed hourly by default, a little after the checks (minute 0) of the same outputs.
DEFAULT_KPI_SCHEDULE = "20 * * * *"
MAX_KPI_DIMENSIONS = 5

User = settings.AUTH_USER_MODEL


def name_field(max_length: int = 200, **kwargs) -> models.CharField:
    return models.CharField(max_length=max_length, validators=[no_nul], **kwargs)


def text_field(**kwargs) -> models.TextField:
    return models.TextField(blank=True, validators=text_validators, **kwargs)


def markdown_field(**kwargs) -> models.TextField:
    return models.TextField(blank=True, validators=markdown_validators, help_text="Markdown.", **kwargs)


# --- Reference data -------------------------------------------------------------------------


class Domain(models.Model):
    """A business domain that owns products (Sales, Marketing, Product)."""

    name = name_field(100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = text_field()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True, help_text="Lower-case words joined by hyphens.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A group of people who consume or build products (Sales operations, Growth)."""

    name = name_field(100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = text_field()
    members = models.ManyToManyField(User, blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConnectionQuerySet(RestrictedQuerySet):
    pass


class Connection(models.Model):
    """A data source registered by an admin. Its URL (with credentials) is encrypted at rest."""

    ALLOWED_SCHEMES = {
        "postgresql": choices.ConnectionKind.POSTGRESQL,
        "postgres": choices.ConnectionKind.POSTGRESQL,
        "sqlite": choices.ConnectionKind.SQLITE,
    }
    # Query options a PostgreSQL URL may carry; anything else (e.g. options that run code) is refused.
    ALLOWED_PG_OPTIONS = {"sslmode", "connect_timeout", "application_name", "target_session_attrs"}

    name = name_field(100, unique=True)
    kind = models.CharField(max_length=20, choices=choices.ConnectionKind.choices, editable=False)
    description = text_field()
    encrypted_url = models.TextField(editable=False)
    display_url = models.CharField(max_length=500, editable=False, help_text="The URL without its password.")
    check_role = models.CharField(
        max_length=63,
        blank=True,
        validators=[
            RegexValidator(r"^[a-z_][a-z0-9_]*\Z", "A PostgreSQL role name: lower-case letters, digits and '_'.")
        ],
        help_text="PostgreSQL: a role with read access only, which quality checks switch to (SET ROLE) "
        "inside their read-only transaction. The URL's user must be a member of it.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_url(self, url: str) -> None:
        """Validate and store a connection URL; the plain URL is never kept in a readable field."""
        self.kind = self.validate_url(url)
        self.encrypted_url = crypto.encrypt(url)
        self.display_url = self.redact(url)

    @property
    def url(self) -> str:
        return crypto.decrypt(self.encrypted_url)

    @classmethod
    def validate_url(cls, url: str) -> str:
        no_nul(url)
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[0].lower()
        if scheme not in cls.ALLOWED_SCHEMES:
            allowed = ", ".join(sorted(cls.ALLOWED_SCHEMES))
            raise ValidationError({"url": f"Scheme {parts.scheme or '(none)'!r} is not allowed; use one of {allowed}."})
        kind = cls.ALLOWED_SCHEMES[scheme]
        if kind == choices.ConnectionKind.SQLITE:
            cls._validate_sqlite_path(parts.path)
        else:
            cls._validate_pg_options(parts.query)
        return kind

    @classmethod
    def _validate_sqlite_path(cls, path: str) -> None:
        relative = path[1:] if path.startswith("/") else path
        try:
            validate_relative_data_path(relative)
        except ValidationError as exc:
            raise ValidationError({"url": f"A SQLite file must lie under the data root: {exc.messages[0]}"}) from None
        if not relative:
            raise ValidationError({"url": "Name the SQLite file, e.g. sqlite:///warehouse.db (under the data root)."})

    @classmethod
    def _validate_pg_options(cls, query: str) -> None:
        for pair in filter(None, query.split("&")):
            key = pair.split("=", 1)[0]
            if key not in cls.ALLOWED_PG_OPTIONS:
                raise ValidationError({"url": f"Connection option {key!r} is not allowed."})

    @staticmethod
    def redact(url: str) -> str:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


# --- The product ----------------------------------------------------------------------------


class DataProductQuerySet(RestrictedQuerySet):
    def open_to_all(self, action: str) -> Q:
        """Published, deprecated and retired products are visible to every signed-in user."""
        if action == "view":
            return Q(status__in=PUBLIC_STATUSES)
        return Q(pk__in=[])

    def with_card_data(self) -> DataProductQuerySet:
        """What a product card shows, in a constant number of queries (the long vision stays behind)."""
        return self.select_related("domain", "owner").prefetch_related("tags").defer("vision", "search_text")

    def search(self, text: str) -> DataProductQuerySet:
        """Products whose name, slug, summary, vision, domain or tags mention every word of ``text``."""
        result = self
        # Stored text never holds a NUL byte (the validators refuse it), and PostgreSQL
        # would refuse one in a query: drop it from what was typed.
        for word in text.replace("\x00", "").lower().split()[:10]:
            domains = Domain.objects.filter(name__icontains=word).values("pk")
            tagged = DataProduct.tags.through.objects.filter(tag__name__icontains=word).values("dataproduct_id")
            result = result.filter(Q(search_text__contains=word) | Q(domain__in=domains) | Q(pk__in=tagged))
        return result

    def filter_facets(
        self, *, domain: str = "", tag: str = "", status: str = "", owner: str = ""
    ) -> DataProductQuerySet:
        """Narrow by the hub's facets: domain slug, tag name, status, owner username."""
        if "\x00" in domain + tag + status + owner:
            return self.none()  # no stored value holds a NUL byte, and PostgreSQL refuses one in a query
        result = self
        if domain:
            result = result.filter(domain__slug=domain)
        if tag:
            result = result.filter(
                pk__in=DataProduct.tags.through.objects.filter(tag__name=tag).values("dataproduct_id")
            )
        if status:
            result = result.filter(status=status)
        if owner:
            result = result.filter(owner__username=owner)
        return result


class DataProduct(models.Model):
    slug = models.SlugField(max_length=100, unique=True, help_text="The product's name in URLs and specs.")
    name = name_field(200)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="products")
    summary = models.CharField(max_length=300, blank=True, validators=[no_nul], help_text="One sentence.")
    vision = markdown_field()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    version = models.CharField(max_length=50, default="0.1.0", validators=[semver_validator])
    tags = models.ManyToManyField(Tag, blank=True, related_name="products")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_products")
    stewards = models.ManyToManyField(User, blank=True, related_name="stewarded_products")
    consumer_teams = models.ManyToManyField(Team, blank=True, related_name="consumed_products")
    north_star = models.OneToOneField(
        "KPI", on_delete=models.SET_NULL, null=True, blank=True, related_name="north_star_of"
    )
    auto_resolve_incidents = models.BooleanField(
        default=False, help_text="A passing run of a check resolves the check's open incident."
    )
    # Lifecycle: a deprecated product names the day it stops and, if there is one, its successor.
    sunset_date = models.DateField(
        null=True, blank=True, help_text="When a deprecated product will be retired (required to deprecate)."
    )
    replaced_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replaces",
        help_text="The product consumers should move to.",
    )
    review_changes = models.BooleanField(
        default=False,
        help_text="Once published, stewards' changes go to the owner for review instead of applying at once.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # What keyword search reads: one lower-case column, kept by the database itself and, on
    # PostgreSQL, indexed with trigrams (migration 0003), so "contains" needs no table scan.
    search_text = models.GeneratedField(
        expression=Lower(
            Concat(
                "name",
                models.Value(" "),
                "slug",
                models.Value(" "),
                "summary",
                models.Value(" "),
                "vision",
                output_field=models.TextField(),
            )
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    objects = DataProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name", "id"], name="product_name_order"),
            # Lets the home page count its facets from the index alone, without reading the wide rows.
            models.Index(fields=["status", "domain", "owner", "id"], name="product_facets"),
        ]
        permissions = [("manage_access", "Approve and revoke access to the product's outputs")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("products:detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        self._clean_lifecycle()
        if self.north_star_id is not None:
            kpi = self.north_star
            if kpi.product_id != self.pk:
                raise ValidationError({"north_star": "The north-star KPI must belong to this product."})
            if kpi.level != KPILevel.NORTH_STAR:
                raise ValidationError({"north_star": "The north-star KPI must have the level 'north star'."})

    def _clean_lifecycle(self) -> None:
        if self.status == Status.DEPRECATED and self.sunset_date is None:
            raise ValidationError({"sunset_date": "A deprecated product needs a sunset date."})
        if self.replaced_by_id is not None and self.replaced_by_id == self.pk:
            raise ValidationError({"replaced_by": "A product cannot replace itself."})

    def upstream_products(self) -> set[int]:
        """Ids of every product this one reads from, directly or through others."""
        seen: set[int] = set()
        frontier = {self.pk}
        while frontier:
            found = set(
                ProductInput.objects.filter(product_id__in=frontier, source_output__isnull=False).values_list(
                    "source_output__product_id", flat=True
                )
            )
            frontier = found - seen
            seen |= found
        return seen

    def downstream_products(self) -> models.QuerySet:
        return DataProduct.objects.filter(inputs__source_output__product=self).distinct()


class DataProductUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(DataProduct, on_delete=models.CASCADE)


class DataProductGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(DataProduct, on_delete=models.CASCADE)


class ProductPartQuerySet(RestrictedQuerySet):
    pass


class ProductPart(models.Model):
    """A part of a product's spec: seen with its product, changed by whoever may change the product."""

    access_parent = "product"

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE)

    objects = ProductPartQuerySet.as_manager()

    class Meta:
        abstract = True

    def _check_same_product(self, field: str, other) -> None:
        if other is not None and self.product_id is not None and other.product_id != self.product_id:
            raise ValidationError({field: f"The {other._meta.verbose_name} must belong to the same product."})


# --- Why: goals, initiatives, hypotheses, use cases, usage -----------------------------------


class Goal(ProductPart):
    """A quantifiable target that delivers on the vision."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="goals")
    title = name_field(200)
    description = markdown_field()
    success_measure = models.CharField(
        max_length=300,
        blank=True,
        validators=[no_nul],
        help_text="How success is measured, e.g. 'cross-sell revenue share'.",
    )
    target_value = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    target_unit = models.CharField(max_length=30, blank=True, validators=[no_nul], help_text="%, EUR, users…")
    target_date = models.DateField(null=True, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "title"], name="unique_goal_title")]

    def __str__(self) -> str:
        return self.title


class Initiative(ProductPart):
    """An approach that serves one or more goals."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="initiatives")
    title = name_field(200)
    description = markdown_field()
    goals = models.ManyToManyField(Goal, blank=True, related_name="initiatives")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "title"], name="unique_initiative_title")]

    def __str__(self) -> str:
        return self.title


class Hypothesis(ProductPart):
    """We believe that *initiative* will help achieve *goal*."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="hypotheses")
    title = name_field(200)
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="hypotheses")
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="hypotheses")
    statement = models.TextField(validators=text_validators)
    status = models.CharField(
        max_length=20, choices=choices.HypothesisStatus.choices, default=choices.HypothesisStatus.PROPOSED
    )
    evidence = markdown_field()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "hypotheses"
        constraints = [models.UniqueConstraint(fields=["product", "title"], name="unique_hypothesis_title")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        self._check_same_product("goal", getattr(self, "goal", None))
        self._check_same_product("initiative", getattr(self, "initiative", None))


class UseCase(ProductPart):
    """A practical application of the product, for named stakeholders."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="use_cases")
    title = name_field(200)
    description = markdown_field()
    stakeholders = models.CharField(
        max_length=300, blank=True, validators=[no_nul], help_text="Who benefits, e.g. 'Sales managers, Marketing'."
    )
    priority = models.CharField(max_length=10, choices=choices.Priority.choices, default=choices.Priority.MEDIUM)
    hypotheses = models.ManyToManyField(Hypothesis, blank=True, related_name="use_cases")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["product", "title"], name="unique_use_case_title")]

    def __str__(self) -> str:
        return self.title


class UsagePattern(ProductPart):
    """How the product is used: who, how often, and what they need of the data."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="usage_patterns")
    name = name_field(200)
    users = models.CharField(max_length=300, blank=True, validators=[no_nul])
    frequency = models.CharField(max_length=20, choices=choices.Frequency.choices, default=choices.Frequency.DAILY)
    update_cadence = models.CharField(max_length=20, choices=choices.Frequency.choices, default=choices.Frequency.DAILY)
    completeness_need = models.CharField(max_length=200, blank=True, validators=[no_nul])
    freshness_need = models.CharField(max_length=200, blank=True, validators=[no_nul])
    accuracy_need = models.CharField(max_length=200, blank=True, validators=[no_nul])
    description = text_field()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="unique_usage_pattern_name")]

    def __str__(self) -> str:
        return self.name


# --- What: outputs and their schema (the semantic model) ------------------------------------


class OutputQuerySet(ProductPartQuerySet):
    def implied_reader_ids(self, user, level: str) -> list[models.QuerySet]:
        """The ids ``Output.implied_read_level`` opens to ``user`` at ``level``, for ``access.policy.readable``."""
        owned = Output.objects.filter(product__owner=user).values("pk")
        if level == "unmasked":
            return [owned]
        stewarded = DataProduct.stewards.through.objects.filter(user=user).values("dataproduct_id")
        return [owned, Output.objects.filter(product__in=stewarded).values("pk")]


class Output(ProductPart):
    """An output port: a dataset the product delivers, as a file or a table."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="outputs")
    name = models.CharField(
        max_length=100, validators=[identifier_validator], help_text="Identifier, e.g. customer_spend."
    )
    description = markdown_field()
    kind = models.CharField(max_length=10, choices=choices.OutputKind.choices, default=choices.OutputKind.FILE)
    format = models.CharField(max_length=10, choices=choices.OutputFormat.choices, default=choices.OutputFormat.PARQUET)
    path = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_relative_data_path],
        help_text="File path relative to the data root.",
    )
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, null=True, blank=True, related_name="outputs")
    table = models.CharField(max_length=200, blank=True, validators=[qualified_name_validator])
    refresh_cadence = models.CharField(
        max_length=20, choices=choices.Frequency.choices, default=choices.Frequency.DAILY
    )
    # Deleting an output deletes the access grants and requests on it (access stores them by content type).
    access_grants = GenericRelation(AccessGrant)
    access_requests = GenericRelation(AccessRequest)

    objects = OutputQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="unique_output_name")]
        # Reading rows is granted per output, to users or groups (guardian); seeing the spec is not enough.
        permissions = [
            ("read_output", "Read the output's rows, personal data masked"),
            ("read_output_unmasked", "Read the output's rows with personal data in clear"),
        ]

    def __str__(self) -> str:
        return f"{self.product.slug}.{self.name}" if self.product_id else self.name

    def implied_read_level(self, user) -> str | None:
        """The product's owner reads its outputs in clear; its stewards read them masked (``access.policy``)."""
        product = self.product
        if user.pk == product.owner_id:
            return "unmasked"
        if any(steward.pk == user.pk for steward in product.stewards.all()):
            return "masked"
        return None

    def clean(self) -> None:
        if self.kind == choices.OutputKind.FILE:
            self._clean_file()
        else:
            self._clean_table()

    def _clean_file(self) -> None:
        errors = {}
        if not self.path:
            errors["path"] = "A file output needs a path under the data root."
        if self.format == choices.OutputFormat.TABLE:
            errors["format"] = "A file output is Parquet or CSV."
        if self.connection_id or self.table:
            errors["connection"] = "A file output has no connection or table."
        if errors:
            raise ValidationError(errors)

    def _clean_table(self) -> None:
        errors = {}
        if not self.connection_id:
            errors["connection"] = "A table output needs a connection."
        if not self.table:
            errors["table"] = "Name the table, e.g. sales.orders."
        if self.path:
            errors["path"] = "A table output has no file path."
        self.format = choices.OutputFormat.TABLE
        if errors:
            raise ValidationError(errors)


class OutputColumn(models.Model):
    """One column of an output's schema, with its role in the semantic model and its classification."""

    access_parent = "output__product"

    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=100, validators=[identifier_validator])
    data_type = models.CharField(max_length=20, choices=choices.DataType.choices, default=choices.DataType.STRING)
    role = models.CharField(max_length=20, choices=choices.ColumnRole.choices, default=choices.ColumnRole.ATTRIBUTE)
    classification = models.CharField(
        max_length=20, choices=choices.Classification.choices, default=choices.Classification.INTERNAL
    )
    masking = models.CharField(
        max_length=10,
        choices=choices.MaskingMethod.choices,
        default=choices.MaskingMethod.REDACT,
        help_text="How this column is masked for readers without unmasked access (PII columns only)",
    )
    description = models.CharField(max_length=500, blank=True, validators=[no_nul])
    order = models.PositiveIntegerField(default=0)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["output", "name"], name="unique_output_column_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pii(self) -> bool:
        return self.classification == choices.Classification.PII


class RowFilterQuerySet(RestrictedQuerySet):
    def naming(self, user) -> RowFilterQuerySet:
        """The rules that name ``user`` or one of their groups."""
        return self.filter(Q(user=user) | Q(group__in=user.groups.all()))


class RowFilter(models.Model):
    """A rule giving a user or a group only the rows of an output where a column holds one of some values.

    Once an output has a rule, every reader but the product's owner, its stewards and admins reads
    only the rows that a rule naming them (or one of their groups) matches — and none when no rule
    does (``products.delivery``). Values are compared as text: ``CAST(column AS text) IN (values)``.
    """

    access_parent = "output__product"
    MAX_VALUES = 1000
    MAX_VALUE_LENGTH = 200

    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="row_filters")
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="row_filters")
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, null=True, blank=True, related_name="row_filters")
    column = models.CharField(max_length=100, help_text="One of the output's columns.")
    values = models.JSONField(default=list, help_text="The values the holder may see, as text.")
    created = models.DateTimeField(auto_now_add=True)

    objects = RowFilterQuerySet.as_manager()

    class Meta:
        ordering = ["output", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="row_filter_one_holder",
            )
        ]

    def __str__(self) -> str:
        holder = f"group {self.group}" if self.group_id else f"user {self.user}"
        return f"{holder}: {self.column} in {', '.join(map(str, self.values))}"[:300]

    def clean(self) -> None:
        errors = {}
        if (self.user_id is None) == (self.group_id is None):
            errors["user"] = "Name either a user or a group, not both and not neither."
        if self.output_id is not None and self.column not in {column.name for column in self.output.columns.all()}:
            errors["column"] = f"{self.column!r} is not a column of {self.output.name}."
        problem = self.values_problem(self.values)
        if problem:
            errors["values"] = problem
        if errors:
            raise ValidationError(errors)

    @classmethod
    def values_problem(cls, values) -> str:
        """What is wrong with a list of values, or an empty string."""
        if not isinstance(values, list) or not values:
            return "Give at least one value."
        if len(values) > cls.MAX_VALUES:
            return f"At most {cls.MAX_VALUES} values, not {len(values)}."
        if not all(isinstance(value, str) for value in values):
            return "Every value is text."
        if any(len(value) > cls.MAX_VALUE_LENGTH for value in values):
            return f"A value is at most {cls.MAX_VALUE_LENGTH} characters."
        if any("\x00" in value for value in values):
            return "A value cannot hold a NUL character."
        return ""


class ProductInput(ProductPart):
    """Where a product's data comes from: another product's output, or an external source."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="inputs")
    kind = models.CharField(max_length=10, choices=choices.InputKind.choices, default=choices.InputKind.OUTPUT)
    source_output = models.ForeignKey(Output, on_delete=models.PROTECT, null=True, blank=True, related_name="consumers")
    external_name = models.CharField(
        max_length=200, blank=True, validators=[no_nul], help_text="For an external source, e.g. 'Shopify orders API'."
    )
    description = text_field()
    columns = models.JSONField(
        default=list,
        blank=True,
        help_text="The upstream output's columns this product reads: what breaks when they change.",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = "input"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "source_output"],
                condition=Q(source_output__isnull=False),
                name="unique_input_output",
                violation_error_message="This product already reads that output.",
            ),
            models.UniqueConstraint(
                fields=["product", "external_name"],
                condition=~Q(external_name=""),
                name="unique_input_external_name",
                violation_error_message="This product already names that external source.",
            ),
        ]

    def __str__(self) -> str:
        return str(self.source_output) if self.source_output_id else self.external_name

    def clean(self) -> None:
        if self.kind == choices.InputKind.EXTERNAL:
            if not self.external_name:
                raise ValidationError({"external_name": "Name the external source."})
            if self.source_output_id:
                raise ValidationError({"source_output": "An external input has no product output."})
            if self.columns:
                raise ValidationError({"columns": "Columns are named for an upstream output only."})
            return
        if not self.source_output_id:
            raise ValidationError({"source_output": "Choose the upstream output this product reads."})
        self._check_no_cycle()
        self._check_columns()

    def _check_columns(self) -> None:
        if not isinstance(self.columns, list) or not all(isinstance(name, str) for name in self.columns):
            raise ValidationError({"columns": "List the column names this product reads."})
        known = set(self.source_output.columns.values_list("name", flat=True))
        unknown = [name for name in self.columns if name not in known]
        if unknown:
            raise ValidationError({"columns": f"{self.source_output} has no column {', '.join(unknown)}."})

    def _check_no_cycle(self) -> None:
        source_product_id = self.source_output.product_id
        if source_product_id == self.product_id:
            raise ValidationError({"source_output": "A product cannot read its own output."})
        upstream_of_source = DataProduct(pk=source_product_id).upstream_products()
        if self.product_id in upstream_of_source:
            raise ValidationError({"source_output": "This input would make a cycle in the lineage."})


# --- How it is measured: KPIs and SLOs ------------------------------------------------------


class KPI(ProductPart):
    """A node of the KPI tree: north star → level 1 (outcome) → level 2 (driver) → level 3 (diagnostic)."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="kpis")
    name = name_field(200)
    level = models.CharField(max_length=20, choices=KPILevel.choices, default=KPILevel.L1)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    definition = markdown_field()
    goals = models.ManyToManyField(Goal, blank=True, related_name="kpis")
    # The calculation over one of the product's outputs.
    output = models.ForeignKey(Output, on_delete=models.SET_NULL, null=True, blank=True, related_name="kpis")
    aggregation = models.CharField(max_length=20, choices=choices.Aggregation.choices, blank=True)
    column = models.CharField(max_length=100, blank=True, validators=[no_nul])
    denominator_aggregation = models.CharField(
        max_length=20,
        choices=choices.Aggregation.choices,
        blank=True,
        help_text="For a ratio: the measure to divide by.",
    )
    denominator_column = models.CharField(max_length=100, blank=True, validators=[no_nul])
    filter = models.CharField(
        max_length=500, blank=True, validators=[no_nul], help_text="Rows to keep, e.g. status = 'completed'."
    )
    time_column = models.CharField(max_length=100, blank=True, validators=[no_nul])
    grain = models.CharField(max_length=10, choices=choices.Grain.choices, blank=True)
    unit = models.CharField(max_length=30, blank=True, validators=[no_nul])
    direction = models.CharField(max_length=10, choices=choices.Direction.choices, default=choices.Direction.UP)
    target = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    indicator_type = models.CharField(
        max_length=10, choices=choices.IndicatorType.choices, default=choices.IndicatorType.LAGGING
    )
    owner = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_kpis")
    dimensions = models.JSONField(
        default=list, blank=True, help_text='Columns to break the KPI down by, e.g. ["region"].'
    )
    status = models.CharField(max_length=12, choices=choices.KPIStatus.choices, default=choices.KPIStatus.ACTIVE)
    schedule = models.CharField(
        max_length=100,
        default=DEFAULT_KPI_SCHEDULE,
        validators=[validate_cron],
        help_text="When the series is recomputed. Cron, in UTC: m h dom mon dow.",
    )
    counter_metrics = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="countered",
        help_text="KPIs of the same product shown beside this one, so a gain here is not bought with a loss there.",
    )
    # Alerts on the latest complete period: fixed bounds, or a baseline learnt from the same weekday (daily KPIs)
    # or the same grain's previous periods: median ± k·MAD over the last ``baseline_periods``.
    alert_rule = models.CharField(max_length=10, choices=choices.AlertRule.choices, default="", blank=True)
    alert_min = models.FloatField(null=True, blank=True, help_text="Static rule: alert below this value.")
    alert_max = models.FloatField(null=True, blank=True, help_text="Static rule: alert above this value.")
    baseline_periods = models.PositiveIntegerField(
        default=8,
        validators=[MinValueValidator(3), MaxValueValidator(52)],
        help_text="Baseline rule: how many earlier comparable periods it learns from (same weekday, for days).",
    )
    baseline_k = models.FloatField(
        default=3.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(20)],
        help_text="Baseline rule: the band is the median ± k × MAD (scaled to a standard deviation).",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = "KPI"
        verbose_name_plural = "KPIs"
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="unique_kpi_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def has_calculation(self) -> bool:
        """An output, a measure and a time column: enough to compute a series."""
        return bool(self.output_id and self.aggregation and self.time_column)

    @property
    def is_computable(self) -> bool:
        """A series is computed for it: it has a calculation and is not deprecated."""
        return self.has_calculation and self.status == choices.KPIStatus.ACTIVE

    def clean(self) -> None:
        self._check_same_product("parent", self.parent)
        self._check_same_product("output", self.output)
        self._check_tree()
        self._check_calculation()
        self._check_alert()

    def _check_tree(self) -> None:
        if self.parent is None:
            return
        if self.level == KPILevel.NORTH_STAR:
            raise ValidationError({"parent": "The north-star KPI is the root of the tree; it has no parent."})
        node = self.parent
        while node is not None:
            if self.pk is not None and node.pk == self.pk:
                raise ValidationError({"parent": "A KPI cannot be its own ancestor."})
            node = node.parent
        if choices.KPI_LEVEL_DEPTH[self.parent.level] >= choices.KPI_LEVEL_DEPTH[self.level]:
            raise ValidationError({"parent": "The parent must sit on a higher level of the tree."})

    def _check_calculation(self) -> None:
        if not self.output_id:
            if self.dimensions:
                raise ValidationError({"dimensions": "Dimensions break down a calculation: choose an output first."})
            return
        known = {column.name for column in self.output.columns.all()}
        for field in ("column", "denominator_column", "time_column"):
            value = getattr(self, field)
            if value and known and value not in known:
                raise ValidationError({field: f"The output {self.output.name} has no column {value!r}."})
        if self.aggregation == choices.Aggregation.RATIO and not self.denominator_aggregation:
            raise ValidationError({"denominator_aggregation": "A ratio needs a denominator measure."})
        if self.aggregation and self.aggregation != choices.Aggregation.COUNT and not self.column:
            raise ValidationError({"column": "This aggregation needs a column."})
        self._check_dimensions(known)
        kpi_filters.validate(self.filter, known)

    def _check_dimensions(self, known: set[str]) -> None:
        dimensions = self.dimensions
        if not isinstance(dimensions, list) or not all(isinstance(name, str) and name for name in dimensions):
            raise ValidationError({"dimensions": 'A list of column names, e.g. ["region"].'})
        if len(dimensions) > MAX_KPI_DIMENSIONS:
            raise ValidationError({"dimensions": f"At most {MAX_KPI_DIMENSIONS} dimensions."})
        if len(set(dimensions)) != len(dimensions):
            raise ValidationError({"dimensions": "A dimension is listed twice."})
        unknown = [name for name in dimensions if known and name not in known]
        if unknown:
            raise ValidationError({"dimensions": f"The output {self.output.name} has no column {unknown[0]!r}."})
        # A breakdown's members are shown to whoever sees the product: never the values of a personal column.
        columns = self.output.columns.all()
        personal = {column.name for column in columns if column.classification == choices.Classification.PII}
        named = [name for name in dimensions if name in personal]
        if named:
            raise ValidationError(
                {"dimensions": f"{named[0]!r} holds personal data: a breakdown would show its values to every viewer."}
            )

    def _check_alert(self) -> None:
        if self.alert_rule == choices.AlertRule.STATIC and self.alert_min is None and self.alert_max is None:
            raise ValidationError({"alert_min": "A static alert needs a lower bound, an upper bound or both."})
        if self.alert_min is not None and self.alert_max is not None and self.alert_min > self.alert_max:
            raise ValidationError({"alert_max": "The upper bound is below the lower bound."})


class SLO(ProductPart):
    """A promise: the share of good measurements of an indicator over a rolling window."""

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="slos")
    name = name_field(200)
    category = models.CharField(max_length=20, choices=choices.SLOCategory.choices, default=choices.SLOCategory.QUALITY)
    description = text_field()
    indicator = models.CharField(
        max_length=300, validators=[no_nul], help_text="What is measured, e.g. 'orders output refreshed within 24 h'."
    )
    kpi = models.ForeignKey(
        KPI,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="slos",
        help_text="The KPI the SLO is measured by, if any.",
    )
    objective_percent = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="e.g. 99.5",
    )
    window_days = models.PositiveIntegerField(default=28, validators=[MinValueValidator(1), MaxValueValidator(366)])

    class Meta:
        ordering = ["id"]
        verbose_name = "SLO"
        verbose_name_plural = "SLOs"
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="unique_slo_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self._check_same_product("kpi", self.kpi)
        if self.objective_percent is not None and self.objective_percent <= 0:
            raise ValidationError({"objective_percent": "The objective must be above 0 %."})


# --- How it is shown: dashboards ---------------------------------------------------------------

TILE_KINDS = ("card", "trend", "breakdown", "distribution")
# A tile's keys, in the order the spec writes them (PostgreSQL's jsonb keeps no order of its own).
TILE_KEY_ORDER = ("show", "kpi", "title", "grain", "dimension", "column", "window")
TILE_KEYS = set(TILE_KEY_ORDER)
TILE_WINDOWS = ("range", "latest")
MAX_TILES = 24


class Dashboard(ProductPart):
    """A page of the product's KPIs for its consumers: tiles over a date range, with dimension filters.

    Each tile shows one KPI: ``card`` (its value over the range, against the range before), ``trend``
    (its series over the range at a grain), ``breakdown`` (its value per member of one of its
    dimensions) or ``distribution`` (how the values of a column of its output spread, within the
    KPI's filter and the range). ``window: latest`` shows the latest complete period instead of the
    range: for snapshot outputs scored once a day. ``filters`` are dimensions the reader can narrow
    every tile to (a tile whose KPI has no such dimension says so and stays whole).
    """

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="dashboards")
    name = name_field(200)
    description = markdown_field()
    default_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(3660)], help_text="The range shown first."
    )
    filters = models.JSONField(default=list, blank=True, help_text='Dimensions to filter by, e.g. ["region"].')
    tiles = models.JSONField(default=list, blank=True, help_text="What the dashboard shows, in order.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["product", "name"], name="unique_dashboard_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("dashboards:detail", kwargs={"slug": self.product.slug, "pk": self.pk})

    def clean(self) -> None:
        kpis = getattr(self, "known_kpis", None)  # the importer's, so a document checks against its own KPIs
        if kpis is None:
            kpis = {kpi.name: kpi for kpi in self.product.kpis.all()} if self.product_id else {}
        self._check_filters(kpis)
        if not isinstance(self.tiles, list) or len(self.tiles) > MAX_TILES:
            raise ValidationError({"tiles": f"A list of at most {MAX_TILES} tiles."})
        for index, tile in enumerate(self.tiles, start=1):
            problem = tile_problem(tile, kpis)
            if problem:
                raise ValidationError({"tiles": f"Tile {index}: {problem}"})

    def _check_filters(self, kpis: dict) -> None:
        filters = self.filters
        if not isinstance(filters, list) or not all(isinstance(name, str) and name for name in filters):
            raise ValidationError({"filters": 'A list of dimension names, e.g. ["region"].'})
        dimensions = {name for kpi in kpis.values() for name in (kpi.dimensions or [])}
        unknown = [name for name in filters if name not in dimensions]
        if unknown:
            raise ValidationError({"filters": f"No KPI of this product breaks down by {unknown[0]!r}."})


def tile_problem(tile, kpis: dict) -> str:
    """What is wrong with one dashboard tile, or ""."""
    if not isinstance(tile, dict):
        return "a tile is a mapping, e.g. {show: card, kpi: Net revenue}."
    unknown = sorted(set(tile) - TILE_KEYS)
    if unknown:
        return f"unknown key {unknown[0]!r} (known: {', '.join(sorted(TILE_KEYS))})."
    if tile.get("show") not in TILE_KINDS:
        return f"show is one of {', '.join(TILE_KINDS)}, not {tile.get('show')!r}."
    if not all(isinstance(tile.get(key, ""), str) for key in TILE_KEYS):
        return "every value of a tile is text."
    kpi = kpis.get(tile.get("kpi"))
    if kpi is None:
        return f"no KPI {tile.get('kpi')!r} in this product."
    if tile.get("grain") and tile["grain"] not in choices.Grain.values:
        return f"grain is one of {', '.join(choices.Grain.values)}, not {tile['grain']!r}."
    if tile.get("window", "range") not in TILE_WINDOWS:
        return f"window is one of {', '.join(TILE_WINDOWS)}, not {tile['window']!r}."
    if tile["show"] == "breakdown" and tile.get("dimension") not in (kpi.dimensions or []):
        return f"the KPI {kpi.name!r} does not break down by {tile.get('dimension')!r}."
    if tile["show"] == "distribution":
        columns = {column.name for column in kpi.output.columns.all()} if kpi.output_id else set()
        if tile.get("column") not in columns:
            return f"the KPI's output has no column {tile.get('column')!r} to show the distribution of."
    return ""


class OutputUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Output, on_delete=models.CASCADE)


class OutputGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Output, on_delete=models.CASCADE)


from .history import ChangeRequest, ProductVersion  # noqa: E402,F401
from .originals import OriginalDocument  # noqa: E402,F401
