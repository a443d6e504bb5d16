#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) answers; start the Debian
# cluster if it does not. The tests' PG fixtures need it (and fail under CI).
set -euo pipefail

HOST=127.0.0.1
PORT=5432
WAIT_SECONDS=30

is_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PORT"
    else
        (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
    fi
}

is_up && exit 0

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    echo "ensure-postgres: PostgreSQL is not answering on $HOST:$PORT and no Debian" \
         "cluster (pg_ctlcluster, /etc/postgresql) is installed to start" >&2
    exit 1
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
echo "ensure-postgres: starting PostgreSQL $version cluster 'main'" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
    echo "ensure-postgres: pg_ctlcluster failed (maybe already starting); waiting" >&2

for _ in $(seq "$WAIT_SECONDS"); do
    is_up && exit 0
    sleep 1
done
echo "ensure-postgres: PostgreSQL still not answering on $HOST:$PORT after" \
     "${WAIT_SECONDS}s; see /var/log/postgresql/" >&2
exit 1
