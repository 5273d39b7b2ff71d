#!/usr/bin/env bash
# Starts and stops openshift-sim in the background for a CI job (the self-test workflow), the way
# scripts/demo.sh starts it in process: `start DIR` waits for the simulator's JSON line and prints
# `name=value` lines for $GITHUB_OUTPUT (pid, kubeconfig, developer-kubeconfig, ingress-ca, api-server);
# `stop DIR` sends SIGTERM to that pid and waits for it. As root (or through sudo when there is one) the
# router serves route hosts on :443 through /etc/hosts entries, so the action discovers the registry's
# route as on a cluster; the files it writes are then handed to the calling user.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] && [ -n "$2" ] || usage
command=$1
dir=$2

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n env "PATH=$PATH")
else
  as_root=()
fi

case "$command" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    ready="$dir/ready.json"
    rm -f "$ready"
    mode=port
    [ "$(id -u)" -eq 0 ] || [ ${#as_root[@]} -gt 0 ] && mode=hosts
    # setsid: the simulator outlives this step; its own SIGTERM handler stops its children.
    # The repository's own Node 24 runs the built command directly, so the pid is the simulator's.
    setsid "${as_root[@]}" "$PWD/node_modules/.bin/node" packages/openshift-sim/bin/openshift-sim.js start \
      --dir "$dir" --router-mode "$mode" >"$ready" 2>"$dir/openshift-sim.log" </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    for _ in $(seq 1 120); do
      [ -s "$ready" ] && break
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "error: openshift-sim exited before it was ready; its log ends with:" >&2
        tail -n 20 "$dir/openshift-sim.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    if [ ! -s "$ready" ]; then
      echo "error: openshift-sim was not ready within 60 s; its log ends with:" >&2
      tail -n 20 "$dir/openshift-sim.log" >&2
      exit 1
    fi
    [ ${#as_root[@]} -eq 0 ] || "${as_root[@]}" chown -R "$(id -u):$(id -g)" "$dir"
    echo "pid=$pid"
    echo "router-mode=$mode"
    jq -r '"api-server=\(.apiServer)", "kubeconfig=\(.kubeconfig)",
      "developer-kubeconfig=\(.users.developer.kubeconfig)", "ingress-ca=\(.ingressCA)"' "$ready"
    ;;
  stop)
    [ -f "$dir/pid" ] || { echo "no openshift-sim started in $dir" >&2; exit 0; }
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
      # The pid is this script's child (sudo when started through it, which passes SIGTERM on).
      "${as_root[@]}" kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
      done
    fi
    rm -f "$dir/pid"
    echo "openshift-sim stopped"
    ;;
  *) usage ;;
esac
