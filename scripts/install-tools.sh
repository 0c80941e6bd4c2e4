#!/usr/bin/env bash
# Installs the real components dualsync drives and tests against into .tools/ (git-ignored,
# reused when present): s5cmd 2.3.0 with one small patch (scripts/s5cmd-no-head.patch), MinIO,
# Toxiproxy 2.12. Everything builds from the Go module proxy; Go itself must be installed. Built
# binaries are also kept in a per-user cache (~/.cache/dualsync/tools) so that a fresh clone on
# the same machine does not rebuild them.
#   usage: scripts/install-tools.sh [all|s5cmd|s5cmd-stock|minio|toxiproxy]
# `s5cmd-stock` also builds the unpatched s5cmd as .tools/s5cmd-stock (only the test that shows
# what the patch saves uses it; `all` builds it too).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${DUALSYNC_TOOLS:-$root/.tools}"
CACHE="${DUALSYNC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dualsync/tools}"
S5CMD_VERSION=v2.3.0
# The patch that stops s5cmd from making a HEAD before every download (see the file). Its
# digest is pinned: a changed patch must come with a new S5CMD_BUILD, so that no build of the old
# patch (in .tools/ or the cache) is taken for the new one.
S5CMD_PATCH="$root/scripts/s5cmd-no-head.patch"
S5CMD_PATCH_SHA256=65e17c0bbef434666e7137fd9d6fd0c1b4e8084d11472fda8f2c7754fc8f526b
S5CMD_BUILD="$S5CMD_VERSION+nohead.1"
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

# build_s5cmd OUT VERSION_STRING [PATCH]: builds s5cmd $S5CMD_VERSION from the module proxy into
# OUT, with PATCH applied to a copy of the module's source when given. The build happens in a
# throwaway module ('go install ...@v2.3.0' is refused: the module's version list cannot be
# read) whose go.mod replaces s5cmd by the patched copy, so the binary's build information still
# names github.com/peak/s5cmd/v2 v2.3.0 and the modules it was built with (scripts/release.ts
# reads their licences from there). -trimpath keeps the throwaway folder's name out of the binary.
build_s5cmd() {
  local out="$1" version="$2" patch_file="${3:-}" tmp
  tmp="$(mktemp -d)"
  (
    set -e
    cd "$tmp"
    go mod init tools >/dev/null 2>&1
    go get "github.com/peak/s5cmd/v2@$S5CMD_VERSION" >/dev/null 2>&1
    if [ -n "$patch_file" ]; then
      cp -R "$(go list -m -f '{{.Dir}}' github.com/peak/s5cmd/v2)" s5cmd-src
      chmod -R u+w s5cmd-src
      (cd s5cmd-src && patch -p1 --quiet --forward --no-backup-if-mismatch <"$patch_file")
      go mod edit -replace github.com/peak/s5cmd/v2=./s5cmd-src
    fi
    go build -trimpath -ldflags "-X=github.com/peak/s5cmd/v2/version.Version=$version" -o "$out.tmp" github.com/peak/s5cmd/v2
  ) || { rm -rf "$tmp" "$out.tmp"; echo "dualsync: building s5cmd $version failed: the Go module proxy must be reachable and the patch must apply (see above)" >&2; exit 1; }
  rm -rf "$tmp"
  mv -f "$out.tmp" "$out"
}

# has_version BINARY VERSION: whether BINARY exists and `BINARY version` names VERSION exactly.
has_version() {
  [ -x "$1" ] && "$1" version 2>/dev/null | grep -qxF -- "$2-dev"
}

if [[ "$want" == all || "$want" == s5cmd ]]; then
  if ! has_version "$TOOLS/s5cmd" "$S5CMD_BUILD" && ! from_cache s5cmd "$S5CMD_BUILD"; then
    need_go
    actual="$(sha256sum "$S5CMD_PATCH" | cut -d' ' -f1)"
    if [ "$actual" != "$S5CMD_PATCH_SHA256" ]; then
      echo "dualsync: $S5CMD_PATCH has sha256 $actual, not the pinned $S5CMD_PATCH_SHA256: restore it, or pin the new digest with a new S5CMD_BUILD in scripts/install-tools.sh" >&2
      exit 1
    fi
    echo "building s5cmd $S5CMD_BUILD into $TOOLS (about 20 s)" >&2
    build_s5cmd "$TOOLS/s5cmd" "$S5CMD_BUILD" "$S5CMD_PATCH"
    to_cache s5cmd "$S5CMD_BUILD"
  fi
fi
if [[ "$want" == all || "$want" == s5cmd-stock ]]; then
  if ! has_version "$TOOLS/s5cmd-stock" "$S5CMD_VERSION" && ! from_cache s5cmd-stock "$S5CMD_VERSION"; then
    need_go
    echo "building the unpatched s5cmd $S5CMD_VERSION into $TOOLS/s5cmd-stock (about 20 s)" >&2
    build_s5cmd "$TOOLS/s5cmd-stock" "$S5CMD_VERSION"
    to_cache s5cmd-stock "$S5CMD_VERSION"
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
