#!/usr/bin/env bash
# Start the local PostgreSQL cluster if it is not accepting connections (the service tests use it on
# 127.0.0.1:5432). Does nothing when it is up, and says so when there is no cluster to start.
set -euo pipefail
HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}
up() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }
if up; then
    exit 0
fi
if ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql)" ]; then
    echo "ensure_postgres: PostgreSQL is not running on $HOST:$PORT and no local cluster is installed" >&2
    exit 1
fi
VERSION=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start
for _ in $(seq 1 30); do
    if up; then
        echo "ensure_postgres: started PostgreSQL $VERSION on $HOST:$PORT" >&2
        exit 0
    fi
    sleep 1
done
echo "ensure_postgres: PostgreSQL $VERSION did not come up on $HOST:$PORT" >&2
exit 1
