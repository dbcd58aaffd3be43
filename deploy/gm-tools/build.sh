#!/usr/bin/env bash
# Builds gamemetrics/gm-tools:${GM_TOOLS_VERSION:-0.1.0}, the image deploy/prober and deploy/gameday run:
# gm-prober and gm-chaos bundled by esbuild (bundle.mjs) onto the Node runtime of the locally built
# gamemetrics/node:24-local (packages/stack/images/build.sh, built first when missing). Nothing is pulled.
# Idempotent like the other images: the image carries io.gamemetrics.recipe=<hash of its inputs> (the
# sources of both CLIs and every workspace package, package-lock.json, scenarios/, the Alertmanager
# routing, this folder, and the base image's own recipe), and a tag already carrying it is skipped.
# See README.md ("Images"). Run `bash deploy/gm-tools/build.sh --help`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VERSION="${GM_TOOLS_VERSION:-0.1.0}"
TAG="gamemetrics/gm-tools:${VERSION}"
NODE_TAG="gamemetrics/node:24-local"
LABEL_KEY=io.gamemetrics.recipe
CACHE="${GM_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics-images}"

usage() {
  cat <<USAGE
Usage: bash deploy/gm-tools/build.sh [--force]

Builds ${TAG} (gm-prober and gm-chaos on PATH, uid 1000, no shell) from this checkout,
on ${NODE_TAG} (built by packages/stack/images/build.sh when missing). Skipped when the
tag already carries ${LABEL_KEY}=<hash of the inputs>. Prints the tag on stdout;
progress goes to stderr.

Options:
  --force     rebuild even if up to date
  -h, --help  this help

Environment:
  GM_TOOLS_VERSION  the tag's version (default 0.1.0, what deploy/prober and deploy/gameday name)

Needs: docker, and \`npm ci\` done (the bundler is the repository's esbuild, run by its Node 24).
USAGE
}

FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --force) FORCE=1 ;;
    *) echo "[gm-tools] unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[gm-tools] $*" >&2; }
die() { echo "[gm-tools] ERROR: $*" >&2; exit 1; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2> /dev/null || true; }

command -v docker > /dev/null 2>&1 || die "'docker' is required to build the image"
docker info > /dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running / are you in the docker group?)"
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] && [ -d "$ROOT/node_modules/esbuild" ] || die "$ROOT/node_modules has no node/esbuild: run \`npm ci\` at the repository's root first"

mkdir -p "$CACHE"
exec 9> "$CACHE/.lock-gm-tools"
if command -v flock > /dev/null 2>&1; then
  flock -n 9 || { log "another gm-tools build is running (lock $CACHE/.lock-gm-tools); waiting"; flock 9; }
fi

T0=$SECONDS
# the base: quick when up to date (its own recipe check); its progress stays on stderr
bash "$ROOT/packages/stack/images/build.sh" node > /dev/null
BASE_RECIPE="$(label_of "$NODE_TAG")"
[ -n "$BASE_RECIPE" ] || die "$NODE_TAG carries no $LABEL_KEY label"

# Every file the bundles can be made of (a superset: all workspace sources, tests excluded), the lock
# file (the dependencies' versions), what the image carries beside the bundles, and this recipe.
inputs() {
  (cd "$ROOT" && {
    find apps/*/src packages/*/src -type f -name '*.ts' ! -name '*.test.ts' ! -path '*/bench/*'
    find apps packages -mindepth 2 -maxdepth 2 -name package.json
    find scenarios deploy/gm-tools -type f
    echo package-lock.json
    echo deploy/alertmanager/alertmanager.yml
  } | LC_ALL=C sort | xargs sha256sum)
}
HASH="$( { inputs; printf 'base=%s version=%s\n' "$BASE_RECIPE" "$VERSION"; } | sha256sum | cut -d' ' -f1)"

if [ "$FORCE" = 0 ] && [ "$(label_of "$TAG")" = "$HASH" ]; then
  log "$TAG is up to date (recipe ${HASH:0:12}), skipping ($((SECONDS - T0)) s)"
  echo "$TAG"
  exit 0
fi

CTX="$(mktemp -d "${TMPDIR:-/tmp}/gm-tools-ctx.XXXXXX")"
trap 'rm -rf "$CTX"' EXIT
cp "$HERE/Dockerfile" "$CTX/"
log "bundling gm-prober and gm-chaos (esbuild) ..."
t=$SECONDS
"$NODE" "$HERE/bundle.mjs" "$CTX/app"
mkdir -p "$CTX/app/deploy/alertmanager"
cp -r "$ROOT/scenarios" "$CTX/app/scenarios"
cp "$ROOT/deploy/alertmanager/alertmanager.yml" "$CTX/app/deploy/alertmanager/"
log "bundled in $((SECONDS - t)) s: $(du -sh "$CTX/app" | cut -f1)"

log "docker build -> $TAG (recipe ${HASH:0:12})"
# classic builder, as packages/stack/images/build.sh: any engine, no buildx plugin / BuildKit needed
DOCKER_BUILDKIT=0 docker build --pull=false --rm --force-rm \
  --build-arg "NODE_IMAGE=$NODE_TAG" \
  --build-arg "NODE_VERSION=$(docker image inspect -f '{{ index .Config.Labels "org.opencontainers.image.version" }}' "$NODE_TAG")" \
  --build-arg "VERSION=$VERSION" \
  --build-arg "RECIPE=$HASH" \
  -t "$TAG" "$CTX" 2>&1 | sed -u 's/^/[gm-tools]   /' >&2
[ "${PIPESTATUS[0]}" = 0 ] || die "docker build of $TAG failed (output above)"
[ "$(label_of "$TAG")" = "$HASH" ] || die "$TAG was built but does not carry $LABEL_KEY=$HASH"
# the image is of use only if both commands start in it as the manifests run it
for cli in gm-prober gm-chaos; do
  docker run --rm --read-only --user 1000:1000 "$TAG" "$cli" --help > /dev/null \
    || die "$TAG: \`$cli --help\` failed in the image"
done
log "$TAG built in $((SECONDS - T0)) s, $(docker image inspect -f '{{ .Size }}' "$TAG" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
echo "$TAG"
