"""The product spec over the REST API. Rules live on the models; these only shape the JSON."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField

from access import policy
from access.api import RestrictedPrimaryKeyRelatedField, RestrictedSlugRelatedField, ValidatedModelSerializer
from utilities.api import SlugRelatedField

from . import lifecycle
from .choices import Status
from .models import (
    KPI,
    SLO,
    Connection,
    DataProduct,
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

User = get_user_model()


def username_field(**kwargs) -> SlugRelatedField:
    return SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs)


# --- Reference data ------------------------------------------------------------------------


class DomainSerializer(ValidatedModelSerializer):
    class Meta:
        model = Domain
        fields = ["slug", "name", "description"]


class TagSerializer(ValidatedModelSerializer):
    class Meta:
        model = Tag
        fields = ["name"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name", "description"]


# --- Parts of the spec ---------------------------------------------------------------------


class ProductPartSerializer(ValidatedModelSerializer):
    """A part of one product's spec, named by the product's slug; it links only to parts of the same product."""

    # Links to other parts (a hypothesis's goal, a KPI's parent) are offered among what the user may see;
    # the model's clean() then insists they belong to the same product.
    serializer_related_field = RestrictedPrimaryKeyRelatedField

    product = RestrictedSlugRelatedField(slug_field="slug", queryset=DataProduct.objects.all())

    def validate_product(self, product: DataProduct) -> DataProduct:
        if self.instance is not None and product.pk != self.instance.product_id:
            raise serializers.ValidationError("A part cannot move to another product.")
        return product

    def validate(self, attrs: dict) -> dict:
        product = attrs.get("product") or getattr(self.instance, "product", None)
        for name, field in self.fields.items():
            if isinstance(field, ManyRelatedField) and field.source in attrs:
                self.check_same_product(name, attrs[field.source], product)
        return super().validate(attrs)

    @staticmethod
    def check_same_product(name: str, parts: list, product: DataProduct | None) -> None:
        if product is not None and any(part.product_id != product.pk for part in parts):
            raise serializers.ValidationError({name: [f"Every one of the {name} must belong to the same product."]})


class GoalSerializer(ProductPartSerializer):
    class Meta:
        model = Goal
        fields = [
            "id",
            "product",
            "title",
            "description",
            "success_measure",
            "target_value",
            "target_unit",
            "target_date",
            "order",
        ]


class InitiativeSerializer(ProductPartSerializer):
    class Meta:
        model = Initiative
        fields = ["id", "product", "title", "description", "goals", "order"]
        extra_kwargs = {"goals": {"required": False}}


class HypothesisSerializer(ProductPartSerializer):
    class Meta:
        model = Hypothesis
        fields = ["id", "product", "title", "goal", "initiative", "statement", "status", "evidence"]


class UseCaseSerializer(ProductPartSerializer):
    class Meta:
        model = UseCase
        fields = ["id", "product", "title", "description", "stakeholders", "priority", "hypotheses"]
        extra_kwargs = {"hypotheses": {"required": False}}


class UsagePatternSerializer(ProductPartSerializer):
    class Meta:
        model = UsagePattern
        fields = [
            "id",
            "product",
            "name",
            "users",
            "frequency",
            "update_cadence",
            "completeness_need",
            "freshness_need",
            "accuracy_need",
            "description",
        ]


class OutputColumnSerializer(ValidatedModelSerializer):
    class Meta:
        model = OutputColumn
        fields = ["name", "data_type", "role", "classification", "masking", "description"]


class OutputSerializer(ProductPartSerializer):
    """An output port and its columns. Writing ``columns`` replaces the whole list."""

    # An admin lets a user use a connection by giving them the view permission on it.
    connection = RestrictedSlugRelatedField(
        slug_field="name", queryset=Connection.objects.all(), required=False, allow_null=True
    )
    columns = OutputColumnSerializer(many=True, required=False)

    class Meta:
        model = Output
        fields = [
            "id",
            "product",
            "name",
            "description",
            "kind",
            "format",
            "path",
            "connection",
            "table",
            "refresh_cadence",
            "columns",
        ]

    def validate_columns(self, columns: list[dict]) -> list[dict]:
        # Errors by position, as DRF reports a bad item of a list: {"columns": {"1": {"name": [...]}}}.
        seen: set[str] = set()
        errors = {}
        for index, column in enumerate(columns):
            if column["name"] in seen:
                errors[index] = {"name": ["Another column already has this name."]}
            seen.add(column["name"])
        if errors:
            raise serializers.ValidationError(errors)
        return columns

    def create(self, validated_data: dict) -> Output:
        columns = validated_data.pop("columns", [])
        output = super().create(validated_data)
        self.save_columns(output, columns)
        return output

    def update(self, instance: Output, validated_data: dict) -> Output:
        columns = validated_data.pop("columns", None)
        output = super().update(instance, validated_data)
        if columns is not None:
            output.columns.all().delete()
            self.save_columns(output, columns)
        return output

    @staticmethod
    def save_columns(output: Output, columns: list[dict]) -> None:
        OutputColumn.objects.bulk_create(
            OutputColumn(output=output, order=index, **column) for index, column in enumerate(columns)
        )


class KPISerializer(ProductPartSerializer):
    owner = username_field(required=False, allow_null=True)

    class Meta:
        model = KPI
        fields = [
            "id",
            "product",
            "name",
            "level",
            "parent",
            "definition",
            "goals",
            "output",
            "aggregation",
            "column",
            "denominator_aggregation",
            "denominator_column",
            "filter",
            "time_column",
            "grain",
            "unit",
            "direction",
            "target",
            "indicator_type",
            "owner",
            "dimensions",
            "status",
            "schedule",
            "counter_metrics",
            "alert_rule",
            "alert_min",
            "alert_max",
            "baseline_periods",
            "baseline_k",
        ]
        extra_kwargs = {"goals": {"required": False}, "counter_metrics": {"required": False}}

    def validate_counter_metrics(self, kpis: list) -> list:
        if self.instance is not None and any(kpi.pk == self.instance.pk for kpi in kpis):
            raise serializers.ValidationError("A KPI cannot be its own counter-metric.")
        return kpis


class SLOSerializer(ProductPartSerializer):
    class Meta:
        model = SLO
        fields = [
            "id",
            "product",
            "name",
            "category",
            "description",
            "indicator",
            "kpi",
            "objective_percent",
            "window_days",
        ]


class ProductInputListSerializer(serializers.ListSerializer):
    """Learns in one query which upstream products the reader may see, for every input in the list."""

    def to_representation(self, data) -> list:
        inputs = list(data.all() if hasattr(data, "all") else data)
        upstream = {i.source_output.product_id for i in inputs if i.source_output_id}
        visible = policy.restrict(DataProduct.objects.filter(pk__in=upstream), self.context["request"].user)
        self.context["visible_upstream"] = set(visible.values_list("pk", flat=True))
        return super().to_representation(inputs)


class ProductInputSerializer(ProductPartSerializer):
    source_name = serializers.CharField(
        source="source_output",
        read_only=True,
        allow_null=True,
        help_text="The upstream output as product.output; null for a product the reader may not see.",
    )
    columns = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=1000,
        help_text="The upstream output's columns this product reads; empty means not declared (assume all).",
    )

    class Meta:
        model = ProductInput
        fields = ["id", "product", "kind", "source_output", "source_name", "external_name", "columns", "description"]
        list_serializer_class = ProductInputListSerializer

    def to_representation(self, instance: ProductInput) -> dict:
        data = super().to_representation(instance)
        if instance.source_output_id and not self.may_see_upstream(instance):
            # Even the name of a draft the reader may not see is not theirs to learn.
            data["source_output"] = data["source_name"] = None
        return data

    def may_see_upstream(self, instance: ProductInput) -> bool:
        visible = self.context.get("visible_upstream")
        if visible is None:
            return policy.can(self.context["request"].user, policy.VIEW, instance.source_output.product)
        return instance.source_output.product_id in visible


# --- The product ---------------------------------------------------------------------------


class KPIReferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = KPI
        fields = ["id", "name"]


class DataProductSerializer(ValidatedModelSerializer):
    """A product as the hub lists it; also what is written to create or change one.

    ``owner`` defaults to the signed-in user on create, and only admins (holders of the
    model-wide ``change_dataproduct`` permission) create a product for someone else. Later,
    whoever may delete the product (its owner, admins) may hand it to someone else.
    """

    url = serializers.HyperlinkedIdentityField(view_name="product-detail", lookup_field="slug")
    domain = SlugRelatedField(slug_field="slug", queryset=Domain.objects.all())
    tags = SlugRelatedField(slug_field="name", queryset=Tag.objects.all(), many=True, required=False)
    owner = username_field(required=False)
    stewards = username_field(many=True, required=False)
    consumer_teams = SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), many=True, required=False)

    class Meta:
        model = DataProduct
        list_fields = [
            "slug",
            "name",
            "domain",
            "summary",
            "status",
            "version",
            "tags",
            "owner",
            "stewards",
            "consumer_teams",
            "url",
            "updated",
        ]
        fields = list_fields

    def validate_owner(self, owner):
        user = self.context["request"].user
        if self.instance is None:
            if owner != user and not policy.has_model_perm(user, DataProduct, policy.CHANGE):
                raise serializers.ValidationError("Only admins may create a product for someone else.")
        elif owner != self.instance.owner and not policy.can(user, policy.DELETE, self.instance):
            raise serializers.ValidationError("Only the owner or an admin may hand the product to someone else.")
        return owner

    def validate_status(self, status: str) -> str:
        # A status change goes through the lifecycle's rules (products.lifecycle), applied in update().
        if self.instance is None:
            if status not in (Status.DRAFT, Status.PUBLISHED):
                raise serializers.ValidationError("A new product starts as a draft or published.")
            return status
        if status == self.instance.status:
            return status
        if status == Status.DEPRECATED:
            raise serializers.ValidationError(
                "Deprecate through POST /api/v1/products/<slug>/lifecycle/, with the sunset date."
            )
        try:
            lifecycle.check_transition(self.instance, status, self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["status"]) from None
        return status

    def validate(self, attrs: dict) -> dict:
        if self.instance is None:
            attrs.setdefault("owner", self.context["request"].user)
        return super().validate(attrs)

    def update(self, instance: DataProduct, validated_data: dict) -> DataProduct:
        status = validated_data.pop("status", instance.status)
        instance = super().update(instance, validated_data)
        if status != instance.status:
            lifecycle.change_status(instance, status, by=self.context["request"].user)
        return instance


class DataProductDetailSerializer(DataProductSerializer):
    """The whole spec of one product; the parts are read here and written through their own endpoints."""

    north_star = KPIReferenceSerializer(read_only=True, allow_null=True)
    goals = GoalSerializer(many=True, read_only=True)
    initiatives = InitiativeSerializer(many=True, read_only=True)
    hypotheses = HypothesisSerializer(many=True, read_only=True)
    use_cases = UseCaseSerializer(many=True, read_only=True)
    usage_patterns = UsagePatternSerializer(many=True, read_only=True)
    outputs = OutputSerializer(many=True, read_only=True)
    kpis = KPISerializer(many=True, read_only=True)
    slos = SLOSerializer(many=True, read_only=True)
    inputs = ProductInputSerializer(many=True, read_only=True)
    downstream = serializers.SerializerMethodField(help_text="Slugs of the products that read this one's outputs.")
    sunset_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="When a deprecated product will be retired."
    )
    replaced_by = serializers.SerializerMethodField(
        help_text="The slug of the product to move to (null if none, or one you may not see)."
    )

    class Meta(DataProductSerializer.Meta):
        fields = DataProductSerializer.Meta.list_fields + [
            "vision",
            "north_star",
            "goals",
            "initiatives",
            "hypotheses",
            "use_cases",
            "usage_patterns",
            "outputs",
            "kpis",
            "slos",
            "inputs",
            "downstream",
            "sunset_date",
            "replaced_by",
            "created",
        ]

    @extend_schema_field(serializers.SlugField(allow_null=True))
    def get_replaced_by(self, product: DataProduct) -> str | None:
        successor = product.replaced_by
        if successor is None or not policy.can(self.context["request"].user, policy.VIEW, successor):
            return None
        return successor.slug

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_downstream(self, product: DataProduct) -> list[str]:
        user = self.context["request"].user
        visible = policy.restrict(product.downstream_products(), user, policy.VIEW)
        return list(visible.order_by("slug").values_list("slug", flat=True))


# --- The lifecycle -------------------------------------------------------------------------


class LifecycleSerializer(serializers.Serializer):
    """A move in the product's lifecycle, applied by ``products.lifecycle.change_status``."""

    status = serializers.ChoiceField(choices=Status.choices)
    sunset_date = serializers.DateField(
        required=False, allow_null=True, help_text="Required to deprecate: the day it will be retired."
    )
    replaced_by = RestrictedSlugRelatedField(
        slug_field="slug",
        queryset=DataProduct.objects.all(),
        required=False,
        allow_null=True,
        help_text="The slug of the product consumers should move to.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate_note(self, note: str) -> str:
        if "\x00" in note:
            raise serializers.ValidationError("The note cannot hold a NUL character.")
        return note
