#!/usr/bin/env bash
# Builds the plugin examples written in JavaScript and Python (plugins/examples/) into
# target/examples/*.wasm with pinned toolchains: jco 1.35.0 (componentize-js, npm; versions locked in
# plugins/examples/js/package-lock.json) and componentize-py 0.25.1 (PyPI, in a venv under
# target/toolchains/). Nothing prebuilt is committed. Skips the work when the sources, the WIT and
# the toolchain pins are unchanged since the last build.
#
# Needs Node.js 18+ with npm, and Python 3.10+ with venv; both come from the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/examples
examples=$root/plugins/examples
mkdir -p "$out"

# name:world:directory for the Python examples (each directory holds an `app.py`).
python_plugins=(acme_fixtures:action:fixtures_action acme_subset:assertion:subset_assertion)
outputs=(acme_login acme_sorted acme_fixtures acme_subset)

sources_digest() {
    (
        cd "$root"
        find wit plugins/examples scripts/build-examples.sh -type f \
            -not -path '*/node_modules/*' -not -path '*/build/*' -not -path '*/wit/*' \
            -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
    ) | sha256sum | cut -d' ' -f1
}

digest=$(sources_digest)
up_to_date=true
for name in "${outputs[@]}"; do [[ -s $out/$name.wasm ]] || up_to_date=false; done
if $up_to_date && [[ "$(cat "$out/.sources" 2>/dev/null)" == "$digest" ]]; then
    echo "plugin examples are up to date in target/examples/"
    exit 0
fi

command -v npm >/dev/null || { echo "error: the JavaScript examples need Node.js 18+ and npm (apt install nodejs npm)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: the Python examples need python3 with venv" >&2; exit 1; }

echo "== JavaScript examples (jco componentize)"
# Built in a copy under target/, so that node_modules and the WIT copy jco needs (it reads WIT from
# under the working directory only) stay out of the source tree.
stage=$root/target/toolchains/js
mkdir -p "$stage"
cp "$examples"/js/*.js "$examples"/js/*.mjs "$examples"/js/package.json "$examples"/js/package-lock.json "$stage/"
(
    cd "$stage"
    # `npm ci` installs exactly the lockfile; skipped when node_modules already matches it.
    if ! cmp -s package-lock.json node_modules/.testmesh-lock.json 2>/dev/null; then
        npm ci --no-audit --no-fund --loglevel=error
        cp package-lock.json node_modules/.testmesh-lock.json
    fi
    rm -rf wit build && mkdir -p build && cp -r "$root/wit" wit
    npm run -s build
    cp build/acme_login.wasm build/acme_sorted.wasm "$out/"
)

echo "== Python examples (componentize-py)"
venv=$root/target/toolchains/python
pinned=$(grep -v '^#' "$examples/python/requirements.txt" | tr -d '[:space:]')
if [[ "$(cat "$venv/.pinned" 2>/dev/null)" != "$pinned" ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$examples/python/requirements.txt"
    echo "$pinned" > "$venv/.pinned"
fi
for entry in "${python_plugins[@]}"; do
    IFS=: read -r name world dir <<<"$entry"
    (cd "$examples/python/$dir" && "$venv/bin/componentize-py" -d "$root/wit" -w "$world" componentize app -o "$out/$name.wasm")
done

echo "$digest" > "$out/.sources"
ls -l "$out"/*.wasm
