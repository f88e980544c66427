#!/usr/bin/env bash
# Property-based API test: schemathesis against the live service's own OpenAPI document.
# Starts `actas serve` on a free loopback port with a fresh SQLite database and a reviewer key (the role
# that may call every operation), runs every schemathesis phase, and fails on any 5xx, any response that
# breaks the documented schema, status codes, content types or headers, and any invalid input accepted.
#   bash bench/schemathesis.sh [extra schemathesis options, e.g. --max-examples 50]
# (positive_data_acceptance is left out: a generated "valid" upload is random bytes, which is rightly a 415.)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
TMP=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
export ACTAS_DATABASE_URL="sqlite:///$TMP/actas.db" ACTAS_PREFER_GPU=false
KEY=$("$BIN/actas" keys create schemathesis --role reviewer 2>/dev/null)
PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/actas" serve --host 127.0.0.1 --port "$PORT" >"$TMP/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 120); do
    "$BIN/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/ready', timeout=2)" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
    sleep 0.5
done
# One real acta stored first: the id in the spec's examples (the first-round sample) then exists.
"$BIN/python" - "$PORT" "$KEY" <<'PY'
import sys
from pathlib import Path
import httpx2
sample = Path("../shared/data/actas/bo2025-general/mesa_8004121.jpg")
r = httpx2.post(f"http://127.0.0.1:{sys.argv[1]}/actas", headers={"X-API-Key": sys.argv[2]},
                files={"file": (sample.name, sample.read_bytes(), "image/jpeg")}, timeout=120)
print(f"seeded {sample.name}: {r.status_code}")
r.raise_for_status()
PY
set +e
"$BIN/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
    --header "X-API-Key: $KEY" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${MAX_EXAMPLES:-50}" --seed "${SEED:-20251019}" --workers 1 \
    --generation-database none --request-timeout 120 --max-time "${MAX_TIME:-300}" \
    --no-color "$@"
STATUS=$?
set -e
SERVER_ERRORS=$(grep -c '"status": 5[0-9][0-9]' "$TMP/server.log" || true)
echo "server log: $(grep -c '"event": "request"' "$TMP/server.log" || true) requests, $SERVER_ERRORS answered 5xx"
if [ "$SERVER_ERRORS" != 0 ]; then  # the last line of each distinct traceback
    "$BIN/python" -c 'import json, sys
seen = {json.loads(l).get("exc", "").strip().splitlines()[-1] for l in open(sys.argv[1]) if l.startswith("{") and "\"exc\"" in l}
print("\n".join(sorted(seen)))' "$TMP/server.log"
    STATUS=1
fi
exit "$STATUS"
