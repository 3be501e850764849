"""Validators shared by the model layer, so forms, API and imports refuse the same input."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, RegexValidator
from django.utils.deconstruct import deconstructible

# Long-form markdown (a vision, a definition) is capped so a 1 MB paste cannot land.
MARKDOWN_MAX_LENGTH = 20_000
TEXT_MAX_LENGTH = 5_000


@deconstructible
class NoNulCharacters:
    """PostgreSQL cannot store NUL bytes in text; refuse them with a field error, not a 500."""

    message = "Null characters are not allowed."
    code = "null_characters_not_allowed"

    def __call__(self, value) -> None:
        if value is not None and "\x00" in str(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, NoNulCharacters)


no_nul = NoNulCharacters()
markdown_validators = [no_nul, MaxLengthValidator(MARKDOWN_MAX_LENGTH)]
text_validators = [no_nul, MaxLengthValidator(TEXT_MAX_LENGTH)]

SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
semver_validator = RegexValidator(SEMVER_RE, "Enter a semantic version such as 1.0.0 or 2.1.0-rc.1.", "semver")

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
identifier_validator = RegexValidator(
    IDENTIFIER_RE, "Use letters, digits and underscores, starting with a letter or underscore.", "identifier"
)
# A table name, optionally qualified by its schema: "sales.orders".
QUALIFIED_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
qualified_name_validator = RegexValidator(
    QUALIFIED_NAME_RE, "Enter a table name such as orders or sales.orders.", "table_name"
)
