#!/usr/bin/env bash
# Installs the built package on this machine and checks what it put in
# place, then what remove, reinstall and purge each leave behind. Without
# systemd running, deb-systemd-helper still keeps the unit's enabled state
# (the multi-user.target.wants symlink and its own state file), so that is
# what is checked. Run as root after `make deb`: bash contrib/debian/test-install.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
deb=$(ls -t dist/lanseedd_*.deb | head -n1)
fail() { echo "FAIL: $*"; exit 1; }
apt() { DEBIAN_FRONTEND=noninteractive apt-get "$@" -y -qq >/dev/null; }

unit=/lib/systemd/system/lanseedd.service
wants=/etc/systemd/system/multi-user.target.wants/lanseedd.service
dsh=/var/lib/systemd/deb-systemd-helper-enabled
enabled() { [ -L "$wants" ] && [ -e "$dsh/lanseedd.service.dsh-also" ]; }
conffiles() { dpkg-query -W -f='${Conffiles}\n' lanseedd | awk 'NF { print $1 }' | sort | xargs; }

if dpkg -s lanseedd >/dev/null 2>&1; then
  fail "lanseedd is already installed here; this test would remove it"
fi
trap 'apt purge lanseedd || true' EXIT

# Install, without a warning from the maintainer scripts.
out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" 2>&1) || fail "install: $out"
if grep -i 'warning' <<<"$out" | grep -v '^W: \|apt does not have a stable CLI'; then
  fail "install printed a warning"
fi
[ "$(stat -c %a:%U:%G /var/lib/lanseedd)" = 750:lanseedd:lanseedd ] \
  || fail "/var/lib/lanseedd not 0750 lanseedd:lanseedd: $(stat -c %a:%U:%G /var/lib/lanseedd 2>&1)"
runuser -u lanseedd -- /usr/bin/lanseedd files add -config /etc/lanseedd/lanseedd.yml x.mkv >/dev/null \
  || fail "the lanseedd user cannot add a row to the embedded catalog before the first start"
/usr/bin/lanseedd version | grep -q '^lanseedd 0\.' || fail "lanseedd version: $(/usr/bin/lanseedd version)"
getent passwd lanseedd >/dev/null || fail "no lanseedd user"
getent group lanseedd >/dev/null || fail "no lanseedd group"
[ "$(id -u lanseedd)" -lt 1000 ] || fail "lanseedd is not a system user"
[ "$(stat -c %a:%G /etc/lanseedd/lanseedd.yml)" = 640:lanseedd ] \
  || fail "config not 0640 root:lanseedd: $(stat -c %a:%U:%G /etc/lanseedd/lanseedd.yml)"
[ "$(stat -c %a:%U /etc/default/lanseedd)" = 600:root ] \
  || fail "/etc/default/lanseedd not 0600 root: $(stat -c %a:%U /etc/default/lanseedd)"
[ "$(conffiles)" = "/etc/default/lanseedd /etc/lanseedd/lanseedd.yml" ] || fail "conffiles: $(conffiles)"
grep -q '^EnvironmentFile=-/etc/default/lanseedd$' "$unit" || fail "the unit does not read /etc/default/lanseedd"
grep -q '^RestartPreventExitStatus=78$' "$unit" || fail "the unit restarts on exit 78"
systemd-analyze verify "$unit" || fail "systemd-analyze verify"
runuser -u lanseedd -- /usr/bin/lanseedd check-config -config /etc/lanseedd/lanseedd.yml >/dev/null \
  || fail "the lanseedd user cannot read and validate the shipped config"
# The unit does not restart on 78: an invalid config must give 78.
echo 'log: {level: loud}' >/tmp/lanseedd-invalid.yml
rc=0; timeout 10 /usr/bin/lanseedd run -config /tmp/lanseedd-invalid.yml >/dev/null 2>&1 || rc=$?
rm -f /tmp/lanseedd-invalid.yml
[ "$rc" = 78 ] || fail "lanseedd run with an invalid config exited $rc, not 78 (EX_CONFIG)"
man -w lanseedd >/dev/null 2>&1 || fail "man page lanseedd(8) not found"
for page in lanseedd lanseedd-run; do
  zcat "/usr/share/man/man8/$page.8.gz" | grep -q '^\.TH ' || fail "$page.8.gz is not a man page"
  [ -n "$(MANWIDTH=80 man -l "/usr/share/man/man8/$page.8.gz" 2>/dev/null)" ] || fail "$page.8.gz renders empty"
done
bash -c 'source /usr/share/bash-completion/completions/lanseedd && complete -p lanseedd' >/dev/null \
  || fail "bash completion does not register lanseedd"
zcat /usr/share/doc/lanseedd/changelog.gz | head -n1 | grep -qF "lanseedd ($(dpkg-query -W -f='${Version}' lanseedd))" \
  || fail "changelog does not start with this version"
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' /usr/share/doc/lanseedd/copyright \
  || fail "copyright file is not DEP-5"
enabled || fail "unit not enabled on first install (deb-systemd-helper)"
[ "$(readlink "$wants")" = "$unit" ] || fail "$wants points to $(readlink "$wants")"
dpkg -V lanseedd || fail "dpkg -V"

# State the service would have written, to see what purge removes.
touch /var/lib/lanseedd/state

# An operator's disable survives an upgrade (here a reinstall).
systemctl disable --quiet lanseedd.service
[ ! -L "$wants" ] || fail "systemctl disable left $wants"
apt install --reinstall "./$deb"
[ ! -L "$wants" ] || fail "reinstall enabled a unit the operator disabled"
systemctl enable --quiet lanseedd.service
enabled || fail "systemctl enable"

# A plain remove keeps the conffiles, the enabled state, the user and the state.
apt remove lanseedd
[ ! -e /usr/bin/lanseedd ] || fail "binary left after remove"
[ "$(dpkg-query -W -f='${db:Status-Status}' lanseedd)" = config-files ] || fail "remove did not keep the conffiles"
[ -e /etc/default/lanseedd ] || fail "remove deleted /etc/default/lanseedd"
enabled || fail "remove dropped the enabled state"
getent passwd lanseedd >/dev/null || fail "remove deleted the user"
[ -e /var/lib/lanseedd/state ] || fail "remove deleted /var/lib/lanseedd"

# Reinstalling after a remove brings the unit back enabled.
apt install "./$deb"
enabled || fail "reinstall after remove: unit not enabled"
[ -e "$wants" ] || fail "reinstall after remove: $wants is dangling"
/usr/bin/lanseedd version >/dev/null || fail "reinstall after remove: no binary"

# Purge removes the state, the conffiles and the enabled state; the user
# and group stay, as Debian leaves system users.
apt purge lanseedd
trap - EXIT
[ ! -e /usr/bin/lanseedd ] || fail "binary left after purge"
[ ! -e /var/lib/lanseedd ] || fail "/var/lib/lanseedd left after purge"
[ ! -e /etc/lanseedd/lanseedd.yml ] && [ ! -e /etc/default/lanseedd ] || fail "conffiles left after purge"
[ ! -L "$wants" ] || fail "$wants left after purge"
[ ! -e "$dsh/lanseedd.service.dsh-also" ] || fail "deb-systemd-helper state left after purge"
getent passwd lanseedd >/dev/null || fail "purge deleted the lanseedd user"
getent group lanseedd >/dev/null || fail "purge deleted the lanseedd group"
echo "package $deb: install, checks, remove, reinstall and purge passed"
