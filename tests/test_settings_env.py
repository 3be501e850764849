"""Settings come from the environment only, and refuse to start on a missing or malformed value.

Each test starts a fresh Python with DJANGO_SETTINGS_MODULE=hub.settings (the real settings, not the
test settings) and an environment it controls, because settings are read once, at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from utilities.env import env_bool

REPO = Path(__file__).resolve().parent.parent

# Everything hub/settings.py reads; the caller's values (CI sets DATABASE_URL) must not leak in.
SETTINGS_VARIABLES = {
    "DEBUG",
    "LODESTAR_DEMO",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DATABASE_CONN_MAX_AGE",
    "LODESTAR_VAR_DIR",
    "LODESTAR_DATA_ROOT",
    "LODESTAR_ENCRYPTION_KEYS",
    "TIME_ZONE",
    "CELERY_BROKER_URL",
    "CELERY_VISIBILITY_TIMEOUT",
    "SECURE_COOKIES",
    "LOG_LEVEL",
}

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "SECRET_KEY": settings.SECRET_KEY,
    "ENGINE": db["ENGINE"],
    "NAME": str(db["NAME"]),
    "CONN_MAX_AGE": db.get("CONN_MAX_AGE"),
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
}))
"""

JOURNAL_MODE = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    print(cursor.fetchone()[0])
"""


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="hub.settings", LODESTAR_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True, timeout=60)


def settings_with(tmp_path: Path, **env: str) -> dict:
    result = run_python(PRINT_SETTINGS, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_python(PRINT_SETTINGS, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = run_python(PRINT_SETTINGS, tmp_path, DEBUG="false", LODESTAR_DEMO="false")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_demo_starts_without_a_secret_key(tmp_path):
    settings = settings_with(tmp_path, LODESTAR_DEMO="true")

    assert settings["SECRET_KEY"]


def test_it_uses_the_secret_key_it_is_given(tmp_path):
    assert settings_with(tmp_path, SECRET_KEY="s3cret-from-env")["SECRET_KEY"] == "s3cret-from-env"


def test_it_reads_the_secret_key_from_secret_key_file(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("s3cret-from-a-file\n")

    settings = settings_with(tmp_path, SECRET_KEY_FILE=str(key_file))

    assert settings["SECRET_KEY"] == "s3cret-from-a-file"


def test_it_names_secret_key_file_when_the_file_cannot_be_read(tmp_path):
    result = run_python(PRINT_SETTINGS, tmp_path, SECRET_KEY_FILE=str(tmp_path / "missing"))

    assert result.returncode != 0
    assert "SECRET_KEY_FILE" in result.stderr


@pytest.mark.parametrize("variable", ["DEBUG", "LODESTAR_DEMO", "SECURE_COOKIES"])
def test_it_refuses_a_boolean_that_is_neither_true_nor_false(tmp_path, variable):
    result = run_python(PRINT_SETTINGS, tmp_path, SECRET_KEY="x", **{variable: "maybe"})

    assert result.returncode != 0
    assert f"{variable} must be true or false" in result.stderr
    assert "maybe" in result.stderr


def test_env_bool_names_the_variable_it_refuses(monkeypatch):
    monkeypatch.setenv("LODESTAR_SOMETHING", "maybe")

    with pytest.raises(ImproperlyConfigured, match="LODESTAR_SOMETHING"):
        env_bool("LODESTAR_SOMETHING")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("False", False), ("1", True), ("off", False)])
def test_env_bool_reads_true_and_false(monkeypatch, raw, expected):
    monkeypatch.setenv("LODESTAR_SOMETHING", raw)

    assert env_bool("LODESTAR_SOMETHING") is expected


def test_it_defaults_to_sqlite_under_the_var_dir(tmp_path):
    settings = settings_with(tmp_path, LODESTAR_DEMO="true")

    assert settings["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(settings["NAME"]).parent == tmp_path


def test_database_url_switches_to_postgresql(tmp_path):
    settings = settings_with(
        tmp_path,
        LODESTAR_DEMO="true",
        DATABASE_URL="postgres://lodestar:pw@db.example:5432/lodestar",
        DATABASE_CONN_MAX_AGE="120",
    )

    assert settings["ENGINE"] == "django.db.backends.postgresql"
    assert settings["NAME"] == "lodestar"
    assert settings["CONN_MAX_AGE"] == 120


def test_it_refuses_a_conn_max_age_that_is_not_a_number(tmp_path):
    result = run_python(
        PRINT_SETTINGS, tmp_path, SECRET_KEY="x", DATABASE_URL="postgres://db/x", DATABASE_CONN_MAX_AGE="soon"
    )

    assert result.returncode != 0
    assert "DATABASE_CONN_MAX_AGE must be an integer" in result.stderr


def test_the_sqlite_default_uses_wal(tmp_path):
    result = run_python(JOURNAL_MODE, tmp_path, LODESTAR_DEMO="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"


def test_secure_cookies_makes_session_cookies_secure(tmp_path):
    assert settings_with(tmp_path, LODESTAR_DEMO="true", SECURE_COOKIES="true")["SESSION_COOKIE_SECURE"] is True
    assert settings_with(tmp_path, LODESTAR_DEMO="true")["SESSION_COOKIE_SECURE"] is False


def test_allowed_hosts_is_a_comma_separated_list(tmp_path):
    settings = settings_with(tmp_path, LODESTAR_DEMO="true", ALLOWED_HOSTS="hub.example.com, .example.org")

    assert settings["ALLOWED_HOSTS"] == ["hub.example.com", ".example.org"]
