#!/usr/bin/env bash
# containerd's snapshotter test suite against stargz-agent, offline, with the Go
# sources Debian ships in /usr/share/gocode (GOPATH mode). Needs root.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gopath="$(mktemp -d)"
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/proxysuite"
cp "$here/proxy_test.go" "$gopath/src/proxysuite/"
export STARGZ_AGENT_MAIN="$here/../../src/agent/main.ts"
cd "$gopath/src/proxysuite"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS=-mod=mod GOCACHE="${GOCACHE:-/tmp/stargz-go-cache}" \
  go test -count=1 -v "$@" . 2>&1
