#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kubectl) and helm from their Go modules,
# caching the binaries outside the repository, keyed by version. Prints the bin directory.
# Concurrent calls wait for one build (flock) instead of building twice.
# Usage: build.sh [--print-dir]
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${OUTRIGGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/outrigger}"
BIN="$CACHE/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"

if [ "${1:-}" = "--print-dir" ]; then echo "$BIN"; exit 0; fi
complete() { [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ] && [ -x "$BIN/kubectl" ] && [ -x "$BIN/helm" ]; }
if complete; then echo "$BIN"; exit 0; fi

log() { echo "[controlplane] $*" >&2; }
command -v go >/dev/null || { log "Go is needed to build the control plane (see .ci/run)"; exit 1; }

export GOFLAGS=-mod=mod CGO_ENABLED=0
work="$CACHE/build"
mkdir -p "$BIN" "$work"
exec 9>"$CACHE/build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if complete; then echo "$BIN"; exit 0; fi

# go build writes next to the target and renames, so an interrupted build never leaves a
# half-written binary that a later run would take for a finished one.
install_built() { mv -f "$BIN/.$1.partial" "$BIN/$1"; }

build_kube() {
  local dir="$work/kube-$KUBE_VERSION" minor staging_version modfile
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  staging_version="v0.${KUBE_VERSION#v1.}"
  mkdir -p "$dir"
  modfile="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module outrigger.test/kubebuild"
    echo "go $(sed -n 's/^go //p' "$modfile")"
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    # The kubernetes module points its staging modules at local folders; pin them to the
    # published staging versions instead.
    grep -E '^\s+k8s\.io/[a-z-]+ => \./staging' "$modfile" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } > "$dir/go.mod"
  echo 'package tools; import (_ "k8s.io/kubernetes/cmd/kube-apiserver/app"; _ "k8s.io/kubectl/pkg/cmd")' > "$dir/tools.go"
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="-s -w"
  # /version and `kubectl version` read these; without them they say v0.0.0-master.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  log "building kube-apiserver and kubectl $KUBE_VERSION"
  (cd "$dir" && { go mod tidy >/dev/null 2>&1 || true; }
   go build -trimpath -ldflags "$ld" -o "$BIN/.kube-apiserver.partial" k8s.io/kubernetes/cmd/kube-apiserver
   go build -trimpath -ldflags "$ld" -o "$BIN/.kubectl.partial" k8s.io/kubernetes/cmd/kubectl)
  install_built kube-apiserver
  install_built kubectl
  "$BIN/kube-apiserver" --version | grep -qx "Kubernetes $KUBE_VERSION" \
    || { log "kube-apiserver reports $("$BIN/kube-apiserver" --version), not $KUBE_VERSION"; exit 1; }
}

build_etcd() {
  local dir="$work/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  cat > "$dir/go.mod" <<MOD
module outrigger.test/etcdbuild
go 1.25
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
replace go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
replace go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
replace go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
replace go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
MOD
  echo 'package tools; import _ "go.etcd.io/etcd/server/v3/etcdmain"' > "$dir/tools.go"
  log "building etcd $ETCD_VERSION"
  (cd "$dir" && { go mod tidy >/dev/null 2>&1 || true; }
   go build -trimpath -ldflags "-s -w" -o "$BIN/.etcd.partial" go.etcd.io/etcd/server/v3)
  install_built etcd
}

build_helm() {
  local dir="$work/helm-$HELM_VERSION" major
  major="$(echo "$HELM_VERSION" | cut -d. -f1)"
  mkdir -p "$dir"
  cat > "$dir/go.mod" <<MOD
module outrigger.test/helmbuild
go 1.25
require helm.sh/helm/$major $HELM_VERSION
MOD
  echo "package tools; import _ \"helm.sh/helm/$major/pkg/action\"" > "$dir/tools.go"
  log "building helm $HELM_VERSION"
  (cd "$dir" && { go mod tidy >/dev/null 2>&1 || true; }
   go build -trimpath -ldflags "-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION -X helm.sh/helm/$major/internal/version.gitTreeState=clean" \
     -o "$BIN/.helm.partial" "helm.sh/helm/$major/cmd/helm")
  install_built helm
}

timed() {
  local began; began=$(date +%s)
  "$@"
  log "$1 took $(( $(date +%s) - began ))s"
}

start=$(date +%s)
if [ ! -x "$BIN/etcd" ]; then timed build_etcd; fi
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kubectl" ]; then timed build_kube; fi
if [ ! -x "$BIN/helm" ]; then timed build_helm; fi
log "built in $(( $(date +%s) - start ))s"
echo "$BIN"
