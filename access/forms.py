"""Forms of the Access section and pages: ask for access, decide, grant, and search the permissions."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from utilities.validators import no_nul

from . import policy
from .models import COMMENT_MAX_LENGTH, MAX_DAYS, PURPOSE_MAX_LENGTH, ReadLevel
from .readable import readable_model


def read_permission_choices() -> list[tuple[str, str]]:
    """The read permissions of the readable model (``read_output``, ``read_output_unmasked``)."""
    return [(codename, level) for level, codename in policy.read_codenames(readable_model()).items()]


def days_field(required: bool) -> forms.IntegerField:
    help_text = f"1 to {MAX_DAYS} days." + ("" if required else " Empty: no expiry.")
    return forms.IntegerField(min_value=1, max_value=MAX_DAYS, required=required, help_text=help_text)


class AccessRequestForm(forms.Form):
    purpose = forms.CharField(
        max_length=PURPOSE_MAX_LENGTH,
        validators=[no_nul],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you will do with the data.",
    )
    level = forms.ChoiceField(choices=ReadLevel.choices, initial=ReadLevel.MASKED)
    days = days_field(required=True)


class DecisionForm(forms.Form):
    comment = forms.CharField(max_length=COMMENT_MAX_LENGTH, required=False, validators=[no_nul])


class GrantForm(forms.Form):
    """Give a user or a group (exactly one) reading an output of the product."""

    output = forms.ModelChoiceField(queryset=None, empty_label=None)
    user = forms.CharField(max_length=150, required=False, validators=[no_nul], help_text="A username…")
    group = forms.CharField(max_length=150, required=False, validators=[no_nul], help_text="…or a group's name.")
    level = forms.ChoiceField(choices=ReadLevel.choices, initial=ReadLevel.MASKED)
    days = days_field(required=False)
    reason = forms.CharField(max_length=COMMENT_MAX_LENGTH, required=False, validators=[no_nul])

    def __init__(self, *args, outputs, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["output"].queryset = outputs
        self.fields["output"].label_from_instance = lambda output: output.name  # not str(): no query per option

    def clean_user(self):
        name = self.cleaned_data["user"].strip()
        if not name:
            return None
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise ValidationError(f"No active user is named {name!r}.")
        return user

    def clean_group(self):
        name = self.cleaned_data["group"].strip()
        if not name:
            return None
        group = Group.objects.filter(name=name).first()
        if group is None:
            raise ValidationError(f"No group is named {name!r}.")
        return group

    def clean(self):
        data = super().clean()
        if "user" in data and "group" in data and (data["user"] is None) == (data["group"] is None):
            self.add_error("user", "Give a user or a group, not both and not neither.")
        return data


class RemovePermissionForm(forms.Form):
    """Take away a permanent read permission (guardian) from a user or a group."""

    holder = forms.ChoiceField(choices=[("user", "user"), ("group", "group")])
    holder_id = forms.IntegerField(min_value=1)
    permission = forms.ChoiceField(choices=read_permission_choices)


class ManagerForm(forms.Form):
    may_manage = forms.BooleanField(required=False)


class PermissionSearchForm(forms.Form):
    user = forms.CharField(max_length=150, required=False, validators=[no_nul])
    group = forms.CharField(max_length=150, required=False, validators=[no_nul])
    product = forms.CharField(max_length=100, required=False, validators=[no_nul], help_text="Slug or name.")
