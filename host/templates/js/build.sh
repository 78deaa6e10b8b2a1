#!/usr/bin/env sh
# Builds the component: installs componentize-js (pinned in package.json),
# then compiles flow.js against the call-flow world in wit/. `-d http -d
# fetch-event` leaves out wasi:http, which a call flow may not import.
set -eu
cd "$(dirname "$0")"
npm install --no-audit --no-fund --silent
npx componentize-js flow.js --wit wit --world-name call-flow -d http -d fetch-event -o "@STEM@.wasm"
echo "built @STEM@.wasm"
