#!/usr/bin/env bash
# Builds plugin.wasm from app.py with componentize-py (pinned in requirements.txt, installed into .venv).
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/componentize-py ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
.venv/bin/componentize-py -d wit -w {{kind}} componentize app -o plugin.wasm
