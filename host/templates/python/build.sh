#!/usr/bin/env sh
# Builds the component: a virtualenv with componentize-py (pinned in
# requirements.txt), then app.py compiled against the call-flow world in wit/.
set -eu
cd "$(dirname "$0")"
[ -x .venv/bin/componentize-py ] || {
    python3 -m venv .venv
    .venv/bin/pip install --quiet -r requirements.txt
}
.venv/bin/componentize-py -d wit -w call-flow componentize app -o "@STEM@.wasm"
echo "built @STEM@.wasm"
