#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes), etcd
# (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok) and kustomize (sigs.k8s.io/kustomize) from
# the Go module proxy into a cache keyed
# by the recipe below, so a second run with the same recipe is skipped at once. No container registry
# and no release download. Cold: about 15 minutes on 2 cores; a recipe change relinks from Go's cache.
#   bash build.sh                 build (or skip) and print the bin dir on stdout
#   bash build.sh --print-bin-dir print the bin dir only (used by src/control-plane.ts)
# Output: ${GM_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics/k8s/<recipe>/bin}. Progress on stderr:
# each component as it starts and ends, with the elapsed time, and a line a minute while one builds.
set -euo pipefail

K8S_VERSION=v1.37.2   # k8s.io/kubernetes; its staging modules k8s.io/* are pinned to v0.37.2
ETCD_VERSION=v3.6.16  # go.etcd.io/etcd/server/v3: Debian's etcd 3.4 lacks what kube-apiserver 1.37's watch cache needs
KWOK_VERSION=v0.8.0   # sigs.k8s.io/kwok, built in its own module graph (go install pkg@version)
KUSTOMIZE_VERSION=v5.8.2  # sigs.k8s.io/kustomize/kustomize/v5 (v5.8.3 needs Go 1.27)
LDFLAGS_BASE="-s -w"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok kustomize)

recipe="k8s=${K8S_VERSION} etcd=${ETCD_VERSION} kwok=${KWOK_VERSION} kustomize=${KUSTOMIZE_VERSION} ldflags=${LDFLAGS_BASE} cgo=0 trimpath"
recipe_hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-10)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics/k8s"
key="${K8S_VERSION}-kwok-${KWOK_VERSION}-${recipe_hash}"
bin_dir="${GM_K8S_BIN:-$cache_root/$key/bin}"

if [ "${1:-}" = "--print-bin-dir" ]; then printf '%s\n' "$bin_dir"; exit 0; fi
case "${1:-}" in -h|--help) sed -n '2,10p' "$0"; exit 0 ;; esac

LOG_TAG=k8s-build
# log, elapsed and step (progress while a build runs): shared with the other build script
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# kwok's own node and pod stages, from the kwok module itself (not copied into the repo)
copy_kwok_stages() {
  local gb dir
  gb=$(command -v go || echo /usr/local/go/bin/go)
  dir=$(GOFLAGS= "$gb" mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir/kustomize/stage" ] || { log "kwok module has no kustomize/stage: $dir"; return 1; }
  mkdir -p "$bin_dir/kwok-stages"
  cp "$dir"/kustomize/stage/node/fast/node-initialize.yaml "$dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
     "$dir"/kustomize/stage/pod/fast/pod-ready.yaml "$dir"/kustomize/stage/pod/fast/pod-complete.yaml "$dir"/kustomize/stage/pod/fast/pod-delete.yaml \
     "$bin_dir/kwok-stages/"
  chmod 644 "$bin_dir"/kwok-stages/*.yaml
}

complete=1
for b in "${BINARIES[@]}"; do [ -x "$bin_dir/$b" ] || complete=0; done
if [ $complete = 1 ] && [ "$(cat "$bin_dir/.recipe" 2>/dev/null)" = "$recipe" ] && [ ! -f "$bin_dir/kwok-stages/pod-ready.yaml" ]; then
  log "kwok stages from sigs.k8s.io/kwok@${KWOK_VERSION}"
  (cd "$bin_dir" && copy_kwok_stages)
fi
if [ $complete = 1 ] && [ "$(cat "$bin_dir/.recipe" 2>/dev/null)" = "$recipe" ]; then
  log "up to date: $bin_dir"
  printf '%s\n' "$bin_dir"
  exit 0
fi

go_bin=$(command -v go || true)
[ -n "$go_bin" ] || go_bin=/usr/local/go/bin/go
[ -x "$go_bin" ] || { log "no Go toolchain found (PATH or /usr/local/go/bin/go)"; exit 1; }
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"

mkdir -p "$bin_dir"
stage=$(mktemp -d "$bin_dir/../stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# Throwaway module: requires k8s.io/kubernetes and pins every k8s.io/* staging module (the ones that
# kubernetes' own go.mod replaces with ./staging/src/...) to the matching published v0.x version.
src="$cache_root/src-${K8S_VERSION}"
mkdir -p "$src"
log "resolving k8s.io/kubernetes@${K8S_VERSION} ($("$go_bin" env GOVERSION))"
k8s_mod=$(cd "$src" && GOFLAGS= "$go_bin" mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$k8s_mod" ] || { log "could not download k8s.io/kubernetes@${K8S_VERSION}"; exit 1; }
staging_version="v0.${K8S_VERSION#v1.}"
{
  printf 'module gamemetrics.local/k8s-build\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
    "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$k8s_mod")" "$K8S_VERSION"
  sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*$#\t\1 => \1 '"$staging_version"'#p' "$k8s_mod"
  printf ')\n'
} > "$src/go.mod.new"
if ! cmp -s "$src/go.mod.new" "$src/go.mod.recipe" 2>/dev/null; then
  mv "$src/go.mod.new" "$src/go.mod"; cp "$src/go.mod" "$src/go.mod.recipe"; rm -f "$src/go.sum"
else
  rm -f "$src/go.mod.new"
fi
log "$(grep -c ' => ' "$src/go.mod") staging modules pinned to ${staging_version}"

version_ldflags="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1"
version_ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
version_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
step "kube-apiserver, kube-controller-manager, kube-scheduler (cold: most of the build)" \
  "$go_bin" -C "$src" build -trimpath -ldflags="${LDFLAGS_BASE} ${version_ldflags}" -o "$stage/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler

# etcd's server module replaces its sibling modules with ../ paths, so `go install pkg@version` refuses
# it: a throwaway module that requires it builds it with the versions it names.
etcd_src="$cache_root/src-etcd-${ETCD_VERSION}"
mkdir -p "$etcd_src"
[ -f "$etcd_src/go.mod" ] || printf 'module gamemetrics.local/etcd-build\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$etcd_src/go.mod"
step "etcd@${ETCD_VERSION}" "$go_bin" -C "$etcd_src" build -trimpath -ldflags="${LDFLAGS_BASE}" -o "$stage/etcd" go.etcd.io/etcd/server/v3

step "kwok@${KWOK_VERSION}" env GOFLAGS= GOBIN="$stage" "$go_bin" -C "$stage" install -trimpath -ldflags="${LDFLAGS_BASE}" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"

step "kustomize@${KUSTOMIZE_VERSION}" env GOFLAGS= GOBIN="$stage" "$go_bin" -C "$stage" install -trimpath -ldflags="${LDFLAGS_BASE}" "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"

for b in "${BINARIES[@]}"; do mv -f "$stage/$b" "$bin_dir/$b"; done
(cd "$stage" && copy_kwok_stages)
printf '%s' "$recipe" > "$bin_dir/.recipe"
if [ -z "${GM_K8S_BIN:-}" ]; then
  # binaries of other recipes are ~350 MB each: keep only this one
  for old in "$cache_root"/v*-kwok-*; do
    [ "$old" = "$cache_root/$key" ] || { log "removing the binaries of another recipe: $old"; rm -rf "$old"; }
  done
fi
log "built in $(elapsed): $bin_dir ($(du -sh "$bin_dir" | cut -f1))"
printf '%s\n' "$bin_dir"
