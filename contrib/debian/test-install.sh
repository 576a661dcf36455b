#!/usr/bin/env bash
# Installs the built package on this machine, checks what it put in place,
# then purges it. Run as root after `make deb`: bash contrib/debian/test-install.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
deb=$(ls -t dist/lanseedd_*.deb | head -n1)
fail() { echo "FAIL: $*"; exit 1; }

if dpkg -s lanseedd >/dev/null 2>&1; then
  fail "lanseedd is already installed here; this test would remove it"
fi
trap 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq lanseedd >/dev/null 2>&1 || true' EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
/usr/bin/lanseedd version | grep -q '^lanseedd 0\.' || fail "lanseedd version: $(/usr/bin/lanseedd version)"
getent passwd lanseedd >/dev/null || fail "no lanseedd user"
[ "$(stat -c %G /etc/lanseedd/lanseedd.yml)" = lanseedd ] || fail "config not readable by the lanseedd group"
systemd-analyze verify /lib/systemd/system/lanseedd.service || fail "systemd-analyze verify"
runuser -u lanseedd -- /usr/bin/lanseedd check-config -config /etc/lanseedd/lanseedd.yml >/dev/null \
  || fail "the lanseedd user cannot read and validate the shipped config"
dpkg -V lanseedd || fail "dpkg -V"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq lanseedd >/dev/null
trap - EXIT
[ ! -e /usr/bin/lanseedd ] || fail "binary left after purge"
! getent passwd lanseedd >/dev/null || fail "user left after purge"
echo "package $deb: install, checks and purge passed"
