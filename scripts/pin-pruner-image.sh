#!/usr/bin/env bash
# Pins the pruner's Deployment to one pushed image by digest: sets `newName` and `digest` of the
# `quay.io/registry-push/registry-pruner` entry under `images:` in a kustomization (default
# services/pruner/deploy/kustomization.yaml), so `oc apply -k` rolls out exactly that image.
#
#   scripts/pin-pruner-image.sh NAME@sha256:DIGEST [KUSTOMIZATION_DIR]
#
# NAME@sha256:DIGEST is what `registry-push push|all` prints as the in-cluster pull spec, e.g.
# image-registry.openshift-image-registry.svc:5000/registry-pruner/registry-pruner@sha256:0123…
set -euo pipefail

ref=${1:-}
dir=${2:-$(dirname "$0")/../services/pruner/deploy}
file=$dir/kustomization.yaml
if ! [[ "$ref" =~ ^([a-z0-9.:/_-]+)@(sha256:[0-9a-f]{64})$ ]]; then
  echo "error: give the image as NAME@sha256:<64 hex digits> (registry-push prints it as the in-cluster pull spec), not \"$ref\"." >&2
  exit 2
fi
name=${BASH_REMATCH[1]}
digest=${BASH_REMATCH[2]}
if [ ! -f "$file" ]; then
  echo "error: $file does not exist; give the directory of the kustomization to pin." >&2
  exit 2
fi
# The entry is `- name: quay.io/registry-push/registry-pruner` followed by its newName/newTag/digest lines;
# they are replaced by exactly newName and digest.
awk -v name="$name" -v digest="$digest" '
  /^  - name: quay\.io\/registry-push\/registry-pruner$/ {
    print; print "    newName: " name; print "    digest: " digest; found = 1; skip = 1; next
  }
  skip && /^    (newName|newTag|digest):/ { next }
  { skip = 0; print }
  END { if (!found) exit 3 }
' "$file" >"$file.new" || {
  rm -f "$file.new"
  echo "error: $file has no images: entry named quay.io/registry-push/registry-pruner." >&2
  exit 1
}
mv "$file.new" "$file"
echo "pinned the pruner to $name@$digest in $file"
