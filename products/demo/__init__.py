"""Demo data for Lodestar: the organisation and products behind ``manage.py seed_demo``.

- ``specs``: people, teams, domains and four data products as plain Python data, drawn from
  the seed documents (three published products and one draft).
- ``datasets``: the Parquet generators, with realistic flaws and planted canary PII
  (``canary.pii@example.com``) — read its docstring before writing access or quality tests.
- ``loader``: loads the specs into the database (idempotent, validated) and writes the files.
"""
