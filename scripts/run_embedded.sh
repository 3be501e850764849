#!/usr/bin/env bash
# The embedded default, as `make run` starts it: SQLite (WAL) and a folder broker under
# LODESTAR_VAR_DIR, demo data, the web server in the foreground and, when the project has
# background tasks, a Celery worker and beat beside it. Ctrl-C (INT) or TERM stops them all.
#
# Expects the virtualenv's bin/ first on PATH (the Makefile does this). Settings come from
# the environment as usual; DATABASE_URL / CELERY_BROKER_URL, when set, are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
DEMO_ROWS=${DEMO_ROWS:-100000}
DEMO_PASSWORD=${DEMO_PASSWORD:-lodestar}
WEB_WORKERS=${WEB_WORKERS:-2}
WEB_THREADS=${WEB_THREADS:-4}
CELERY=${CELERY:-auto}

export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-hub.settings}
# The demo may start without a SECRET_KEY (settings then use a built-in, non-secret key).
export LODESTAR_DEMO=${LODESTAR_DEMO:-true}
# Links in alert emails and webhooks point at this server.
export LODESTAR_BASE_URL=${LODESTAR_BASE_URL:-http://$HOST:$PORT}

var_dir=${LODESTAR_VAR_DIR:-var}
# The SQLite file and the folder broker live here; neither creates its own directory.
mkdir -p "$var_dir/broker/out" "$var_dir/broker/processed"

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py seed_demo --rows "$DEMO_ROWS" --password "$DEMO_PASSWORD"
# Beat reads the checks' schedules from the database; signals keep them in step, this catches up old data.
python manage.py sync_check_schedules
# A first run of every check, so the Quality sections and /health/ have results before the first tick.
# (Exit status 1 means a fail-severity check failed: the demo's stale output does, on purpose.)
python manage.py run_checks >"$var_dir/first-check-run.txt" || true
echo "Quality checks: $(tail -n 1 "$var_dir/first-check-run.txt")" >&2

wants_celery() {
  case "$CELERY" in
    yes | true | 1) return 0 ;;
    no | false | 0) return 1 ;;
    auto) compgen -G "*/tasks.py" >/dev/null ;;
    *) echo "CELERY must be yes, no or auto, not '$CELERY'" >&2 && exit 2 ;;
  esac
}

# shellcheck disable=SC2046  # $(jobs -pr) is one PID per word: the splitting is wanted
stop_all() {
  trap - INT TERM
  kill -TERM $(jobs -pr) 2>/dev/null || true
  # Give each process 20 s to finish what it is doing, then stop it hard.
  for _ in $(seq 40); do
    [ -z "$(jobs -pr)" ] && break
    sleep 0.5
  done
  kill -KILL $(jobs -pr) 2>/dev/null || true
  wait || true
}
trap 'echo "Stopping Lodestar…" >&2; stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

gunicorn hub.wsgi --bind "$HOST:$PORT" --workers "$WEB_WORKERS" --threads "$WEB_THREADS" \
  --graceful-timeout 10 --no-control-socket --access-logfile - &

if wants_celery; then
  celery -A hub worker --queues checks,celery --loglevel INFO --concurrency 2 &
  # The scheduler comes from the settings: django-celery-beat's, behind a lease (one beat at a time).
  celery -A hub beat --loglevel INFO &
fi

echo "Lodestar: http://$HOST:$PORT — sign in as admin, steward or pm with password '$DEMO_PASSWORD'. Ctrl-C stops." >&2

# When any process ends on its own (a crash, a port in use), stop the others and pass on its status.
status=0
wait -n || status=$?
stop_all
exit "$status"
