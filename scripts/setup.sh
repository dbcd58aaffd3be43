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
