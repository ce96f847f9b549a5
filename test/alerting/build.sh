#!/usr/bin/env bash
# Builds the alerting test servers from their Go modules: Mailpit (SMTP with STARTTLS and auth, and
# an API to read what arrived), Alertmanager (receives pushed alerts) and Pebble (an ACME server).
# Binaries are cached outside the repository, keyed by version, like the control plane
# (test/controlplane/build.sh); one build at a time (flock). Prints the bin directory.
# Usage: build.sh [--print-dir]
set -euo pipefail

MAILPIT_VERSION="${MAILPIT_VERSION:-v1.33.1}"
ALERTMANAGER_VERSION="${ALERTMANAGER_VERSION:-v0.35.0}"
PEBBLE_VERSION="${PEBBLE_VERSION:-v2.10.3}"
CACHE="${OUTRIGGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/outrigger}"
BIN="$CACHE/bin/alerting-mailpit-$MAILPIT_VERSION-alertmanager-$ALERTMANAGER_VERSION-pebble-$PEBBLE_VERSION"

if [ "${1:-}" = "--print-dir" ]; then echo "$BIN"; exit 0; fi
complete() { [ -x "$BIN/mailpit" ] && [ -x "$BIN/alertmanager" ] && [ -x "$BIN/pebble" ]; }
if complete; then echo "$BIN"; exit 0; fi

log() { echo "[alerting] $*" >&2; }
command -v go >/dev/null || { log "Go is needed to build the alerting test servers (see .ci/run)"; exit 1; }

export GOFLAGS=-mod=mod CGO_ENABLED=0
work="$CACHE/build"
mkdir -p "$BIN" "$work"
exec 9>"$CACHE/alerting-build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if complete; then echo "$BIN"; exit 0; fi

# Built next to the target and renamed, so an interrupted build never looks finished.
install_built() { mv -f "$BIN/.$1.partial" "$BIN/$1"; }

build_mailpit() {
  log "building mailpit $MAILPIT_VERSION"
  GOBIN="$work/mailpit-$MAILPIT_VERSION" go install -trimpath -ldflags "-s -w" "github.com/axllent/mailpit@$MAILPIT_VERSION"
  cp "$work/mailpit-$MAILPIT_VERSION/mailpit" "$BIN/.mailpit.partial"
  install_built mailpit
}

build_pebble() {
  log "building pebble $PEBBLE_VERSION"
  GOBIN="$work/pebble-$PEBBLE_VERSION" go install -trimpath -ldflags "-s -w" "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION"
  cp "$work/pebble-$PEBBLE_VERSION/pebble" "$BIN/.pebble.partial"
  install_built pebble
}

build_alertmanager() {
  # The published module lacks the web UI's built assets (ui/app/dist, embedded with go:embed), so
  # `go install` fails; a copy of the module with placeholder assets builds. The API is unaffected.
  local src dir="$work/alertmanager-$ALERTMANAGER_VERSION"
  src="$(go mod download -json "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [ -n "$src" ] || { log "could not download github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION"; exit 1; }
  rm -rf "$dir"
  cp -r "$src" "$dir"
  chmod -R u+w "$dir"
  for ui in elm mantine; do
    mkdir -p "$dir/ui/app/dist/$ui"
    echo '<!doctype html><title>Alertmanager (test build, no UI)</title>' > "$dir/ui/app/dist/$ui/index.html"
  done
  log "building alertmanager $ALERTMANAGER_VERSION"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BIN/.alertmanager.partial" ./cmd/alertmanager)
  install_built alertmanager
}

timed() {
  local began; began=$(date +%s)
  "$@"
  log "$1 took $(( $(date +%s) - began ))s"
}

start=$(date +%s)
if [ ! -x "$BIN/mailpit" ]; then timed build_mailpit; fi
if [ ! -x "$BIN/alertmanager" ]; then timed build_alertmanager; fi
if [ ! -x "$BIN/pebble" ]; then timed build_pebble; fi
log "built in $(( $(date +%s) - start ))s"
echo "$BIN"
