#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis (from PyPI, pinned): a fresh
# `testmesh serve` (SQLite, embedded workers) with an admin key, a stored flow, a finished run and
# an environment for the operations that need real ids; every response must be no 5xx and must
# match the document (status code, content type, schema). Bounded by examples per operation.
#
#   scripts/fuzz-api.sh            # builds the debug binary if needed
#   FUZZ_EXAMPLES=200 scripts/fuzz-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
examples=${FUZZ_EXAMPLES:-40}
venv="$root/target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet schemathesis==4.32.5
fi
# The same build as the test command (the binary the tests run), so that after it this is a no-op.
cargo test --workspace --no-run --quiet
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

TESTMESH_DATA_DIR="$work/data" TESTMESH_CACHE_DIR="$root/target/tmp/server-component-cache" TESTMESH_LOG=warn \
  target/debug/testmesh serve --listen 127.0.0.1:0 --workers 2 >"$work/stdout" 2>"$work/stderr" &
server=$!
for _ in $(seq 1 600); do
  grep -q 'export TESTMESH_API_KEY=' "$work/stdout" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/stderr"; echo "error: the server did not start" >&2; exit 1; }
  sleep 0.2
done
url=$(grep -o 'listening on http://[0-9.:]*' "$work/stdout" | sed 's/listening on //')
key=$(grep -o 'TESTMESH_API_KEY=tm_[0-9a-f_]*' "$work/stdout" | sed 's/TESTMESH_API_KEY=//')
[ -n "$url" ] && [ -n "$key" ] || { echo "error: no address or key from the server" >&2; exit 1; }
api() { curl -sS -H "Authorization: Bearer $key" "$@"; }

# Real ids for the operations that take one.
printf 'name: fuzz\nsteps:\n  - { id: a, action: log, config: { message: fuzz } }\n' >"$work/flow.yaml"
flow_id=$(api -H 'content-type: application/yaml' --data-binary @"$work/flow.yaml" "$url/api/v1/flows" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
run_id=$(api -X POST -H 'content-type: application/json' -d '{}' "$url/api/v1/flows/$flow_id/runs?wait=30" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api -H 'content-type: application/json' -d '{"name": "fuzz", "vars": {"A": 1}, "secrets": {"S": "v"}}' \
  "$url/api/v1/environments" >/dev/null
schedule_id=$(api -H 'content-type: application/json' -d "{\"flow_id\": \"$flow_id\", \"cron\": \"0 3 * * *\"}" \
  "$url/api/v1/schedules" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export FUZZ_FLOW_ID=$flow_id FUZZ_RUN_ID=$run_id FUZZ_SCHEDULE_ID=$schedule_id
cat >"$work/schemathesis.toml" <<'TOML'
[[operations]]
include-path-regex = "^/flows/\\{id\\}"
parameters = { "id" = "${FUZZ_FLOW_ID}", "version" = 1 }

[[operations]]
include-path-regex = "^/runs/\\{id\\}"
parameters = { "id" = "${FUZZ_RUN_ID}" }

[[operations]]
include-path-regex = "^/environments/\\{name\\}"
parameters = { "name" = "fuzz" }

[[operations]]
include-path-regex = "^/schedules/\\{id\\}"
parameters = { "id" = "${FUZZ_SCHEDULE_ID}" }

[[operations]]
include-path-regex = "^/plugins/\\{name\\}"
parameters = { "name" = "http_request", "version" = "0.1.0" }
TOML

echo "== fuzzing $url ($examples examples per operation)"
status=0
timeout 1200 "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$url/api/v1/openapi.json" \
  --url "$url/api/v1" -H "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-examples "$examples" --request-timeout 60 --workers 2 \
  --seed "${FUZZ_SEED:-20261202}" --no-color --warnings off || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  echo "error: the server died during fuzzing" >&2
  cat "$work/stderr" >&2
  exit 1
fi
if grep -q 'panic' "$work/stderr"; then
  echo "error: the server panicked during fuzzing:" >&2
  grep -B2 -A10 'panic' "$work/stderr" >&2
  exit 1
fi
exit $status
