"""The row-filter editor: one output's rules, a formset of holder (a user or a group, by name), column and values."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from .forms import FieldGroup
from .models import Output, RowFilter

VALUE_SEPARATORS = re.compile(r"[,\n]")


def split_values(text: str) -> list[str]:
    """Values written one per line or separated by commas; blanks dropped, each kept once, in order."""
    values = [value.strip() for value in VALUE_SEPARATORS.split(text or "")]
    return list(dict.fromkeys(value for value in values if value))


class RowFilterForm(forms.ModelForm):
    """One rule. The holder is named: a username or a group name, exactly one of the two."""

    username = forms.CharField(label="User", required=False, max_length=150, help_text="A username…")
    group_name = forms.CharField(label="Group", required=False, max_length=150, help_text="…or a group's name.")
    column = forms.ChoiceField(help_text="The column the rule reads.")
    values_text = forms.CharField(
        label="Values",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The values the holder sees, one per line or separated by commas.",
    )

    field_order = ["username", "group_name", "column", "values_text"]
    # The model's errors, on the form's fields that set them.
    MODEL_ERROR_FIELDS = {"user": "username", "group": "group_name", "values": "values_text", "output": None}

    class Meta:
        model = RowFilter
        fields = ["column"]

    def __init__(self, *args, output: Output, **kwargs) -> None:
        self.output = output
        super().__init__(*args, **kwargs)
        self.fields["column"].choices = [(c.name, c.name) for c in output.columns.all()]
        instance = self.instance
        if instance.pk:
            self.initial.setdefault("username", instance.user.get_username() if instance.user_id else "")
            self.initial.setdefault("group_name", instance.group.name if instance.group_id else "")
            self.initial.setdefault("values_text", "\n".join(instance.values))

    def field_groups(self) -> list[FieldGroup]:
        return [FieldGroup("", [field for field in self.visible_fields() if field.name != "DELETE"])]

    def clean_username(self):
        name = self.cleaned_data["username"].strip()
        if not name:
            return None
        try:
            return get_user_model().objects.get_by_natural_key(name)
        except get_user_model().DoesNotExist:
            raise ValidationError(f"No user is called {name!r}.") from None

    def clean_group_name(self):
        name = self.cleaned_data["group_name"].strip()
        if not name:
            return None
        try:
            return Group.objects.get(name=name)
        except Group.DoesNotExist:
            raise ValidationError(f"No group is called {name!r}.") from None

    def clean_values_text(self) -> list[str]:
        values = split_values(self.cleaned_data["values_text"])
        problem = RowFilter.values_problem(values)
        if problem:
            raise ValidationError(problem)
        return values

    def clean(self) -> dict:
        data = super().clean()
        user, group = data.get("username"), data.get("group_name")
        if "username" in data and "group_name" in data and (user is None) == (group is None):
            self.add_error("username", "Name either a user or a group, not both and not neither.")
        return data

    def _post_clean(self) -> None:
        # Set the holder and values before the model's own clean() sees the instance.
        self.instance.output = self.output
        if "username" in self.cleaned_data and "group_name" in self.cleaned_data:
            self.instance.user = self.cleaned_data["username"]
            self.instance.group = self.cleaned_data["group_name"]
        if "values_text" in self.cleaned_data:
            self.instance.values = self.cleaned_data["values_text"]
        super()._post_clean()

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            for model_field, form_field in self.MODEL_ERROR_FIELDS.items():
                if model_field in errors.error_dict:
                    messages = errors.error_dict.pop(model_field)
                    if form_field is None or form_field not in self.errors:  # the form said it already
                        self.add_error(form_field, messages)
        super()._update_errors(errors)


class BaseRowFilterFormSet(forms.BaseModelFormSet):
    def __init__(self, *args, output: Output, **kwargs) -> None:
        self.output = output
        kwargs.setdefault("queryset", RowFilter.objects.filter(output=output).select_related("user", "group"))
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "output": self.output}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            output=self.output,
            renderer=self.renderer,
        )
        self.add_fields(form, None)
        return form


RowFilterFormSet = forms.modelformset_factory(
    RowFilter, form=RowFilterForm, formset=BaseRowFilterFormSet, extra=1, can_delete=True
)
