"""What the benchmark scripts share: Django set up against the benchmark's own PostgreSQL database, and a
process's memory read from /proc."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def setup_django() -> None:
    """Real settings (not the test settings), the demo key, and a var dir of the benchmark's own."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "The benchmark runs on PostgreSQL: set DATABASE_URL, e.g. "
            "postgres://postgres@127.0.0.1:5432/lodestar_bench (make bench does)."
        )
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    os.environ.setdefault("LODESTAR_DEMO", "true")
    os.environ.setdefault("LODESTAR_VAR_DIR", str(RESULTS / "var"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    Path(os.environ["LODESTAR_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    ensure_database(url)

    import django

    django.setup()


def _maintenance_connection(url: str):
    """An autocommit connection to the server's `postgres` database, and the name of the database in ``url``."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    conn = psycopg.connect(
        dbname="postgres",
        autocommit=True,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
    )
    return conn, config["NAME"]


def ensure_database(url: str) -> None:
    """Create the database DATABASE_URL names if it does not exist yet."""
    from psycopg import sql

    conn, name = _maintenance_connection(url)
    with conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    from psycopg import sql

    conn, name = _maintenance_connection(url)
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM); 0 where there is none."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM), so what follows can read its own peak afterwards (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False
