"""The documents of other standards imported into a product, kept as they came.

An ODCS contract or an ODPS descriptor says more than a Lodestar spec holds (servers, prices,
support channels…). What maps is imported into the spec; the whole original is kept here with
the list of what did not map, so nothing is lost and a steward can see what was left out.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Standard(models.TextChoices):
    ODCS = "odcs", "Open Data Contract Standard (ODCS v3)"
    ODPS = "odps", "Open Data Product Standard (ODPS v1)"


class OriginalDocument(models.Model):
    product = models.ForeignKey("products.DataProduct", on_delete=models.CASCADE, related_name="originals")
    output = models.ForeignKey(
        "products.Output", on_delete=models.CASCADE, null=True, blank=True, related_name="originals"
    )
    standard = models.CharField(max_length=10, choices=Standard.choices)
    content = models.TextField(help_text="The document exactly as it was imported.")
    unmapped = models.JSONField(default=list, blank=True, help_text="Paths of what had no place in the spec.")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at", "-id"]
        verbose_name = "imported original document"

    def __str__(self) -> str:
        target = self.output if self.output_id else self.product
        return f"{self.get_standard_display()} for {target} ({self.imported_at:%Y-%m-%d %H:%M})"
