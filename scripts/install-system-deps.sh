#!/usr/bin/env bash
# Installs the system programs the tests and the demo run, and only those that are missing:
#   redis-server     Redis, for the pruner's queue
#   docker-registry  the CNCF distribution registry (Debian's build), the registry every test pushes to
#   skopeo           the reference client the tests verify with and the benchmarks compare against
#   kubectl          a real kube client the simulator's contract tests drive (Debian: kubernetes-client;
#                    a kubectl from another package, e.g. google-cloud-cli's, is used as it is)
#   zsh              the completion scripts are tested in the shells they are for (bash is always there)
#   buildah          the pruner image is built from its Containerfile in the tests (vfs driver, chroot isolation)
#   chromium         the real browser the pruner's web dashboard tests drive (through playwright-core; no
#                    browser is ever downloaded)
# Works as root or through sudo on Debian and Ubuntu. Anything else gets the list to install by hand.
set -euo pipefail

declare -A PACKAGE_OF=(
  [redis-server]=redis-server
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [kubectl]=kubernetes-client
  [zsh]=zsh
  [buildah]=buildah
  [chromium]=chromium
)

missing=()
for binary in "${!PACKAGE_OF[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$binary]}")
done

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "error: Node.js (>= 20) with npm is required and was not found on PATH. Install it from your" >&2
  echo "distribution or nodejs.org, then run this again." >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: Node.js $(node --version) is too old; version 20 or newer is required to bootstrap the repo." >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "error: missing ${missing[*]} and not running as root (no sudo either)." >&2
  echo "Install them, e.g.: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing ${missing[*]}; this script only knows apt-get. Install them with your package manager." >&2
  exit 1
fi

echo "installing missing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# If the system starts the packaged redis or registry services, they are left alone: the tests start their
# own on free loopback ports.
for binary in "${!PACKAGE_OF[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || { echo "error: $binary is still missing after install" >&2; exit 1; }
done
