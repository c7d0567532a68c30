# Makes sure the PostgreSQL and Redis the tests use are reachable: starts the local ones when they
# are installed but stopped, installs them from Debian's packages when missing (as root), and otherwise
# fails loudly. Sourced by scripts/test and other scripts.

PG_URL="${SCIMGATE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
REDIS_URL="${SCIMGATE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export SCIMGATE_TEST_DATABASE_URL="$PG_URL" SCIMGATE_TEST_REDIS_URL="$REDIS_URL"

say() { printf '[services] %s\n' "$*" >&2; }

pg_up() { command -v psql >/dev/null && psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; }
redis_up() {
  command -v redis-cli >/dev/null && [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = "PONG" ]
}

# Installs Debian packages when this machine can (root with apt-get), with or without CI=true: a
# newcomer's first run of the test command must pass on a fresh machine too. One `apt-get update`
# per run, however many packages are missing.
APT_UPDATED=""
can_install() { command -v apt-get >/dev/null && [ "$(id -u)" = "0" ]; }
install_debian() {
  if can_install; then
    say "installing $* from Debian packages"
    if [ -z "$APT_UPDATED" ]; then apt-get update -qq && APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    say "missing: $* (install them as root, or set SCIMGATE_TEST_DATABASE_URL / SCIMGATE_TEST_REDIS_URL)"
    return 1
  fi
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || install_debian postgresql postgresql-client || return 1
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  [ -n "$version" ] || { say "no PostgreSQL cluster found"; return 1; }
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_up && return 0; sleep 1; done
  # A fresh Debian cluster wants a password over TCP: trust local connections for the tests and
  # make sure the database named in the URL exists.
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  fi
  local dbname="${PG_URL##*/}"; dbname="${dbname%%\?*}"
  su postgres -c "createdb $dbname" 2>/dev/null || true
  for _ in $(seq 1 30); do pg_up && return 0; sleep 1; done
  return 1
}

start_redis() {
  command -v redis-server >/dev/null || install_debian redis-server || return 1
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis_up && return 0; sleep 1; done
  return 1
}

ensure_services() {
  if ! pg_up; then
    say "PostgreSQL not reachable at $PG_URL; starting it"
    start_postgres || { say "FAILED: PostgreSQL is required for the test suite"; return 1; }
  fi
  if ! redis_up; then
    say "Redis not reachable at $REDIS_URL; starting it"
    start_redis || { say "FAILED: Redis is required for the test suite"; return 1; }
  fi
  say "PostgreSQL and Redis are up"
}

# nginx (the replicas-behind-a-load-balancer test runs its own instance on a random port).
ensure_nginx() {
  if ! command -v nginx >/dev/null; then
    install_debian nginx || { say "FAILED: nginx is required for the test suite"; return 1; }
    # The package starts a default server on port 80; the tests do not use it.
    service nginx stop >/dev/null 2>&1 || pkill -x nginx || true
  fi
}

# Chromium and its driver, from Debian (the browser tests start chromedriver on a random port).
ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    install_debian chromium chromium-driver ||
      { say "FAILED: chromium and chromium-driver are required for the test suite"; return 1; }
  fi
  command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
    { say "FAILED: chromium or chromedriver still missing after installing"; return 1; }
}

# wrk, from Debian (scripts/bench: filtered GETs as Okta sends them, against pgbench's rate).
ensure_wrk() {
  command -v wrk >/dev/null || install_debian wrk ||
    { say "FAILED: wrk is required for the benchmark's GET rate against pgbench"; return 1; }
}

# Per-test databases are dropped by the tests; this removes what a killed run left behind.
drop_leftover_test_databases() {
  psql "$PG_URL" -Atqc "select datname from pg_database where datname like 'scimgate\_t\_%'" 2>/dev/null |
    while read -r db; do psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
}

# The PyPI and npm `standardwebhooks` packages the webhooks crate's tests verify its signatures
# with (crates/webhooks/tests/verifiers.rs). Installed once per build directory, at pinned versions,
# and named by SCIMGATE_TEST_WEBHOOK_VERIFIERS (the test fails without it).
WEBHOOK_VERIFIERS_PYPI="standardwebhooks==1.3.0"
WEBHOOK_VERIFIERS_NPM="standardwebhooks@1.3.0"
ensure_webhook_verifiers() {
  local dir="${CARGO_TARGET_DIR:-$PWD/target}/webhook-verifiers"
  local want="$WEBHOOK_VERIFIERS_PYPI $WEBHOOK_VERIFIERS_NPM"
  case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
  if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$want" ]; then
    say "installing the webhook verifiers ($want) into $dir"
    python3 -c 'import venv, ensurepip' 2>/dev/null || install_debian python3 python3-venv ||
      { say "FAILED: python3 with venv is required for the webhook verifier test"; return 1; }
    command -v node >/dev/null && command -v npm >/dev/null || install_debian nodejs npm ||
      { say "FAILED: node and npm are required for the webhook verifier test"; return 1; }
    rm -rf "$dir" && mkdir -p "$dir" &&
      python3 -m venv "$dir/venv" &&
      "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "$WEBHOOK_VERIFIERS_PYPI" &&
      npm install --prefix "$dir" --save-exact --silent --no-audit --no-fund "$WEBHOOK_VERIFIERS_NPM" >/dev/null &&
      printf '%s' "$want" >"$dir/.installed" ||
      { say "FAILED: could not install the webhook verifiers"; return 1; }
  fi
  export SCIMGATE_TEST_WEBHOOK_VERIFIERS="$dir"
}

# axe-core (npm), the accessibility engine the browser tests inject into every page they check
# (crates/gateway/tests/it/common/browser.rs): installed once per build directory at a pinned
# version, and named by SCIMGATE_TEST_AXE (the browser tests fail without it).
AXE_NPM="axe-core@4.14.1"
ensure_axe() {
  local dir="${CARGO_TARGET_DIR:-$PWD/target}/axe-core"
  case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
  if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$AXE_NPM" ]; then
    say "installing $AXE_NPM into $dir"
    command -v npm >/dev/null || install_debian nodejs npm ||
      { say "FAILED: npm is required for the accessibility checks"; return 1; }
    rm -rf "$dir" && mkdir -p "$dir" &&
      npm install --prefix "$dir" --save-exact --silent --no-audit --no-fund "$AXE_NPM" >/dev/null &&
      printf '%s' "$AXE_NPM" >"$dir/.installed" ||
      { say "FAILED: could not install $AXE_NPM"; return 1; }
  fi
  export SCIMGATE_TEST_AXE="$dir/node_modules/axe-core/axe.min.js"
}
