#!/usr/bin/env bash
# Runs lintian on the newest dist/lanseedd_*.deb (after `make deb`). Fails on
# any error, on an override that no longer matches anything, and on an
# override without a comment saying why; prints warnings and the rest.
# Usage: bash contrib/debian/lint.sh [package.deb]
set -euo pipefail
cd "$(dirname "$0")/../.."
deb=${1:-$(ls -t dist/lanseedd_*.deb | head -n1)}
status=0

# Every override line needs a comment line right above it (lintian shows
# that comment next to the overridden tag). Read the file from the package,
# which is what lintian reads too.
overrides=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/lintian/overrides/lanseedd)
if ! awk '
  /^[ \t]*$/ { commented = 0; next }
  /^#/ { commented = 1; next }
  !commented { print "override without a comment: " $0; bad = 1 }
  { commented = 0 }
  END { exit bad }' <<<"$overrides"; then
  status=1
fi

# --fail-on none: this script decides what fails, from the tags shown.
out=$(lintian --fail-on none --display-info --pedantic --show-overrides "$deb" 2>&1 |
  grep -v '^running with root privileges is not recommended!$' || true)
echo "lintian $(lintian --print-version) on $deb:"
echo "${out:-(no tags)}"

errors=$(grep -c '^E: ' <<<"$out" || true)
warnings=$(grep -c '^W: ' <<<"$out" || true)
overridden=$(grep -c '^O: ' <<<"$out" || true)
stale=$(grep -cE '^I: .* (unused-override|mismatched-override) ' <<<"$out" || true)
echo "lintian: $errors errors, $warnings warnings, $overridden overridden, $stale stale overrides"
if [ "$errors" -gt 0 ] || [ "$stale" -gt 0 ]; then
  status=1
fi
exit $status
