#!/usr/bin/env bash
# The whole check, as CI runs it: system packages, npm ci, build, lint, typecheck, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NPM_CONFIG_UPDATE_NOTIFIER=false

scripts/install-system-deps.sh
npm ci --no-audit --no-fund

npm run build
# The action runs from its committed bundle: it must be exactly what the sources build.
scripts/check-action-dist.sh
npm run lint
npm run typecheck

find . -name .vitest-results.json -not -path '*/node_modules/*' -delete
status=0
npm test -- --continue || status=$?
node scripts/summarize-tests.mjs || status=1
exit "$status"
