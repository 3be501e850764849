"""Specs as code: one YAML document per product, exported, validated and imported.

``document`` turns a product into its document (and YAML), ``fields`` says which model field each
key of the document holds, ``schema`` is the JSON Schema of the document, ``loader`` reads YAML
safely and validates it, ``importer`` writes documents back as one atomic upsert.
"""

API_VERSION = "lodestar/v1"
KIND = "DataProduct"
