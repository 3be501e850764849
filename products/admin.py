"""The Django admin for the product spec. Admin forms are ModelForms, so every save runs the models' clean()."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from guardian.admin import GuardedModelAdmin

from access import audit
from utilities.admin import ReadOnlyModelAdmin
from utilities.validators import semver_validator

from . import review, semver, versions
from .choices import KPILevel
from .models import (
    KPI,
    SLO,
    Connection,
    DataProduct,
    Domain,
    Goal,
    Hypothesis,
    Initiative,
    OriginalDocument,
    Output,
    OutputColumn,
    ProductInput,
    RowFilter,
    Tag,
    Team,
    UsagePattern,
    UseCase,
)

# --- Writes to a spec follow the rules of every other path -----------------------------------


class SpecRefused(Exception):
    """A spec change the rules refuse, raised inside the admin's transaction so that nothing is written."""


def spec_product(obj) -> DataProduct | None:
    """The product whose spec ``obj`` is part of (a new check's product follows its output)."""
    if obj is None:
        return None
    product = audit.product_of(obj)
    if product is None and getattr(obj, "output_id", None):
        product = obj.output.product
    return product


def products_touched(objects) -> list[DataProduct]:
    """The saved products a write to ``objects`` changes: theirs and, for a part that moves, the one it leaves."""
    products = []
    for obj in objects:
        products.append(spec_product(obj))
        if obj.pk is not None:
            products.append(spec_product(type(obj)._default_manager.filter(pk=obj.pk).first()))
    pks = {product.pk for product in products if product is not None and product.pk is not None}
    return list(DataProduct.objects.filter(pk__in=pks).order_by("pk"))


def review_refusal(product: DataProduct) -> str:
    return (
        f"Changes to “{product.name}” go through review and the admin cannot send them: edit it on its page "
        f"({product.get_absolute_url()}) to propose the change to its owner. Nothing was saved."
    )


def save_under_rules(user, products: list[DataProduct], save: Callable[[], object]) -> None:
    """Run ``save`` as the API would: refused if it needs review, rolled back if it breaks a version without a bump."""
    for product in products:
        if review.must_review(product, user):
            raise SpecRefused(review_refusal(product))
    for product in products:
        save = partial(versions.within_semver, product, save)
    try:
        save()
    except semver.BreakingChange as exc:
        raise SpecRefused(f"{exc.messages[0]} Nothing was saved.") from None


class SpecAdminMixin:
    """Admin writes to a product's spec follow change review and the semver rule, as the API and the forms do.

    The admin cannot propose a change, so one that needs review is refused; a breaking change without a
    major bump is refused too. The object and its inlines are saved together in ``save_related`` (inlines
    are saved there), deletes in ``delete_model`` / ``delete_queryset``; a refusal is raised inside the
    transaction, so nothing is written, and the view shows it as an error message.
    """

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved with its inlines in save_related, under the rules

    def save_related(self, request, form, formsets, change) -> None:
        def save() -> None:
            super(SpecAdminMixin, self).save_model(request, form.instance, form, change)
            bump_version(form)
            super(SpecAdminMixin, self).save_related(request, form, formsets, change)

        save_under_rules(request.user, products_touched([form.instance]), save)

    def delete_model(self, request, obj) -> None:
        products = [] if isinstance(obj, DataProduct) else products_touched([obj])  # a whole product: no readers left
        save_under_rules(request.user, products, partial(super().delete_model, request, obj))

    def delete_queryset(self, request, queryset) -> None:
        products = [] if queryset.model is DataProduct else products_touched(queryset)
        save_under_rules(request.user, products, partial(super().delete_queryset, request, queryset))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self.refusing(
            request, request.get_full_path(), super().changeform_view, object_id, form_url, extra_context
        )

    def delete_view(self, request, object_id, extra_context=None):
        opts = self.model._meta
        back = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
        return self.refusing(request, back, super().delete_view, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):  # its "delete selected" action
        return self.refusing(request, request.get_full_path(), super().changelist_view, extra_context)

    def refusing(self, request, back: str, view, *args):
        """The view's answer, or for a refused change (rolled back by then) an error message on the page ``back``."""
        try:
            return view(request, *args)
        except SpecRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(back)


class ProductVersionForm(forms.ModelForm):
    """An output's or a column's admin form, with the product's version beside it for a breaking change."""

    product_version = forms.CharField(
        label="New product version",
        required=False,
        max_length=50,
        validators=[semver_validator],
        help_text="Removing an output or a column, or changing a column's type, breaks a published product's "
        "readers: raise the product's major version here, in the same save (e.g. 1.4.0 → 2.0.0).",
    )


def bump_version(form) -> None:
    """Apply the product version given beside the form (``ProductVersionForm``), if any."""
    new_version = (getattr(form, "cleaned_data", None) or {}).get("product_version")
    if new_version:
        product = spec_product(form.instance)
        product.version = new_version
        product.save(update_fields=["version", "updated"])


# --- Reference data -------------------------------------------------------------------------


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]


class ConnectionAdminForm(forms.ModelForm):
    """The URL is write-only: it is validated and encrypted by ``Connection.set_url`` and never shown again."""

    url = forms.CharField(
        label="URL",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "size": 80}),
        help_text="e.g. postgresql://reader:secret@db.example.com:5432/warehouse or sqlite:///warehouse.db "
        "(under the data root). Stored encrypted and never shown again.",
    )

    class Meta:
        model = Connection
        fields = ["name", "description", "check_role"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["url"].required = True
        else:
            self.fields["url"].help_text += " Leave blank to keep the current URL."

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url:
            return url
        try:
            Connection.validate_url(url)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("url", exc.messages)) from None
        return url

    def save(self, commit: bool = True) -> Connection:
        if self.cleaned_data.get("url"):
            self.instance.set_url(self.cleaned_data["url"])
        return super().save(commit)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "kind", "display_url", "updated"]
    list_filter = ["kind"]
    search_fields = ["name", "display_url"]
    readonly_fields = ["kind", "display_url", "created", "updated"]
    fields = ["name", "description", "url", "check_role", "kind", "display_url", "created", "updated"]


# --- The product ----------------------------------------------------------------------------


class GoalInline(admin.TabularInline):
    model = Goal
    fields = ["title", "success_measure", "target_value", "target_unit", "target_date", "order"]
    extra = 0
    show_change_link = True


class InitiativeInline(admin.TabularInline):
    model = Initiative
    fields = ["title", "order"]
    extra = 0
    show_change_link = True


class UseCaseInline(admin.TabularInline):
    model = UseCase
    fields = ["title", "stakeholders", "priority"]
    extra = 0
    show_change_link = True


class UsagePatternInline(admin.TabularInline):
    model = UsagePattern
    fields = ["name", "users", "frequency", "update_cadence"]
    extra = 0
    show_change_link = True


class OutputInline(admin.TabularInline):
    model = Output
    fields = ["name", "kind", "format", "path", "connection", "table", "refresh_cadence"]
    extra = 0
    show_change_link = True


class SLOInline(admin.TabularInline):
    model = SLO
    fields = ["name", "category", "indicator", "objective_percent", "window_days"]
    extra = 0
    show_change_link = True


class ProductInputInline(admin.TabularInline):
    model = ProductInput
    fk_name = "product"
    fields = ["kind", "source_output", "external_name"]
    autocomplete_fields = ["source_output"]
    extra = 0


@admin.register(DataProduct)
class DataProductAdmin(SpecAdminMixin, GuardedModelAdmin):
    """Products, with their spec inline; 'Object permissions' manages who may see and change each one."""

    list_display = ["name", "slug", "domain", "status", "owner", "version", "updated"]
    list_filter = ["status", "domain"]
    list_select_related = ["domain", "owner"]
    search_fields = ["name", "slug", "summary"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["domain", "owner", "tags", "stewards", "consumer_teams"]
    readonly_fields = ["created", "updated"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "domain", "status", "version", "summary", "vision", "tags"]}),
        ("People", {"fields": ["owner", "stewards", "consumer_teams"]}),
        ("Measurement", {"fields": ["north_star"]}),
        ("History", {"fields": ["created", "updated"], "classes": ["collapse"]}),
    ]
    inlines = [
        GoalInline,
        InitiativeInline,
        UseCaseInline,
        UsagePatternInline,
        OutputInline,
        SLOInline,
        ProductInputInline,
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "north_star":
            # Only this product's north-star KPIs qualify (the model's clean() says so too).
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = (
                KPI.objects.filter(product_id=object_id, level=KPILevel.NORTH_STAR) if object_id else KPI.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProductPartAdmin(SpecAdminMixin, admin.ModelAdmin):
    """A part of a product's spec; listed with its product, written under the spec's rules (``SpecAdminMixin``)."""

    list_select_related = ["product"]
    list_filter = ["product__domain"]
    autocomplete_fields = ["product"]


@admin.register(Goal)
class GoalAdmin(ProductPartAdmin):
    list_display = ["title", "product", "target_value", "target_unit", "target_date"]
    search_fields = ["title", "product__name"]


@admin.register(Initiative)
class InitiativeAdmin(ProductPartAdmin):
    list_display = ["title", "product"]
    search_fields = ["title", "product__name"]
    autocomplete_fields = ["product", "goals"]


@admin.register(Hypothesis)
class HypothesisAdmin(ProductPartAdmin):
    list_display = ["title", "product", "goal", "initiative", "status"]
    list_select_related = ["product", "goal", "initiative"]
    list_filter = ["status", "product__domain"]
    search_fields = ["title", "statement", "product__name"]
    autocomplete_fields = ["product", "goal", "initiative"]


@admin.register(UseCase)
class UseCaseAdmin(ProductPartAdmin):
    list_display = ["title", "product", "priority", "stakeholders"]
    list_filter = ["priority", "product__domain"]
    search_fields = ["title", "product__name"]
    autocomplete_fields = ["product", "hypotheses"]


@admin.register(UsagePattern)
class UsagePatternAdmin(ProductPartAdmin):
    list_display = ["name", "product", "frequency", "update_cadence"]
    search_fields = ["name", "product__name"]


class OutputColumnInline(admin.TabularInline):
    model = OutputColumn
    fields = ["name", "data_type", "role", "classification", "masking", "description", "order"]
    extra = 0


class RowFilterInline(admin.TabularInline):
    """The output's row filters: a user or a group, a column, and the values (a JSON list of text) they see."""

    model = RowFilter
    fields = ["user", "group", "column", "values"]
    raw_id_fields = ["user"]
    extra = 0


@admin.register(Output)
class OutputAdmin(GuardedModelAdmin, ProductPartAdmin):
    """Outputs, with guardian's "Object permissions" page: who may read the rows (masked or in clear)."""

    list_display = ["__str__", "kind", "format", "path", "connection", "table"]
    list_select_related = ["product", "connection"]
    list_filter = ["kind", "format", "product__domain"]
    search_fields = ["name", "product__name", "product__slug", "table", "path"]
    autocomplete_fields = ["product", "connection"]
    inlines = [OutputColumnInline, RowFilterInline]
    form = ProductVersionForm


@admin.register(OutputColumn)
class OutputColumnAdmin(SpecAdminMixin, admin.ModelAdmin):
    list_display = ["name", "output", "data_type", "role", "classification"]
    form = ProductVersionForm
    list_select_related = ["output__product"]
    list_filter = ["classification", "role", "data_type"]
    search_fields = ["name", "output__name", "output__product__name"]
    autocomplete_fields = ["output"]


@admin.register(ProductInput)
class ProductInputAdmin(ProductPartAdmin):
    list_display = ["__str__", "product", "kind"]
    list_select_related = ["product", "source_output__product"]
    list_filter = ["kind"]
    search_fields = ["external_name", "product__name", "source_output__name"]
    autocomplete_fields = ["product", "source_output"]


@admin.register(KPI)
class KPIAdmin(ProductPartAdmin):
    list_display = ["name", "product", "level", "parent", "unit", "direction", "target", "indicator_type"]
    list_select_related = ["product", "parent"]
    list_filter = ["level", "indicator_type", "product__domain"]
    search_fields = ["name", "product__name"]
    autocomplete_fields = ["product", "parent", "output", "owner", "goals"]


@admin.register(SLO)
class SLOAdmin(ProductPartAdmin):
    list_display = ["name", "product", "category", "objective_percent", "window_days"]
    list_filter = ["category", "product__domain"]
    search_fields = ["name", "indicator", "product__name"]
    autocomplete_fields = ["product", "kpi"]


@admin.register(OriginalDocument)
class OriginalDocumentAdmin(ReadOnlyModelAdmin):
    """Imported ODCS contracts and ODPS descriptors, as they came, with what did not map."""

    list_display = ("product", "output", "standard", "imported_by", "imported_at")
    list_filter = ("standard",)
    search_fields = ("product__slug", "product__name", "output__name")
    list_select_related = ("product", "output", "imported_by")
