"""Paths under the data root: outputs may never point outside it."""

from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError


def data_root() -> Path:
    return Path(settings.LODESTAR_DATA_ROOT).resolve()


def validate_relative_data_path(value: str) -> None:
    """Refuse absolute paths, parent references and symlinks that escape the data root."""
    if not value:
        return
    if "\x00" in value:
        raise ValidationError("Null characters are not allowed.", code="null_characters_not_allowed")
    pure = PurePosixPath(value.replace("\\", "/"))
    if pure.is_absolute() or (len(value) > 1 and value[1] == ":"):
        raise ValidationError("Give a path relative to the data root, not an absolute path.", code="absolute_path")
    if ".." in pure.parts:
        raise ValidationError("The path may not contain '..'.", code="parent_reference")
    resolved = (data_root() / pure).resolve()
    if not resolved.is_relative_to(data_root()):
        raise ValidationError("The path leads outside the data root.", code="outside_data_root")


def resolve_data_path(value: str) -> Path:
    validate_relative_data_path(value)
    return (data_root() / value).resolve()
