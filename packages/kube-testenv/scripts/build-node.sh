#!/usr/bin/env bash
# Builds what a real Kubernetes node needs beside the control plane of build.sh: the kubelet and kube-proxy
# (from the same k8s.io/kubernetes version and throwaway module), containerd 2.x with ctr and its runc shim
# (github.com/containerd/containerd/v2), the CNI plugins bridge, host-local, loopback and portmap
# (github.com/containernetworking/plugins), CoreDNS (github.com/coredns/coredns, with only the plugins
# cluster DNS needs: see coredns_main below), and the pause image: pause.c from the Kubernetes module compiled
# statically with gcc, packed as a one-file OCI image archive for `ctr images import`. Everything comes
# from the Go module proxy and Debian; no container registry and no release download. runc is Debian's
# (/usr/sbin/runc, `apt-get install runc`): a cgo build of runc would need libseccomp-dev and buys nothing.
# Cached by the recipe below like build.sh: a second run with the same recipe is skipped at once.
# Cold: about 5 minutes on 2 cores when build.sh has run (the kubelet shares its Go build cache).
#   bash build-node.sh                 build (or skip) and print the bin dir on stdout
#   bash build-node.sh --print-bin-dir print the bin dir only (used by src/node.ts)
# Output: ${GM_K8S_NODE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics/k8s/node-<recipe>/bin}: kubelet,
# kube-proxy, coredns, containerd, containerd-shim-runc-v2, ctr, cni/{bridge,host-local,loopback,portmap}, pause,
# pause-image.tar (gamemetrics.local/pause:<tag>). Progress on stderr, as build.sh prints it.
set -euo pipefail

K8S_VERSION=v1.37.2         # k8s.io/kubernetes: the kubelet and kube-proxy, same version as build.sh's control plane
CONTAINERD_VERSION=v2.4.2   # github.com/containerd/containerd/v2 (Kubernetes 1.37 needs a 2.x runtime)
CNI_PLUGINS_VERSION=v1.10.0 # github.com/containernetworking/plugins
COREDNS_VERSION=v1.15.0     # github.com/coredns/coredns (its client-go is v0.37.1)
COREDNS_PLUGINS=(bind ready health errors log loadbalance cache kubernetes)
PAUSE_TAG=3.10.2            # the TAG of k8s.io/kubernetes' build/pause/Makefile at K8S_VERSION
PAUSE_IMAGE="gamemetrics.local/pause:${PAUSE_TAG}"
LDFLAGS_BASE="-s -w"
CNI_PLUGINS=(main/bridge main/loopback ipam/host-local meta/portmap)
BINARIES=(kubelet kube-proxy coredns containerd containerd-shim-runc-v2 ctr cni/bridge cni/loopback cni/host-local cni/portmap pause pause-image.tar)

recipe="kubelet=${K8S_VERSION} kube-proxy=${K8S_VERSION} containerd=${CONTAINERD_VERSION} coredns=${COREDNS_VERSION}:${COREDNS_PLUGINS[*]} cni-plugins=${CNI_PLUGINS_VERSION} pause=${PAUSE_TAG} image=${PAUSE_IMAGE} ldflags=${LDFLAGS_BASE} cgo=0 trimpath"
recipe_hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-10)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/gamemetrics/k8s"
key="node-${K8S_VERSION}-containerd-${CONTAINERD_VERSION}-${recipe_hash}"
bin_dir="${GM_K8S_NODE_BIN:-$cache_root/$key/bin}"

if [ "${1:-}" = "--print-bin-dir" ]; then printf '%s\n' "$bin_dir"; exit 0; fi
case "${1:-}" in -h|--help) sed -n '2,16p' "$0"; exit 0 ;; esac

LOG_TAG=k8s-node-build
# log, elapsed and step (progress while a build runs): shared with the other build script
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -x /usr/sbin/runc ] || log "warning: /usr/sbin/runc is missing (apt-get install runc, or bash scripts/setup.sh --node); the node cannot start without it"

complete=1
for b in "${BINARIES[@]}"; do [ -e "$bin_dir/$b" ] || complete=0; done
if [ $complete = 1 ] && [ "$(cat "$bin_dir/.recipe" 2>/dev/null)" = "$recipe" ]; then
  log "up to date: $bin_dir"
  printf '%s\n' "$bin_dir"
  exit 0
fi

go_bin=$(command -v go || true)
[ -n "$go_bin" ] || go_bin=/usr/local/go/bin/go
[ -x "$go_bin" ] || { log "no Go toolchain found (PATH or /usr/local/go/bin/go)"; exit 1; }
command -v gcc >/dev/null 2>&1 || { log "no gcc found (apt-get install gcc libc6-dev): it compiles the pause binary"; exit 1; }
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod"
# the machine is shared (2 cores): builds run at the lowest priority unless GM_BUILD_NICE says otherwise
nice_cmd=(nice -n "${GM_BUILD_NICE:-19}")

mkdir -p "$bin_dir"
stage=$(mktemp -d "$bin_dir/../stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/cni"

# The kubelet, from the throwaway module build.sh makes (k8s.io/kubernetes plus every staging module
# pinned to the matching v0.x): made here the same way when build.sh has not run yet.
src="$cache_root/src-${K8S_VERSION}"
mkdir -p "$src"
log "resolving k8s.io/kubernetes@${K8S_VERSION} ($("$go_bin" env GOVERSION))"
k8s_dir=$(cd "$src" && GOFLAGS= "$go_bin" mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
k8s_mod="$k8s_dir/go.mod"
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
version_ldflags="-X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1"
version_ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
version_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
step "kubelet, kube-proxy ${K8S_VERSION}" "${nice_cmd[@]}" "$go_bin" -C "$src" build -trimpath -ldflags="${LDFLAGS_BASE} ${version_ldflags}" \
  -o "$stage/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy

# containerd's module has no replace directives: `go install pkg@version` builds it with the versions it
# names. CGO off: no btrfs snapshotter (it needs cgo), overlayfs is what the node uses.
cd_pkg=github.com/containerd/containerd/v2
step "containerd, ctr, containerd-shim-runc-v2 ${CONTAINERD_VERSION}" env GOFLAGS= GOBIN="$stage" "${nice_cmd[@]}" "$go_bin" -C "$stage" install -trimpath \
  -ldflags="${LDFLAGS_BASE} -X ${cd_pkg}/version.Version=${CONTAINERD_VERSION}" \
  "${cd_pkg}/cmd/containerd@${CONTAINERD_VERSION}" "${cd_pkg}/cmd/ctr@${CONTAINERD_VERSION}" "${cd_pkg}/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}"

# CoreDNS built as its docs describe for a custom plugin set: a main package that imports coremain and the
# plugins wanted, with the directive order of CoreDNS's own plugin.cfg. The full build would also compile
# the AWS, Azure and Google Cloud SDKs of route53, azure and clouddns, which a test node never uses.
coredns_src="$cache_root/src-coredns-${COREDNS_VERSION}"
mkdir -p "$coredns_src"
{
  printf '// Code generated by build-node.sh: CoreDNS %s with the plugins cluster DNS needs.\npackage main\n\nimport (\n' "$COREDNS_VERSION"
  printf '\t"github.com/coredns/coredns/core/dnsserver"\n\t"github.com/coredns/coredns/coremain"\n'
  for p in "${COREDNS_PLUGINS[@]}"; do printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"; done
  printf ')\n\nfunc main() {\n\tif err := dnsserver.SetDirectives([]string{'
  for p in "${COREDNS_PLUGINS[@]}"; do printf '"%s", ' "$p"; done
  printf '}); err != nil {\n\t\tpanic(err)\n\t}\n\tcoremain.Run()\n}\n'
} > "$coredns_src/main.go"
[ -f "$coredns_src/go.mod" ] || printf 'module gamemetrics.local/coredns-build\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" > "$coredns_src/go.mod"
step "coredns ${COREDNS_VERSION} (${COREDNS_PLUGINS[*]})" "${nice_cmd[@]}" "$go_bin" -C "$coredns_src" build -trimpath \
  -ldflags="${LDFLAGS_BASE} -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" -o "$stage/coredns" .

cni_pkgs=()
for p in "${CNI_PLUGINS[@]}"; do cni_pkgs+=("github.com/containernetworking/plugins/plugins/$p@${CNI_PLUGINS_VERSION}"); done
step "CNI plugins ${CNI_PLUGINS_VERSION} (bridge, host-local, loopback, portmap)" env GOFLAGS= GOBIN="$stage/cni" "${nice_cmd[@]}" "$go_bin" -C "$stage" install -trimpath \
  -ldflags="${LDFLAGS_BASE}" "${cni_pkgs[@]}"

# The pause image: pause.c as its own Makefile compiles it (-Os -static), in a one-layer OCI image archive
# (oci-layout, index.json naming the image for containerd, blobs), reproducible (fixed mtime and owner).
pause_image() {
  local img="$stage/pause-img" layer cfg mf ls cs ms
  "${nice_cmd[@]}" gcc -Os -Wall -Werror -static -DVERSION="v${PAUSE_TAG}-gamemetrics" -o "$stage/pause" "$k8s_dir/build/pause/linux/pause.c"
  strip "$stage/pause"
  mkdir -p "$img/root" "$img/out/blobs/sha256"
  cp "$stage/pause" "$img/root/pause"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$img/root" -cf "$img/layer.tar" pause
  layer=$(sha256sum "$img/layer.tar" | cut -d' ' -f1); ls=$(stat -c %s "$img/layer.tar")
  cp "$img/layer.tar" "$img/out/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"65535:65535","Entrypoint":["/pause"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"gcc -Os -static build/pause/linux/pause.c (k8s.io/kubernetes %s)"}]}' \
    "$layer" "$K8S_VERSION" > "$img/config.json"
  cfg=$(sha256sum "$img/config.json" | cut -d' ' -f1); cs=$(stat -c %s "$img/config.json")
  cp "$img/config.json" "$img/out/blobs/sha256/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$cs" "$layer" "$ls" > "$img/manifest.json"
  mf=$(sha256sum "$img/manifest.json" | cut -d' ' -f1); ms=$(stat -c %s "$img/manifest.json")
  cp "$img/manifest.json" "$img/out/blobs/sha256/$mf"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
    "$mf" "$ms" "$PAUSE_IMAGE" "$PAUSE_TAG" > "$img/out/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$img/out/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$img/out" -cf "$stage/pause-image.tar" .
  rm -rf "$img"
}
step "pause ${PAUSE_TAG} (gcc -static) and its image ${PAUSE_IMAGE}" pause_image

mkdir -p "$bin_dir/cni"
for b in "${BINARIES[@]}"; do mv -f "$stage/$b" "$bin_dir/$b"; done
printf '%s' "$PAUSE_IMAGE" > "$bin_dir/pause-image.name"
printf '%s' "$recipe" > "$bin_dir/.recipe"
if [ -z "${GM_K8S_NODE_BIN:-}" ]; then
  # the binaries of other node recipes (~170 MB each): keep only this one
  for old in "$cache_root"/node-*; do
    [ "$old" = "$cache_root/$key" ] || { log "removing the binaries of another node recipe: $old"; rm -rf "$old"; }
  done
fi
log "built in $(elapsed): $bin_dir ($(du -sh "$bin_dir" | cut -f1))"
printf '%s\n' "$bin_dir"
