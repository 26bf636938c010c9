#!/usr/bin/env bash
# The one-machine demo. Until lazy pulling lands, it shows the format layer end
# to end: a tar of real files from this machine becomes an eStargz layer, which
# is listed, read back file by file (verified against the originals) and checked.
set -euo pipefail
project_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$project_dir"
export PATH="/usr/local/bin:$PATH"
[ -d node_modules ] || bash scripts/provision.sh

stargz() { node src/cli/main.ts "$@"; }
work="$(mktemp -d /tmp/stargz-demo-XXXXXX)"
trap 'rm -rf "$work"' EXIT

source_dir="${STARGZ_DEMO_SOURCE:-/usr/share/doc}"
echo "== packing $source_dir into a tar"
tar --format=pax -C / -cf "$work/layer.tar" "${source_dir#/}"
ls -l "$work/layer.tar" | awk '{print "   " $5 " bytes"}'

echo "== stargz layer build (chunk size 1 MiB)"
stargz layer build "$work/layer.tar" "$work/layer.esgz" --chunk-size 1048576 | tee "$work/build.json"
ls -l "$work/layer.esgz" | awk '{print "   " $5 " bytes compressed"}'

echo "== stargz layer ls (first 5 entries)"
stargz layer ls "$work/layer.esgz" | head -n 5

echo "== stargz layer cat: the first 50 regular files, compared with the originals"
count=0
while IFS= read -r name; do
  stargz layer cat "$work/layer.esgz" "$name" | cmp -s - "/$name" || { echo "MISMATCH: $name"; exit 1; }
  count=$((count + 1))
done < <(stargz layer ls "$work/layer.esgz" | node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
  for (const e of lines) if (e.type === "reg" && !e.name.endsWith("landmark")) console.log(e.name);
' | head -n 50)
echo "   $count files identical to their originals"

echo "== stargz layer verify against the TOC digest the build reported"
toc_digest="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).tocDigest)' "$work/build.json")"
stargz layer verify "$work/layer.esgz" --toc-digest "$toc_digest"

echo "== the layer is still an ordinary tar.gz"
tar -tzf "$work/layer.esgz" | tail -n 1
echo "demo finished"
