"""The API's view of access requests and grants, and the bodies of their actions."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers

from . import audit
from .models import (
    COMMENT_MAX_LENGTH,
    MAX_DAYS,
    PURPOSE_MAX_LENGTH,
    AccessGrant,
    AccessRequest,
    ReadLevel,
)


class GrantState(models.TextChoices):
    ACTIVE = "active", "In force"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


MAX_ID = 2**63 - 1  # the largest bigint; larger numbers fail in the database, not as a field error


class ObjectFieldsMixin(serializers.Serializer):
    """The output a request or grant is about: its id, name and product (read from the prefetched object)."""

    output = serializers.IntegerField(source="object_id", read_only=True, help_text="The output's id.")
    output_name = serializers.SerializerMethodField()
    product = serializers.SerializerMethodField(help_text="The product's slug.")

    def get_output_name(self, obj) -> str:
        return getattr(obj.content_object, "name", str(obj.content_object))

    def get_product(self, obj) -> str | None:
        product = audit.product_of(obj.content_object)
        return getattr(product, "slug", None)


class AccessRequestSerializer(ObjectFieldsMixin, serializers.ModelSerializer):
    requester = serializers.CharField(source="requester.get_username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.get_username", read_only=True, default=None)
    grant = serializers.SerializerMethodField(help_text="The grant an approval created.")

    class Meta:
        model = AccessRequest
        fields = [
            "id", "output", "output_name", "product", "requester", "purpose", "level", "days",
            "status", "comment", "decided_by", "decided_at", "created", "grant",
        ]  # fmt: skip
        read_only_fields = fields

    def get_grant(self, obj) -> int | None:
        grant = getattr(obj, "grant", None)  # the reverse one-to-one raises AttributeError when absent
        return grant.pk if grant is not None else None


class AccessRequestCreateSerializer(serializers.Serializer):
    output = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The output's id.")
    purpose = serializers.CharField(max_length=PURPOSE_MAX_LENGTH, help_text="Why you need the data.")
    level = serializers.ChoiceField(choices=ReadLevel.choices)
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, help_text=f"1 to {MAX_DAYS}.")


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True, default="",
        help_text="Required when denying: it tells the requester why.",
    )  # fmt: skip


class AccessGrantSerializer(ObjectFieldsMixin, serializers.ModelSerializer):
    user = serializers.CharField(source="user.get_username", read_only=True, default=None)
    group = serializers.CharField(source="group.name", read_only=True, default=None)
    granted_by = serializers.CharField(source="granted_by.get_username", read_only=True, default=None)
    revoked_by = serializers.CharField(source="revoked_by.get_username", read_only=True, default=None)
    state = serializers.ChoiceField(choices=GrantState.choices, read_only=True)

    class Meta:
        model = AccessGrant
        fields = [
            "id", "output", "output_name", "product", "user", "group", "level", "expires_at", "state",
            "granted_by", "created", "reason", "request", "revoked_at", "revoked_by",
        ]  # fmt: skip
        read_only_fields = fields


class AccessGrantCreateSerializer(serializers.Serializer):
    output = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The output's id.")
    user = serializers.CharField(required=False, max_length=150, help_text="A username (or give a group).")
    group = serializers.CharField(required=False, max_length=150, help_text="A group's name (or give a user).")
    level = serializers.ChoiceField(choices=ReadLevel.choices)
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, required=False, allow_null=True, help_text="Empty: no expiry."
    )
    reason = serializers.CharField(max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if bool(attrs.get("user")) == bool(attrs.get("group")):
            raise serializers.ValidationError({"user": "Give a user or a group, not both and not neither."})
        return attrs
