#!/usr/bin/env bash
# The one-machine demo: a Debian image with python3 runs twice, pulled the
# legacy way and lazily, with times and downloaded bytes side by side.
# Provisions the machine first (idempotent; needs root, as the demo does).
# See scripts/demo.ts.
set -euo pipefail
project_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$project_dir"
export PATH="/usr/local/bin:$PATH"
if [ "$(id -u)" -ne 0 ]; then
  echo "the demo mounts filesystems and runs containers: run it as root (sudo npm run demo)" >&2
  exit 1
fi
bash scripts/provision.sh
exec node scripts/demo.ts "$@"
