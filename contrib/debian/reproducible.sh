#!/usr/bin/env bash
# Checks that the package is reproducible: rebuilds it from scratch
# (`make clean deb`) and compares it byte for byte with the newest
# dist/lanseedd_*.deb, which a `make deb` of the same commit built before.
# Usage, after `make deb`: bash contrib/debian/reproducible.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
first=$(ls -t dist/lanseedd_*.deb | head -n1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$first" "$tmp/first.deb"

make clean deb >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
second=$(ls -t dist/lanseedd_*.deb | head -n1)
[ "$(basename "$second")" = "$(basename "$first")" ] \
  || { echo "FAIL: the rebuild is $second, not $first"; exit 1; }
if ! cmp -s "$tmp/first.deb" "$second"; then
  echo "FAIL: two builds of $(basename "$first") differ"
  for f in first.deb second.deb; do
    mkdir "$tmp/${f%.deb}"
    [ "$f" = first.deb ] && src="$tmp/first.deb" || src="$second"
    dpkg-deb -R "$src" "$tmp/${f%.deb}"
  done
  diff -r "$tmp/first" "$tmp/second" || true
  exit 1
fi
echo "package $(basename "$second"): two builds are byte-identical"
