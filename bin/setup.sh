# Shared steps of bin/run and bin/test: install dependencies and make sure
# PostgreSQL and Redis answer. Sourced, not executed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

need_command() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed. $2"
}

# Install Python packages from the lock file into .venv, once per lock change.
install_python() {
  local extras="${1:-}"
  need_command python3 "Install Python 3.11: apt-get install python3 python3-venv"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "Python 3.11 or newer is needed; found $(python3 --version)."
  [ -x "$VENV/bin/python" ] || { say "Creating $VENV"; python3 -m venv "$VENV"; }
  local stamp="$VENV/.installed-$(cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)$extras"
  if [ ! -f "$stamp" ]; then
    say "Installing Python packages"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/requirements.lock"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
    touch "$stamp"
  fi
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
}

# Install the pinned bun binary that Reflex builds the frontend with.
install_bun() {
  need_command npm "Install Node.js 20 and npm: apt-get install nodejs npm"
  # shellcheck disable=SC1091
  . "$ROOT/bin/reflex-env.sh"
  if [ ! -x "$REFLEX_BUN_PATH" ]; then
    say "Installing bun from the npm registry"
    (cd "$ROOT/tools/bun" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
  [ -x "$REFLEX_BUN_PATH" ] || fail "bun was not installed at $REFLEX_BUN_PATH"
}

# Wait until a command succeeds, up to $1 seconds.
wait_for() {
  local seconds="$1"; shift
  for _ in $(seq "$((seconds * 4))"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

postgres_answers() {
  "$VENV/bin/python" - <<'PY'
import psycopg
from ceramic_app.settings import get_settings
from ceramic_app.migrate import _maintenance_url
psycopg.connect(_maintenance_url(get_settings().database_admin_url), connect_timeout=3).close()
PY
}

redis_answers() {
  "$VENV/bin/python" -c 'from ceramic_app.queues import get_redis; get_redis().ping()'
}

# Make sure PostgreSQL and Redis answer; start local servers if installed.
ensure_services() {
  if ! postgres_answers; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
      say "Starting the local PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start \
        || fail "PostgreSQL did not start; see /var/log/postgresql/."
      wait_for 20 postgres_answers || fail "PostgreSQL started but does not answer on DATABASE_ADMIN_URL."
    else
      fail "PostgreSQL does not answer at DATABASE_ADMIN_URL and is not installed here. Install it: apt-get install postgresql"
    fi
  fi
  if ! redis_answers; then
    if command -v redis-server >/dev/null 2>&1; then
      say "Starting the local Redis"
      mkdir -p "$ROOT/data"
      redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir "$ROOT/data" --logfile "$ROOT/data/redis.log" \
        || fail "Redis did not start; see $ROOT/data/redis.log."
      wait_for 10 redis_answers || fail "Redis started but does not answer on REDIS_URL."
    else
      fail "Redis does not answer at REDIS_URL and is not installed here. Install it: apt-get install redis-server"
    fi
  fi
}
