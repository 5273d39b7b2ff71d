#!/usr/bin/env bash
# Fails when actions/registry-push/dist/ is not what its sources build: the runner executes the committed
# bundle, so a stale one would ship old code. Rebuilds it (dependencies through turbo, the bundle itself
# always), then compares with the commit, untracked files included.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

dist=actions/registry-push/dist
npx turbo run build --filter='@registry-push/action^...' --output-logs=errors-only
npm run build --silent -w @registry-push/action >/dev/null

if ! git diff --exit-code --stat -- "$dist" || [ -n "$(git ls-files --others --exclude-standard -- "$dist")" ]; then
  git ls-files --others --exclude-standard -- "$dist" | sed 's/^/untracked: /'
  echo "error: $dist differs from a fresh build of its sources." >&2
  echo "Run \`npm run build -w @registry-push/action\` and commit $dist." >&2
  exit 1
fi
echo "$dist matches its sources"
