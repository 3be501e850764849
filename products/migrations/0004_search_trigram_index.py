"""On PostgreSQL, a trigram index lets keyword search ("contains") skip the table scan.

SQLite has no such index; its search scans the generated column, which is fine at the
embedded default's scale.
"""

from django.db import migrations

CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS product_search_trgm ON products_dataproduct USING gin (search_text gin_trgm_ops)",
)
DROP = ("DROP INDEX IF EXISTS product_search_trgm",)


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("products", "0003_search_text")]

    operations = [migrations.RunPython(run(CREATE), run(DROP))]
