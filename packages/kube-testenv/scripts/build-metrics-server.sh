#!/usr/bin/env bash
# Builds metrics-server (sigs.k8s.io/metrics-server, the Kubernetes metrics API metrics.k8s.io: what
# `kubectl top`, the HPA and gm-prober's memory view read) from the Go module proxy, like the node's other
# binaries (build-node.sh): `go install pkg@version` (its module has no replace directives), CGO off,
# -trimpath -s -w. A separate script and cache dir so the node's recipe (and bin dir) stays as it is.
# Cold: about 10 min of CPU on 2 cores (its k8s.io/apiserver v0.36 is not the control plane's), seconds
# with a warm Go build cache; skipped when the binary of the same recipe exists.
#   bash build-metrics-server.sh                 build (or skip) and print the binary's path on stdout
#   bash build-metrics-server.sh --print-path    print the path only (used by src/metrics-server.ts)
set -euo pipefail

METRICS_SERVER_VERSION=v0.9.0   # the newest the Go module proxy serves (go list -m -versions)
recipe="metrics-server=${METRICS_SERVER_VERSION} ldflags=-s -w cgo=0 trimpath"
hash="$(printf '%s' "$recipe" | sha256sum | cut -c1-10)"
out_dir="${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics/k8s/metrics-server-${METRICS_SERVER_VERSION}-${hash}"
bin="${GM_METRICS_SERVER_BIN:-$out_dir/metrics-server}"

if [ "${1:-}" = "--print-path" ]; then echo "$bin"; exit 0; fi
log() { echo "[k8s-build] $*" >&2; }
if [ -x "$bin" ]; then
  log "metrics-server ${METRICS_SERVER_VERSION} already built: $bin"
  echo "$bin"
  exit 0
fi
go_bin="$(command -v go || true)"
[ -n "$go_bin" ] || { echo "[k8s-build] ERROR: go is required (bash scripts/setup.sh --k8s installs it)" >&2; exit 1; }
nice_cmd=()
[ -n "${GM_BUILD_NICE:-}" ] && nice_cmd=(nice -n "$GM_BUILD_NICE")
stage="$(mktemp -d "${TMPDIR:-/tmp}/gm-metrics-server.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
log "metrics-server ${METRICS_SERVER_VERSION} (go install from the module proxy) ..."
t0=$SECONDS
env CGO_ENABLED=0 GOFLAGS= GOBIN="$stage" "${nice_cmd[@]}" "$go_bin" -C "$stage" install -trimpath -ldflags "-s -w" \
  "sigs.k8s.io/metrics-server/cmd/metrics-server@${METRICS_SERVER_VERSION}"
mkdir -p "$(dirname "$bin")"
mv "$stage/metrics-server" "$bin.part"
mv "$bin.part" "$bin"
log "metrics-server built in $((SECONDS - t0)) s: $bin"
echo "$bin"
