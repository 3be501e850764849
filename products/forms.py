"""Steward forms: a product's own fields, the first step of designing one, and a formset per spec section.

Every choice a form offers (goals, KPIs, outputs, people) is narrowed through the access
policy and to the product being edited, so a hand-crafted POST naming another product's
goal is refused with a field error. Validation of the spec itself lives on the models;
``ModelForm`` runs it (``full_clean``) and puts each error next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils.text import slugify

from access import policy

from . import choices, lifecycle
from .choices import Status
from .models import (
    KPI,
    SLO,
    Connection,
    DataProduct,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    OutputColumn,
    ProductInput,
    UsagePattern,
    UseCase,
)

SHORT_TEXT = {"rows": 3}


def people():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def person_label(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return person_label(obj)


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return person_label(obj)


@dataclass
class FieldGroup:
    """Fields drawn together under a title; a folded group opens when one of its fields has a value or an error."""

    title: str
    fields: list
    folded: bool = False

    @property
    def open(self) -> bool:
        return not self.folded or any(field.errors or field.value() not in (None, "", []) for field in self.fields)


class PolicyFormMixin:
    """A form that knows who fills it in and for which product, and narrows its choices to match.

    Subclasses override ``restrict_choices``; every queryset they set goes through the policy.
    For layout, ``spans`` widens fields (2 columns or "full") and ``folded`` names a group of
    optional fields drawn folded under a title.
    """

    spans: dict[str, int | str] = {}
    folded: tuple[str, list[str]] | None = None

    def __init__(self, *args, user, product: DataProduct | None = None, **kwargs):
        self.user = user
        self.product = product
        super().__init__(*args, **kwargs)
        self.restrict_choices()
        for name, span in self.spans.items():
            self.fields[name].span = span

    def field_groups(self) -> list[FieldGroup]:
        """The visible fields (without a formset's DELETE box) in the groups the template draws."""
        folded_title, folded_names = self.folded or ("", [])
        fields = [field for field in self.visible_fields() if field.name != "DELETE"]
        groups = [FieldGroup("", [field for field in fields if field.name not in folded_names])]
        if folded_names:
            groups.append(FieldGroup(folded_title, [self[name] for name in folded_names], folded=True))
        return groups

    def restrict_choices(self) -> None:
        pass

    def visible(self, model: type[models.Model]) -> models.QuerySet:
        """``model``'s rows the user may see, of this product (for a part of a product)."""
        queryset = model.objects.restrict(self.user, policy.VIEW)
        if self.product is not None and getattr(model, "access_parent", None) == "product":
            queryset = queryset.filter(product=self.product)
        return queryset


def usable_connections(user) -> models.QuerySet:
    """The connections an output may name: those an admin let the user use (view permission)."""
    return Connection.objects.restrict(user, policy.VIEW)


# --- The product itself -----------------------------------------------------------------------


class DataProductForm(PolicyFormMixin, forms.ModelForm):
    """The steward's form for a product's own fields."""

    class Meta:
        model = DataProduct
        fields = [
            "name",
            "domain",
            "summary",
            "vision",
            "status",
            "version",
            "tags",
            "owner",
            "stewards",
            "consumer_teams",
            "north_star",
            "review_changes",
        ]
        widgets = {
            "vision": forms.Textarea(attrs={"rows": 8}),
            "tags": forms.CheckboxSelectMultiple,
            "consumer_teams": forms.CheckboxSelectMultiple,
            "stewards": forms.SelectMultiple(attrs={"size": 6}),
        }
        field_classes = {"owner": PersonChoiceField, "stewards": PeopleChoiceField}
        help_texts = {
            "status": (
                "Drafts are seen only by the owner, the stewards and admins; publishing shows it to everyone. "
                "Deprecate (with a sunset date) on the product's Lifecycle page."
            ),
            "north_star": "One of this product's KPIs at the level 'north star'.",
            "stewards": "They may edit this product's spec. Hold Ctrl (⌘ on a Mac) to pick several.",
        }

    def restrict_choices(self) -> None:
        self.fields["north_star"].queryset = self.visible(KPI).filter(
            product=self.instance, level=choices.KPILevel.NORTH_STAR
        )
        self.fields["owner"].queryset = people()
        self.fields["stewards"].queryset = people()
        # Only the owner (or an admin) may hand the product to someone else: they are the
        # ones who may delete it, so the same policy action decides.
        if not policy.can(self.user, policy.DELETE, self.instance):
            del self.fields["owner"]
            del self.fields["review_changes"]  # whether stewards' changes need review is the owner's choice
        self.limit_statuses()

    def limit_statuses(self) -> None:
        """Offer the moves the lifecycle allows the user (deprecating has its own page: it needs a date)."""
        current = self.instance.status
        allowed = [s for s in lifecycle.allowed_statuses(self.instance, self.user) if s != Status.DEPRECATED]
        offered = {current, *allowed}
        self.fields["status"].choices = [(value, label) for value, label in Status.choices if value in offered]

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status == self.instance.status:
            return status
        try:
            lifecycle.check_transition(self.instance, status, self.user)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["status"]) from None
        except PermissionDenied as exc:
            raise forms.ValidationError(str(exc)) from None
        return status

    def _post_clean(self) -> None:
        # The model is checked with the status it has until change_status() moves it (in save()).
        self.new_status = self.cleaned_data.pop("status", self.instance.status)
        super()._post_clean()
        self.cleaned_data["status"] = self.new_status

    def save(self, commit: bool = True) -> DataProduct:
        product = super().save(commit=commit)
        if commit and self.new_status != product.status:
            lifecycle.change_status(product, self.new_status, by=self.user)
        return product


class LifecycleForm(forms.Form):
    """A move in the product's lifecycle; ``products.lifecycle.change_status`` applies it and has the last word."""

    status = forms.ChoiceField(choices=Status.choices, label="New status")
    sunset_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Required to deprecate: the day the product will be retired (today or later).",
    )
    replaced_by = forms.ModelChoiceField(
        queryset=DataProduct.objects.none(),
        required=False,
        label="Replaced by",
        help_text="The product consumers should move to (optional).",
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs=SHORT_TEXT),
        help_text="Why — kept in the audit log.",
    )

    def __init__(self, *args, user, product: DataProduct, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.product = user, product
        allowed = lifecycle.allowed_statuses(product, user)
        # Any status may be posted (change_status says why a move is refused); only the allowed ones are offered.
        self.fields["status"].widget.choices = [(v, label) for v, label in Status.choices if v in allowed]
        replacements = DataProduct.objects.restrict(user, policy.VIEW).exclude(pk=product.pk)
        self.fields["replaced_by"].queryset = replacements.exclude(status=Status.RETIRED).order_by("name")


class DataProductCreateForm(PolicyFormMixin, forms.ModelForm):
    """Step 1 of designing a product, right to left: the north star, the vision, then its name."""

    north_star_name = forms.CharField(
        label="North-star metric",
        max_length=200,
        help_text="e.g. 'Cross-sell revenue share' or 'Weekly active buyers'.",
    )
    north_star_unit = forms.CharField(label="Unit", max_length=30, required=False, help_text="%, EUR, orders…")
    north_star_definition = forms.CharField(
        label="How it is measured",
        required=False,
        widget=forms.Textarea(attrs=SHORT_TEXT),
        help_text="Markdown. What counts, over which period.",
    )

    # The north-star KPI's attributes and the form fields that carry them.
    NORTH_STAR_FIELDS = {"name": "north_star_name", "unit": "north_star_unit", "definition": "north_star_definition"}
    field_order = ["north_star_name", "north_star_unit", "north_star_definition", "vision"]

    class Meta:
        model = DataProduct
        fields = ["vision", "name", "slug", "domain", "summary"]
        widgets = {"vision": forms.Textarea(attrs={"rows": 5})}
        labels = {"name": "Product name", "slug": "Slug"}
        error_messages = {"slug": {"unique": "A product with this slug already exists; choose another."}}
        help_texts = {
            "vision": "Markdown. The future this product helps bring about, in a few sentences.",
            "slug": "Its name in URLs and specs. Left blank, it is made from the name.",
            "summary": "One sentence a colleague scanning the catalog will read.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].widget.attrs["data-slug-from"] = "id_name"

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("slug") and cleaned.get("name"):
            cleaned["slug"] = slugify(cleaned["name"])[:100]
            if not cleaned["slug"]:
                self.add_error("slug", "Enter a slug: letters, numbers, hyphens or underscores.")
        self._clean_north_star()
        return cleaned

    def north_star_kpi(self) -> KPI:
        values = {attr: self.cleaned_data.get(field, "") for attr, field in self.NORTH_STAR_FIELDS.items()}
        return KPI(level=choices.KPILevel.NORTH_STAR, **values)

    def _clean_north_star(self) -> None:
        """Validate the north-star KPI with the model's own rules; errors land on this form's fields."""
        try:
            self.north_star_kpi().full_clean(exclude=["product"], validate_unique=False)
        except ValidationError as exc:
            for attr, messages in exc.message_dict.items():
                field = self.NORTH_STAR_FIELDS.get(attr)
                if field is None or field not in self.errors:
                    self.add_error(field, messages)

    def save(self, commit: bool = True) -> DataProduct:
        """Create the draft, owned by whoever designs it, with its north-star KPI."""
        product = super().save(commit=False)
        product.owner = self.user
        product.status = choices.Status.DRAFT
        product.save()
        self.save_m2m()
        kpi = self.north_star_kpi()
        kpi.product = product
        kpi.save()
        product.north_star = kpi
        product.save(update_fields=["north_star", "updated"])
        return product


# --- The sections of the spec -----------------------------------------------------------------


class GoalForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = Goal
        fields = ["title", "success_measure", "target_value", "target_unit", "target_date", "description"]
        widgets = {
            "description": forms.Textarea(attrs=SHORT_TEXT),
            "target_date": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {"target_value": "Target", "target_unit": "Unit", "target_date": "By"}

    spans = {"title": 2, "success_measure": 2}


class InitiativeForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = Initiative
        fields = ["title", "goals", "description"]
        widgets = {"description": forms.Textarea(attrs=SHORT_TEXT), "goals": forms.CheckboxSelectMultiple}
        help_texts = {"goals": "The goals this initiative serves."}

    spans = {"title": "full"}

    def restrict_choices(self) -> None:
        self.fields["goals"].queryset = self.visible(Goal)


class HypothesisForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = Hypothesis
        fields = ["title", "initiative", "goal", "status", "statement", "evidence"]
        widgets = {"statement": forms.Textarea(attrs=SHORT_TEXT), "evidence": forms.Textarea(attrs=SHORT_TEXT)}
        labels = {"initiative": "We believe that…", "goal": "…will help achieve"}
        help_texts = {"statement": "The hypothesis in a sentence or two.", "evidence": "Markdown. What supports it."}

    def restrict_choices(self) -> None:
        self.fields["goal"].queryset = self.visible(Goal)
        self.fields["initiative"].queryset = self.visible(Initiative)


class UseCaseForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = UseCase
        fields = ["title", "stakeholders", "priority", "hypotheses", "description"]
        widgets = {"description": forms.Textarea(attrs=SHORT_TEXT), "hypotheses": forms.CheckboxSelectMultiple}
        help_texts = {"hypotheses": "The hypotheses this use case tests."}

    spans = {"title": 2}

    def restrict_choices(self) -> None:
        self.fields["hypotheses"].queryset = self.visible(Hypothesis)


class UsagePatternForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = UsagePattern
        fields = [
            "name",
            "users",
            "frequency",
            "update_cadence",
            "completeness_need",
            "freshness_need",
            "accuracy_need",
            "description",
        ]
        widgets = {"description": forms.Textarea(attrs=SHORT_TEXT)}
        labels = {"frequency": "Used", "update_cadence": "Updated"}

    spans = {"name": 2, "users": 2}


class OutputForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = Output
        fields = ["name", "kind", "format", "path", "connection", "table", "refresh_cadence", "description"]
        widgets = {"description": forms.Textarea(attrs=SHORT_TEXT)}
        help_texts = {
            "path": "For a file: relative to the data root, e.g. sales/orders.parquet.",
            "table": "For a table: its name behind the connection, e.g. sales.orders.",
        }

    spans = {"path": 2}

    def restrict_choices(self) -> None:
        self.fields["connection"].queryset = usable_connections(self.user)


class OutputColumnForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = OutputColumn
        fields = ["name", "data_type", "role", "classification", "masking", "description", "order"]
        labels = {"data_type": "Type"}

    spans = {"description": 2}


@dataclass
class ChangedFieldGroup(FieldGroup):
    """A folded group of fields with defaults (KPIForm's series and alerts): open once one differs or has an error."""

    changed: bool = False

    @property
    def open(self) -> bool:
        return self.changed


# KPIForm's folded "Series and alerts" group: how the series is broken down, refreshed and watched.
# Those with a default may be left out of a submission.
DEFAULTED_FIELDS = ("status", "schedule", "baseline_periods", "baseline_k")
SERIES_FIELDS = [
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


class KPIForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = KPI
        fields = [
            "name",
            "level",
            "parent",
            "unit",
            "direction",
            "target",
            "indicator_type",
            "owner",
            "goals",
            "definition",
            "output",
            "aggregation",
            "column",
            "denominator_aggregation",
            "denominator_column",
            "filter",
            "time_column",
            "grain",
            *SERIES_FIELDS,
        ]
        widgets = {
            "definition": forms.Textarea(attrs=SHORT_TEXT),
            "goals": forms.CheckboxSelectMultiple,
            "counter_metrics": forms.CheckboxSelectMultiple,
        }
        field_classes = {"owner": PersonChoiceField}
        labels = {
            "indicator_type": "Leading or lagging",
            "denominator_aggregation": "Divided by",
            "denominator_column": "Denominator column",
            "alert_min": "Alert below",
            "alert_max": "Alert above",
            "baseline_periods": "Baseline periods",
            "baseline_k": "Baseline k",
        }

    spans = {"name": 2}
    folded = (
        "Calculation over an output",
        [
            "output",
            "aggregation",
            "column",
            "grain",
            "denominator_aggregation",
            "denominator_column",
            "time_column",
            "filter",
        ],
    )
    series_folded = ("Series and alerts", SERIES_FIELDS)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Typed as "region, channel"; the model keeps a list (ColumnNamesField is defined further down).
        self.fields["dimensions"] = ColumnNamesField(
            required=False,
            label="Dimensions",
            help_text="Columns of the output to break the KPI down by, comma-separated, e.g. region, channel.",
        )
        # A form posted without the folded group (an older client, a script) keeps the model's defaults.
        for name in DEFAULTED_FIELDS:
            self.fields[name].required = False

    def clean(self) -> dict:
        for name in DEFAULTED_FIELDS:
            if self.cleaned_data.get(name) in (None, ""):
                self.cleaned_data[name] = KPI._meta.get_field(name).get_default()
        return super().clean()

    def restrict_choices(self) -> None:
        self.fields["parent"].queryset = self.visible(KPI)
        self.fields["output"].queryset = self.visible(Output)
        self.fields["goals"].queryset = self.visible(Goal)
        self.fields["owner"].queryset = people()
        others = self.visible(KPI)
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        self.fields["counter_metrics"].queryset = others

    def field_groups(self) -> list[FieldGroup]:
        """The calculation group, then "Series and alerts", folded while its fields keep their defaults."""
        title, names = self.series_folded
        groups = super().field_groups()
        groups[0].fields = [field for field in groups[0].fields if field.name not in names]
        fields = [self[name] for name in names]
        changed = any(field.errors or self._changed(field) for field in fields)
        return [*groups, ChangedFieldGroup(title, fields, folded=True, changed=changed)]

    def _changed(self, field) -> bool:
        initial = self.get_initial_for_field(field.field, field.name)
        value = field.value()
        if isinstance(initial, list) or hasattr(initial, "all"):
            return bool(value)
        return str(value if value is not None else "") != str(initial if initial is not None else "")


class SLOForm(PolicyFormMixin, forms.ModelForm):
    class Meta:
        model = SLO
        fields = ["name", "category", "indicator", "kpi", "objective_percent", "window_days", "description"]
        widgets = {"description": forms.Textarea(attrs=SHORT_TEXT)}
        labels = {"kpi": "Measured by KPI", "objective_percent": "Objective (%)", "window_days": "Window (days)"}

    spans = {"name": 2, "indicator": 2}

    def restrict_choices(self) -> None:
        self.fields["kpi"].queryset = self.visible(KPI)


class ColumnNamesField(forms.CharField):
    """Column names typed as a comma-separated list; stored as a list of names."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        names = [name.strip() for name in text.split(",") if name.strip()]
        return list(dict.fromkeys(names))  # each once, in the order given

    def validate(self, value) -> None:
        if len(value) > 1000:
            raise forms.ValidationError("Name at most 1000 columns.")
        if any(len(name) > 100 or "\x00" in name for name in value):
            raise forms.ValidationError("A column name is at most 100 characters, without NUL characters.")


class ProductInputForm(PolicyFormMixin, forms.ModelForm):
    columns = ColumnNamesField(
        required=False,
        label="Columns read",
        help_text="The upstream output's columns this product reads, comma-separated. Empty: assume all of them.",
    )

    class Meta:
        model = ProductInput
        fields = ["kind", "source_output", "external_name", "columns", "description"]
        widgets = {"description": forms.Textarea(attrs=SHORT_TEXT)}
        labels = {"source_output": "Upstream output"}

    spans = {"source_output": 2, "columns": 2}

    def restrict_choices(self) -> None:
        # Any output the user may see, of any other product: lineage is drawn across products.
        outputs = Output.objects.restrict(self.user, policy.VIEW).exclude(product=self.product)
        self.fields["source_output"].queryset = outputs.select_related("product").order_by("product__slug", "name")


# --- Formsets ---------------------------------------------------------------------------------


class SectionFormSet(forms.BaseInlineFormSet):
    """An inline formset whose forms know the user and the product, for their choices."""

    def __init__(self, *args, user, product: DataProduct, **kwargs):
        self.user = user
        self.product = product
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "user": self.user, "product": self.product}

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        # Django checks a row's id against every row of the model; only this parent's rows may be edited.
        form.fields[self.model._meta.pk.name].queryset = self.get_queryset()


class KPIFormSet(SectionFormSet):
    """KPIs are a tree: check the tree the whole submission would make, not each row against the old one."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        parents = dict(KPI.objects.filter(product=self.product).values_list("pk", "parent_id"))
        edited = [form for form in self.forms if form.instance.pk and form.cleaned_data]
        for form in edited:
            parent = form.cleaned_data.get("parent")
            parents[form.instance.pk] = parent.pk if parent else None
        for form in edited:
            if "parent" not in form.errors and self._is_its_own_ancestor(form.instance.pk, parents):
                form.add_error("parent", "A KPI cannot be its own ancestor.")

    @staticmethod
    def _is_its_own_ancestor(pk: int, parents: dict[int, int | None]) -> bool:
        seen, node = set(), parents.get(pk)
        while node is not None and node not in seen:
            if node == pk:
                return True
            seen.add(node)
            node = parents.get(node)
        return False


@dataclass(frozen=True)
class Section:
    """One editable section of a product's spec: a formset of one kind of part."""

    name: str
    title: str
    help: str
    formset: type[forms.BaseInlineFormSet]
    parent: str = "product"  # what the formset hangs off: the product, or one of its outputs
    noun_override: str = ""

    @property
    def noun(self) -> str:
        """One row of the section, as the page names it: 'goal', 'KPI', 'column'."""
        return self.noun_override or self.formset.model._meta.verbose_name


def section_formset(parent_model, model, form, formset=SectionFormSet):
    return forms.inlineformset_factory(parent_model, model, form=form, formset=formset, extra=1, can_delete=True)


SECTIONS: dict[str, Section] = {
    section.name: section
    for section in [
        Section(
            "goals",
            "Goals",
            "Quantifiable targets that deliver on the vision: what success is measured by, the target and the date.",
            section_formset(DataProduct, Goal, GoalForm),
        ),
        Section(
            "initiatives",
            "Initiatives",
            "The approaches you will take, each serving one or more goals.",
            section_formset(DataProduct, Initiative, InitiativeForm),
        ),
        Section(
            "hypotheses",
            "Hypotheses",
            "“We believe that this initiative will help achieve that goal” — and the evidence for or against.",
            section_formset(DataProduct, Hypothesis, HypothesisForm),
        ),
        Section(
            "use-cases",
            "Use cases",
            "The practical applications: who benefits, how much it matters, which hypotheses it tests.",
            section_formset(DataProduct, UseCase, UseCaseForm),
        ),
        Section(
            "usage-patterns",
            "Usage patterns",
            "Who uses the data, how often, and how complete, fresh and accurate it must be.",
            section_formset(DataProduct, UsagePattern, UsagePatternForm),
        ),
        Section(
            "kpis",
            "KPIs",
            "The KPI tree under the north star: outcomes (level 1), drivers (level 2), diagnostics (level 3).",
            section_formset(DataProduct, KPI, KPIForm, KPIFormSet),
        ),
        Section(
            "slos",
            "SLOs",
            "Promises about architecture, quality and governance: an indicator, an objective and a window.",
            section_formset(DataProduct, SLO, SLOForm),
        ),
        Section(
            "outputs",
            "Outputs",
            "The datasets the product delivers: a file under the data root, or a table behind a connection.",
            section_formset(DataProduct, Output, OutputForm),
        ),
        Section(
            "columns",
            "Columns",
            "Each output's schema — the semantic model: keys, dimensions, measures, time, and what is PII.",
            section_formset(Output, OutputColumn, OutputColumnForm),
            parent="output",
            noun_override="column",
        ),
        Section(
            "inputs",
            "Inputs",
            "Where the data comes from: another product's output (drawn in the lineage) or an external source.",
            section_formset(DataProduct, ProductInput, ProductInputForm),
        ),
    ]
}
