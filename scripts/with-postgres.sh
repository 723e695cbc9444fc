#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server (initdb + pg_ctl in a temp dir, unix socket and
# 127.0.0.1 on a free port). Exports CONNECTOR_TEST_POSTGRES_URL for the command, stops and removes
# the server afterwards. If CONNECTOR_TEST_POSTGRES_URL is already set, uses that server instead.
set -euo pipefail

if [ -n "${CONNECTOR_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  [ -x "$candidate/initdb" ] && pg_bin="$candidate"
done
if [ -z "$pg_bin" ] && command -v initdb >/dev/null 2>&1; then
  pg_bin=$(dirname "$(command -v initdb)")
fi
if [ -z "$pg_bin" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "with-postgres: installing the Debian postgresql package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
    for candidate in /usr/lib/postgresql/*/bin; do
      [ -x "$candidate/initdb" ] && pg_bin="$candidate"
    done
  fi
fi
if [ -z "$pg_bin" ]; then
  echo "with-postgres: no PostgreSQL server binaries found; PostgreSQL tests will be skipped" >&2
  exec "$@"
fi

workdir=$(mktemp -d /tmp/connector-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
run_as=()
if [ "$(id -u)" = "0" ]; then
  pg_user=postgres
  id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home "$pg_user"
  chown "$pg_user" "$workdir"
  run_as=(runuser -u "$pg_user" --)
fi

cleanup() {
  "${run_as[@]}" "$pg_bin/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

"${run_as[@]}" "$pg_bin/initdb" -D "$workdir/data" -U connector --auth=trust -E UTF8 --no-locale >"$workdir/initdb.log" 2>&1 \
  || { cat "$workdir/initdb.log" >&2; exit 1; }
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
  -o "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$workdir/server.log" >&2; exit 1; }
"${run_as[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U connector connector_test

export CONNECTOR_TEST_POSTGRES_URL="postgresql://connector@127.0.0.1:$port/connector_test"
echo "with-postgres: throwaway PostgreSQL on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
