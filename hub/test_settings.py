"""Settings for the test suite: the real settings, with the demo key allowed."""

import os

os.environ.setdefault("LODESTAR_DEMO", "true")

from hub.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in tests
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Serve static files straight from the finders, so tests need no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "100000/minute"}}  # noqa: F405

if not DATABASE_URL:  # noqa: F405
    # A file, not pytest-django's in-memory default, so a Celery worker started by a test sees the
    # test database; one per pytest process, removed by pytest-django at the end of the session.
    import tempfile
    from pathlib import Path

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"lodestar-test-{os.getpid()}.sqlite3")
    }
