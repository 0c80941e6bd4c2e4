#!/usr/bin/env bash
# Installs the real components dualsync drives and tests against into .tools/ (git-ignored,
# reused when present): s5cmd 2.2.2, MinIO, Toxiproxy 2.12. Everything builds from the Go
# module proxy; Go itself must be installed. Built binaries are also kept in a per-user cache
# (~/.cache/dualsync/tools) so that a fresh clone on the same machine does not rebuild them.
#   usage: scripts/install-tools.sh [all|s5cmd|minio|toxiproxy]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${DUALSYNC_TOOLS:-$root/.tools}"
CACHE="${DUALSYNC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dualsync/tools}"
S5CMD_VERSION=v2.2.2
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
TOXIPROXY_VERSION=v2.12.0
want="${1:-all}"
mkdir -p "$TOOLS"

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    echo "dualsync: Go (>= 1.22) is needed to build s5cmd, MinIO and Toxiproxy: install it from https://go.dev/dl or with 'apt-get install golang'" >&2
    exit 1
  fi
}

# from_cache NAME VERSION: copies a cached build into .tools/ when there is one.
from_cache() {
  local cached="$CACHE/$2/$1"
  if [ -x "$cached" ]; then cp -f "$cached" "$TOOLS/$1"; return 0; fi
  return 1
}

# to_cache NAME VERSION: remembers a fresh build (best effort: the cache is an optimisation).
to_cache() {
  mkdir -p "$CACHE/$2" 2>/dev/null && cp -f "$TOOLS/$1" "$CACHE/$2/$1.tmp" 2>/dev/null && mv -f "$CACHE/$2/$1.tmp" "$CACHE/$2/$1" || true
}

if [[ "$want" == all || "$want" == s5cmd ]]; then
  if ! { [ -x "$TOOLS/s5cmd" ] && "$TOOLS/s5cmd" version 2>/dev/null | grep -q "$S5CMD_VERSION"; } && ! from_cache s5cmd "$S5CMD_VERSION"; then
    need_go
    echo "building s5cmd $S5CMD_VERSION into $TOOLS (about 20 s)" >&2
    tmp="$(mktemp -d)"
    # 'go install ...@v2.2.2' is refused (the module's version list cannot be read); a throwaway module works.
    (cd "$tmp" && go mod init tools >/dev/null 2>&1 && go get "github.com/peak/s5cmd/v2@$S5CMD_VERSION" >/dev/null 2>&1 \
      && go build -ldflags "-X=github.com/peak/s5cmd/v2/version.Version=$S5CMD_VERSION" -o "$TOOLS/s5cmd" github.com/peak/s5cmd/v2)
    rm -rf "$tmp"
    to_cache s5cmd "$S5CMD_VERSION"
  fi
fi
if [[ "$want" == all || "$want" == minio ]]; then
  if [ ! -x "$TOOLS/minio" ] && ! from_cache minio "$MINIO_VERSION"; then
    need_go
    echo "building MinIO into $TOOLS (about 2 to 6 minutes)" >&2
    GOBIN="$TOOLS" go install "github.com/minio/minio@$MINIO_VERSION"
    to_cache minio "$MINIO_VERSION"
  fi
fi
if [[ "$want" == all || "$want" == toxiproxy ]]; then
  if [ ! -x "$TOOLS/toxiproxy-server" ] && ! from_cache toxiproxy-server "$TOXIPROXY_VERSION"; then
    need_go
    echo "building Toxiproxy $TOXIPROXY_VERSION into $TOOLS" >&2
    tmp="$(mktemp -d)"
    GOBIN="$tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
    mv "$tmp/server" "$TOOLS/toxiproxy-server"
    rm -rf "$tmp"
    to_cache toxiproxy-server "$TOXIPROXY_VERSION"
  fi
fi
echo "tools ready in $TOOLS" >&2
