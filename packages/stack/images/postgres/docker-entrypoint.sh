#!/bin/bash
# docker-entrypoint.sh of gamemetrics/postgres — emulates the interface of the
# official postgres image (docker-library/postgres):
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD
#   (default scram-sha-256), PGDATA (default /var/lib/postgresql/data),
#   *_FILE variants (e.g. POSTGRES_PASSWORD_FILE), /docker-entrypoint-initdb.d
#   (*.sh, *.sql, *.sql.gz) run once on first start.
#   CMD args: "-c x=y ..." -> "postgres -c x=y ..."; any other command is exec'd.
set -Eeuo pipefail

log() { echo "[entrypoint] $*" >&2; }

# file_env VAR [DEFAULT]: VAR or VAR_FILE (mutually exclusive)
file_env() {
  local var="$1" fileVar="${1}_FILE" def="${2:-}" val
  if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
    log "ERROR: both $var and $fileVar are set (but are exclusive)"; exit 1
  fi
  val="$def"
  if [ "${!var:-}" ]; then val="${!var}"
  elif [ "${!fileVar:-}" ]; then val="$(< "${!fileVar}")"; fi
  export "$var"="$val"
  unset "$fileVar"
}

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
  exec "$@"
fi

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

# As root: fix ownership, then re-exec this script as the postgres user.
if [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA"
  chmod 03775 /var/run/postgresql
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    chown postgres:postgres "$POSTGRES_INITDB_WALDIR"
    chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
: "${POSTGRES_HOST_AUTH_METHOD:=}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # ---- first start: initialise the cluster --------------------------------
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
    cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.
EOM
    exit 1
  fi
  if ! getent passwd "$(id -u)" > /dev/null 2>&1; then
    log "WARNING: running as uid $(id -u) which has no passwd entry"
  fi

  initdb_args=(--username="$POSTGRES_USER")
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    initdb_args+=(--waldir "$POSTGRES_INITDB_WALDIR")
  fi
  # the <(...) must sit on the initdb command line itself (its fd lives only as long as that command)
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is word-split, as upstream
  initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS

  # listen on all interfaces (official image patches the sample config the same way)
  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$PGDATA/postgresql.conf"
  grep -q "^listen_addresses = '\*'" "$PGDATA/postgresql.conf" \
    || echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"

  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ "$auth" = 'md5' ]; then
    echo "password_encryption = md5" >> "$PGDATA/postgresql.conf"
  fi
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

  # temporary server on the unix socket only
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start

  export PGPASSWORD="$POSTGRES_PASSWORD"
  psql_base=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != 'postgres' ]; then
    exists=$("${psql_base[@]}" --dbname postgres -tA --set db="$POSTGRES_DB" \
      <<<"SELECT 1 FROM pg_database WHERE datname = :'db' ;")
    if [ -z "$exists" ]; then
      "${psql_base[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
    fi
  fi

  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"
        else log "sourcing $f"; . "$f"; fi ;;
      *.sql)    log "running $f"; "${psql_base[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql_base[@]}" --dbname "$POSTGRES_DB" ;;
      *)        log "ignoring $f" ;;
    esac
  done

  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  log "PostgreSQL init process complete; ready for start up."
else
  log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
fi

exec "$@"
