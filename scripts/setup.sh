#!/usr/bin/env bash
# Prepares a fresh Debian machine for the stack: a Docker engine (Debian's docker.io, started when
# `docker info` fails), Prometheus and Alertmanager for the prober's tests, the npm dependencies (Node 24 comes with them), and the images (built locally
# from Debian packages, Maven Central and npm, since no container registry may be reachable).
# Idempotent: a second run skips everything already in place. Needs root for apt and dockerd.
#   bash scripts/setup.sh          what `npm run gameday` and `npm run demo` need (a few minutes cold)
#   bash scripts/setup.sh --k8s    also what only the integration tests (`npm test`) use: Debian's docker-compose,
#                                  and the Kubernetes control plane (`npm run k8s:build`, ~16 min cold on 2 cores)
#   bash scripts/setup.sh --node   also what a real Kubernetes node needs (opt-in, root): Debian's runc, and
#                                  kubelet, kube-proxy, CoreDNS, containerd, CNI plugins and the pause image
#                                  (npm run k8s:build-node), and metrics-server (npm run k8s:build-metrics-server)
#   bash scripts/setup.sh --bench  also the peers the benchmarks measure the prober against: Debian's
#                                  prometheus-blackbox-exporter and prometheus-postgres-exporter (with prometheus,
#                                  installed anyway), burrow (LinkedIn's lag monitor) for `npm run bench:lag`, and
#                                  PyPI's prometheus-kafka-consumer-group-exporter in .bench/venv for `npm run bench:page`,
#                                  the Prometheus JMX exporter agent (Maven Central) loaded into its brokers, and
#                                  gm-cadvisor (cAdvisor's library from the Go module proxy, deploy/bench/cadvisor)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
k8s=0
node=0
bench=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    --k8s) k8s=1 ;;
    --node) node=1 ;;
    --bench) bench=1 ;;
    *) log "unknown option: $arg (see --help)"; exit 2 ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
# Real peers of the prober's tests: Prometheus (PromQL error rates) and Alertmanager (alert routing).
[ -x /usr/bin/prometheus ] || need+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
# The probing-cost peer of `npm run bench:prober` (blackbox_exporter, scraped by the Prometheus above).
if [ $bench = 1 ]; then [ -x /usr/bin/prometheus-blackbox-exporter ] || need+=(prometheus-blackbox-exporter); fi
# The lag peer of `npm run bench:lag`: Burrow, run by the benchmark with its own config (the package's
# service is left as Debian installs it; the benchmark never uses /etc/burrow).
# The runtime of a real node's containers (packages/kube-testenv/src/node.ts): Debian's runc.
if [ $node = 1 ]; then [ -x /usr/sbin/runc ] || need+=(runc); fi
if [ $bench = 1 ]; then [ -x /usr/bin/Burrow ] || need+=(burrow); fi
# The PostgreSQL exporter of `npm run bench:page`'s Prometheus pipeline.
if [ $bench = 1 ]; then [ -x /usr/bin/prometheus-postgres-exporter ] || need+=(prometheus-postgres-exporter); fi
# Debian's python3 lacks ensurepip (what `python3 -m venv` needs) until python3-venv is installed.
if [ $bench = 1 ]; then python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv); fi
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
# The compose test (packages/stack/src/compose.int.test.ts) brings docker-compose.yml up with the Compose
# a Debian machine can install: docker-compose 1.29 (bookworm packages no v2 plugin; either one will do).
# Only the tests use it. Without recommends: they would add docker.io beside an engine installed otherwise.
if [ $k8s = 1 ] && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  log "installing docker-compose from Debian (the compose test)"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
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

# The Kafka lag exporter of `npm run bench:page` (deploy/bench/README.md): danielqsj/kafka_exporter is
# refused by the Go module proxy here, so PyPI's prometheus-kafka-consumer-group-exporter, pinned with the
# kafka-python it was written for (3.x removed the module it imports).
if [ $bench = 1 ] && [ ! -x .bench/venv/bin/prometheus-kafka-consumer-group-exporter ]; then
  log "prometheus-kafka-consumer-group-exporter from PyPI into .bench/venv"
  python3 -m venv .bench/venv
  .bench/venv/bin/pip install -q 'prometheus-kafka-consumer-group-exporter==0.5.5' 'kafka-python==2.0.2'
fi

# The Kafka broker metrics of `npm run bench:page` (Strimzi's broker rules read them): the Prometheus JMX
# exporter java agent from Maven Central, which the bench's stack loads into each broker. 1.0.1 is the
# newest version Maven Central serves here (1.1.0 to 1.5.0 are "Could not find artifact").
JMX_EXPORTER_VERSION=1.0.1
if [ $bench = 1 ] && [ ! -f ".bench/jmx_prometheus_javaagent-${JMX_EXPORTER_VERSION}.jar" ]; then
  log "jmx_prometheus_javaagent ${JMX_EXPORTER_VERSION} from Maven Central into .bench/"
  mkdir -p .bench
  nice -n 19 mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:${JMX_EXPORTER_VERSION}" -DoutputDirectory=.bench
fi
# The container-metrics exporter of `npm run bench:page`: cAdvisor's manager and Prometheus collector with
# its Docker handler, from the Go module proxy, behind our own small main (deploy/bench/cadvisor: its
# binary module is not served). Rebuilt when its sources are newer than the binary.
if [ $bench = 1 ] && { [ ! -x .bench/gm-cadvisor ] || [ -n "$(find deploy/bench/cadvisor -newer .bench/gm-cadvisor -type f)" ]; }; then
  log "gm-cadvisor (cAdvisor from the Go module proxy) into .bench/ (about a minute cold)"
  mkdir -p .bench
  (cd deploy/bench/cadvisor && nice -n 19 go build -trimpath -o ../../../.bench/gm-cadvisor .)
fi

log "images (skipped when already built from the same recipe)"
npm run -s images
# gamemetrics/gm-tools:0.1.0, the image deploy/prober and deploy/gameday run (gm-prober and gm-chaos bundled
# onto gamemetrics/node:24-local): built from this checkout, skipped when its inputs are unchanged.
npm run -s images:gm-tools
# gamemetrics/alertmanager:0.25.0-local, deploy/alertmanager's image on the real node (Debian's
# prometheus-alertmanager binary, installed above, onto glibc from the local base; seconds, skipped when unchanged)
npm run -s images:alertmanager
# gamemetrics/prometheus:2.42.0-local, deploy/prometheus's image on the real node: upstream's v2.42.0 source
# compiled here (Debian's prometheus has no Kubernetes discovery), so only with --node: about 3 min cold on
# 2 cores, under a second when unchanged
if [ $node = 1 ]; then npm run -s images:prometheus; fi

# The Kubernetes control plane of the integration tests: kube-apiserver, controller-manager, scheduler,
# etcd 3.6 (Debian's 3.4 is too old for kube-apiserver 1.37's watches), kwok and kustomize, built from
# the Go module proxy (about 16 min cold on 2 cores; skipped in a second when built from the same recipe).
# Only the tests use it: not built unless asked (--k8s). Its progress goes to stderr; stdout is the bin dir.
if [ $k8s = 1 ]; then
  log "Kubernetes binaries (skipped when already built from the same recipe)"
  bash packages/kube-testenv/scripts/build.sh >/dev/null
else
  log "Kubernetes binaries not built (only the integration tests need them: bash scripts/setup.sh --k8s, or npm run k8s:build)"
fi
# A real node beside that control plane (opt-in): the kubelet of the same recipe, containerd 2.x, the CNI
# plugins and a locally compiled pause image (a few minutes once the control plane is built).
if [ $node = 1 ]; then
  log "Kubernetes node binaries (skipped when already built from the same recipe)"
  bash packages/kube-testenv/scripts/build-node.sh >/dev/null
  # the metrics API (pod memory for the prober and the HPA) beside that node: ~7 min cold, seconds cached
  bash packages/kube-testenv/scripts/build-metrics-server.sh >/dev/null
fi
