"""The steward's quality forms: an output's checks, an incident's acknowledgement and resolution, webhooks.

Choices go through the access policy (``products.forms.PolicyFormMixin``): a check may name only
SLOs of its own product. Validation lives on the models (``Check.clean``, the cron validator,
``Webhook.clean``); ``ModelForm`` runs it and puts each error next to its field. Custom SQL is
offered to superusers only, and a check a user may not edit (``Check.may_be_edited_by``) is drawn
read-only and can be neither changed nor deleted through the formset.
"""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from products.forms import SHORT_TEXT, PolicyFormMixin, SectionFormSet
from products.models import SLO, DataProduct, Output

from . import webhooks
from .models import CUSTOM_SQL, Check, Webhook


class ColumnsField(forms.CharField):
    """Key columns typed as ``a, b`` and kept as the list ``["a", "b"]``."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(name) for name in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):  # the initial value of a disabled field
            return list(value)
        text = super().to_python(value)
        return [name.strip() for name in text.split(",") if name.strip()]

    def has_changed(self, initial, data) -> bool:
        # A blank new row has no initial value at all: compare lists, so "" is no change.
        return not self.disabled and self.to_python(initial) != self.to_python(data)


class ParamsField(forms.JSONField):
    """The check type's parameters as a JSON object; bad JSON is an error that says where."""

    def to_python(self, value):
        if value in self.empty_values:
            return {}
        if not isinstance(value, str):  # the initial value of a disabled field: already parsed
            return value
        try:
            return json.loads(value, cls=self.decoder)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                'params is not valid JSON (%(problem)s), e.g. {"max_age_hours": 24}.',
                code="invalid",
                params={"problem": f"{exc.msg} at line {exc.lineno}, column {exc.colno}"},
            ) from None

    def bound_data(self, data, initial):
        return initial if self.disabled else data  # show what was typed, even when it is not JSON

    def has_changed(self, initial, data) -> bool:
        # A blank new row has no initial value at all: compare objects, so "" is no change ({}).
        if self.disabled:
            return False
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False) if value else ""


class CheckForm(PolicyFormMixin, forms.ModelForm):
    """One check of an output. Blank operator and threshold take the check type's defaults."""

    columns = ColumnsField(
        required=False, help_text="Key columns for duplicate_count, separated by commas: order_id, line_no."
    )
    params = ParamsField(
        required=False,
        widget=forms.Textarea(attrs={**SHORT_TEXT, "spellcheck": "false", "class": "mono"}),
        help_text=Check._meta.get_field("params").help_text + ' JSON, e.g. {"allowed_values": ["ok", "late"]}.',
    )

    class Meta:
        model = Check
        fields = [
            "name",
            "check_type",
            "column",
            "columns",
            "operator",
            "threshold",
            "threshold_high",
            "severity",
            "schedule",
            "enabled",
            "slos",
            "params",
        ]
        widgets = {"slos": forms.CheckboxSelectMultiple}
        labels = {"check_type": "Type", "threshold_high": "Upper bound", "slos": "Measures SLOs"}

    spans = {"name": 2}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locked = bool(self.instance.pk) and not self.instance.may_be_edited_by(self.user)
        if self.locked:
            for field in self.fields.values():
                field.disabled = True
            self.fields["check_type"].help_text = "Custom SQL checks are changed and deleted by admins only."

    def restrict_choices(self) -> None:
        self.fields["slos"].queryset = self.visible(SLO).order_by("name")
        if not (self.user.is_superuser or self.instance.check_type == CUSTOM_SQL):
            choices = self.fields["check_type"].choices  # with the blank choice a new row starts on
            self.fields["check_type"].choices = [(value, label) for value, label in choices if value != CUSTOM_SQL]

    def clean_check_type(self) -> str:
        check_type = self.cleaned_data["check_type"]
        if check_type == CUSTOM_SQL and not self.locked and not self.user.is_superuser:
            raise ValidationError("Only an admin may write a custom SQL check.")
        return check_type


class CheckFormSet(SectionFormSet):
    """An output's checks; a locked check (custom SQL, for a steward) is neither changed nor deleted."""

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        if getattr(form, "locked", False):
            del form.fields["DELETE"]

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            if getattr(form, "locked", False) and (form.has_changed() or self._should_delete_form(form)):
                raise ValidationError(f"Only an admin may change or delete the check “{form.instance.name}”.")


CheckFormSetFactory = forms.inlineformset_factory(
    Output, Check, form=CheckForm, formset=CheckFormSet, extra=1, can_delete=True
)


def check_formset(data, output: Output, user) -> CheckFormSet:
    return CheckFormSetFactory(data, instance=output, user=user, product=output.product, prefix="checks")


# --- Incidents -------------------------------------------------------------------------------


class DomainErrorsMixin:
    """Put a domain function's ``ValidationError`` on the field it names (or on the form)."""

    def names_fields_of(self, exc: ValidationError) -> bool:
        """True when the error is about this form's fields (not, say, the state of the object)."""
        return hasattr(exc, "error_dict") and all(name in self.fields for name in exc.error_dict)

    def add_domain_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, errors in exc.message_dict.items():
            self.add_error(name if name in self.fields else None, errors)


class IncidentAcknowledgeForm(DomainErrorsMixin, forms.Form):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: what you are doing about it.",
    )


class IncidentResolveForm(DomainErrorsMixin, forms.Form):
    # Not required here: quality.incidents.resolve says why a reason is needed, next to this field.
    resolution = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required: why it is resolved (the fix, or why it was not a problem).",
    )


# --- Quality settings ----------------------------------------------------------------------


class WebhookForm(DomainErrorsMixin, forms.Form):
    url = forms.URLField(
        label="Webhook URL",
        max_length=Webhook._meta.get_field("url").max_length,
        assume_scheme="https",
        help_text="Alerts are POSTed here as signed JSON. "
        "Addresses on private networks are refused unless an admin allows them.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.com/lodestar"}),
    )

    def __init__(self, *args, product: DataProduct, **kwargs):
        self.product = product
        super().__init__(*args, **kwargs)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if self.product.webhooks.filter(url=url).exists():
            raise ValidationError("This product already has a webhook to this URL.")
        webhooks.validate_webhook_url(url)
        return url


class IncidentSettingsForm(forms.ModelForm):
    class Meta:
        model = DataProduct
        fields = ["auto_resolve_incidents"]
        labels = {"auto_resolve_incidents": "Resolve incidents automatically"}
        help_texts = {
            "auto_resolve_incidents": "A passing run resolves its check's open incident, and an SLO met again "
            "resolves its breach. Otherwise a steward resolves each incident with a reason."
        }
