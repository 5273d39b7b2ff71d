#!/usr/bin/env bash
# Builds the registry-pruner image from the workspace with buildah (services/pruner/Containerfile, the
# repository root as context) and writes it as an OCI archive, ready for `registry-push push|all`.
#
#   scripts/build-pruner-image.sh [--offline-base] [--storage DIR] [--tag NAME] OUT.tar
#
#   --offline-base  do not pull the Node base image: assemble one from this machine's files instead (the
#                   repository's Node 24 binary and the libraries it links, dash and a few coreutils for the
#                   Containerfile's RUN steps, npm, the system CA bundle) and build on it. For machines that
#                   reach the npm registry but no container registry (the tests run this way).
#   --storage DIR   keep buildah's images in DIR (vfs driver, chroot isolation: works as root inside a
#                   container, no fuse-overlayfs or user namespaces needed); default: buildah's own storage.
#   --tag NAME      the local image name (default localhost/registry-pruner:<version of @registry-push/pruner>)
#
# The image gets the labels org.opencontainers.image.version (the package version) and .revision (the git
# commit). Needs buildah (Debian: apt-get install buildah).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() {
  echo "usage: scripts/build-pruner-image.sh [--offline-base] [--storage DIR] [--tag NAME] OUT.tar" >&2
  exit 2
}

offline=false
storage=
tag=
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --offline-base) offline=true ;;
    --storage) [ $# -ge 2 ] || usage; storage=$2; shift ;;
    --tag) [ $# -ge 2 ] || usage; tag=$2; shift ;;
    -h | --help) usage ;;
    -*) echo "error: unknown option $1" >&2; usage ;;
    *) [ -z "$out" ] || usage; out=$1 ;;
  esac
  shift
done
[ -n "$out" ] || usage
if ! command -v buildah >/dev/null 2>&1; then
  echo "error: buildah was not found on PATH; install it (Debian/Ubuntu: apt-get install buildah)." >&2
  exit 1
fi

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' services/pruner/package.json)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ -n "$tag" ] || tag=localhost/registry-pruner:$version

buildah=(buildah)
build_flags=()
if [ -n "$storage" ]; then
  mkdir -p "$storage"
  storage=$(cd "$storage" && pwd)
  buildah=(buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs)
  build_flags+=(--isolation chroot)
fi

if [ "$offline" = true ]; then
  node=$root/node_modules/node/bin/node
  [ -x "$node" ] || { echo "error: $node is missing: run \`npm ci\` first." >&2; exit 1; }
  node_version=$("$node" -p 'process.versions.node')
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$npm_dir/package.json" ] || { echo "error: npm's own directory was not found (from $(command -v npm))." >&2; exit 1; }
  base=localhost/registry-pruner-base:node$node_version
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  # A merged-/usr layout, as Debian's: /bin and /lib point into /usr.
  mkdir -p "$rootfs"/usr/{bin,lib,local/bin,local/lib/node_modules} "$rootfs"/{etc/ssl/certs,lib64,tmp}
  ln -s usr/bin "$rootfs/bin"
  chmod 1777 "$rootfs/tmp"
  cp "$node" "$rootfs/usr/local/bin/node"
  strip "$rootfs/usr/local/bin/node" 2>/dev/null || true
  programs=(/bin/dash /bin/chmod /bin/chgrp /usr/bin/env /bin/rm /bin/mkdir)
  for program in "${programs[@]}"; do cp "$program" "$rootfs/usr/bin/"; done
  ln -s dash "$rootfs/usr/bin/sh"
  # The shared libraries Node and those programs link, at the paths the dynamic loader looks them up.
  for library in $(ldd "$node" "${programs[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
    mkdir -p "$rootfs$(dirname "$library")"
    cp -L "$library" "$rootfs$library"
  done
  # /lib/x86_64-linux-gnu is /usr/lib/x86_64-linux-gnu on a merged-/usr system.
  if [ -d "$rootfs/lib" ] && [ ! -L "$rootfs/lib" ]; then
    cp -a "$rootfs/lib/." "$rootfs/usr/lib/"
    rm -rf "$rootfs/lib"
  fi
  ln -s usr/lib "$rootfs/lib"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # The machine's CA bundle, so npm reaches the registry through whatever TLS proxy the machine trusts.
  cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  container=$("${buildah[@]}" from scratch)
  "${buildah[@]}" copy --quiet "$container" "$rootfs/" / >/dev/null
  "${buildah[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --cmd node "$container"
  "${buildah[@]}" commit --quiet --rm "$container" "$base" >/dev/null
  build_flags+=(--pull-never --build-arg "NODE_IMAGE=$base")
  echo "assembled the base $base from this machine's files (Node $node_version)"
fi

# npm's cache for the build stages: private to this build (the Containerfile cleans it), shared by its stages.
cache=$(mktemp -d)
trap 'rm -rf "$cache" ${rootfs:+"$rootfs"}' EXIT
"${buildah[@]}" build "${build_flags[@]}" \
  --volume "$cache:/.npm" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  -f services/pruner/Containerfile --ignorefile services/pruner/Containerfile.dockerignore \
  -t "$tag" . >&2
rm -f "$out"
"${buildah[@]}" push --quiet --format oci "$tag" "oci-archive:$out"
echo "built $tag into $out ($(du -m "$out" | cut -f1) MiB, gzip-compressed layers)"
