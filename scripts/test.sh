#!/usr/bin/env bash
# Runs every test of the workspace against the machine's PostgreSQL and Redis (started if needed).
# The build installs the wasm32-wasip2 target and builds the plugins (host/build.rs), so this works on
# a fresh machine (which needs Node.js with npm and python3 for the plugin examples). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
# The JavaScript and Python plugin examples (npm and PyPI toolchains, pinned); their tests fail
# rather than skip once they are built here.
scripts/build-examples.sh
export TESTMESH_REQUIRE_EXAMPLES=1
export TESTMESH_TEST_POSTGRES_URL=${TESTMESH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export TESTMESH_TEST_REDIS_URL=${TESTMESH_TEST_REDIS_URL:-redis://127.0.0.1:6379}
exec cargo test --workspace "$@"
