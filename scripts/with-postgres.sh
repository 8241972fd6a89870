#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server on a loopback port, then removes it.
# Installs Debian's postgresql package when no server binaries are present.
set -euo pipefail
find_bin() {
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}
if ! PGBIN=$(find_bin); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "postgresql missing: installing Debian's package" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(find_bin)
fi
ROOT=$(mktemp -d /tmp/netviz-pg.XXXXXX)
PGPORT=${NETVIZ_PG_PORT:-$(( 20000 + RANDOM % 20000 ))}
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the throwaway cluster belongs to the postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown -R postgres "$ROOT"
  RUNAS=(runuser -u postgres --)
fi
cleanup() {
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$ROOT/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
"${RUNAS[@]}" "$PGBIN/initdb" -D "$ROOT/data" -U netviz --auth=trust -E UTF8 >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$ROOT/data" -l "$ROOT/log" -w \
  -o "-h 127.0.0.1 -p $PGPORT -k $ROOT -F" start >/dev/null
"${RUNAS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U netviz netviz
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT" >&2
export DATABASE_URL="postgres://netviz@127.0.0.1:$PGPORT/netviz"
"$@"
