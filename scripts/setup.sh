#!/usr/bin/env bash
# Prepares a fresh Debian machine for the stack: a Docker engine (Debian's docker.io, started when
# `docker info` fails), Prometheus and Alertmanager for the prober's tests, the npm dependencies (Node 24 comes with them), and the images (built locally
# from Debian packages, Maven Central and npm, since no container registry may be reachable).
# Idempotent: a second run skips everything already in place. Needs root for apt and dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
case "${1:-}" in -h|--help) sed -n '2,6p' "$0"; exit 0 ;; esac

export DEBIAN_FRONTEND=noninteractive
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
# Real peers of the prober's tests: Prometheus (PromQL error rates) and Alertmanager (alert routing).
[ -x /usr/bin/prometheus ] || need+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
# Not Loki: Debian's `loki` package is an unrelated genetics program (MCMC linkage analysis), and Grafana
# Loki has no Debian package; the Loki client's tests use packages/platform/src/loki-test-double.ts.
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
fi
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} from Debian"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/dockerd.log)"
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -50 /var/log/dockerd.log >&2; log "dockerd did not come up"; exit 1; }
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi

log "images (skipped when already built from the same recipe)"
npm run -s images

# The Kubernetes control plane of the integration tests: kube-apiserver, controller-manager, scheduler,
# etcd 3.6 (Debian's 3.4 is too old for kube-apiserver 1.37's watches), kwok and kustomize, built from
# the Go module proxy (about 16 min cold on 2 cores; skipped in a second when built from the same recipe).
log "Kubernetes binaries (skipped when already built from the same recipe)"
bash packages/kube-testenv/scripts/build.sh >/dev/null
