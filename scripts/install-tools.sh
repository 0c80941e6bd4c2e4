#!/usr/bin/env bash
# Installs the real components dualsync drives and tests against into .tools/
# (git-ignored, reused when present): s5cmd 2.2.2, MinIO, Toxiproxy.
# Everything comes from the Go module proxy; Go itself must be installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${DUALSYNC_TOOLS:-$root/.tools}"
mkdir -p "$TOOLS"
if ! command -v go >/dev/null 2>&1; then
  echo "dualsync: Go (>= 1.22) is needed to build s5cmd and MinIO: install it from https://go.dev/dl or 'apt-get install golang'" >&2
  exit 1
fi
export GOFLAGS="${GOFLAGS:-} -mod=mod"
want="${1:-all}"

s5cmd_ok() { [ -x "$TOOLS/s5cmd" ] && "$TOOLS/s5cmd" version 2>/dev/null | grep -q 'v2.2.2'; }
if [[ "$want" == all || "$want" == s5cmd ]] && ! s5cmd_ok; then
  echo "installing s5cmd 2.2.2 into $TOOLS" >&2
  tmp="$(mktemp -d)"
  # A plain 'go install ...@v2.2.2' is refused by the proxy's version list; a throwaway module works.
  (cd "$tmp" && go mod init tools >/dev/null 2>&1 && go get github.com/peak/s5cmd/v2@v2.2.2 >/dev/null 2>&1 \
    && go build -ldflags "-X=github.com/peak/s5cmd/v2/version.Version=v2.2.2" -o "$TOOLS/s5cmd" github.com/peak/s5cmd/v2)
  rm -rf "$tmp"
fi
if [[ "$want" == all || "$want" == minio ]] && [ ! -x "$TOOLS/minio" ]; then
  echo "installing MinIO into $TOOLS (about 2 minutes)" >&2
  GOBIN="$TOOLS" go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
fi
if [[ "$want" == all || "$want" == toxiproxy ]] && [ ! -x "$TOOLS/toxiproxy-server" ]; then
  echo "installing Toxiproxy 2.12 into $TOOLS" >&2
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0
  mv "$tmp/server" "$TOOLS/toxiproxy-server"
  rm -rf "$tmp"
fi
echo "tools ready in $TOOLS" >&2
