#!/bin/sh
# check.sh: lint lanseedd's metrics and alert rules with promtool.
#
# Builds lanseedd, starts it on the embedded SQLite catalog in a temporary
# directory, scrapes the admin listener's /metrics, and runs
#   promtool check metrics   (on the scrape)
#   promtool check rules     (lanseedd-alerts.yml)
#   promtool test rules      (lanseedd-alerts.test.yml)
# and checks that every metric the rules and ../grafana/lanseedd.json name
# is in the scrape. Exits non-zero on any problem.
#
# promtool is taken from $PROMTOOL or PATH; failing both, it is extracted
# from Debian's prometheus package (apt-get download, no server installed or
# started). ADMIN (default 127.0.0.1:18081) is the admin address to use; GO
# the go command.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
admin=${ADMIN:-127.0.0.1:18081}
tmp=$(mktemp -d)
pid=

cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "check.sh: $*" >&2
	exit 1
}

# promtool: given, on PATH, or from the Debian package.
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [ -z "$promtool" ]; then
	echo "check.sh: promtool not on PATH; extracting it from Debian's prometheus package" >&2
	mkdir "$tmp/deb"
	if ! (cd "$tmp/deb" && apt-get download prometheus >/dev/null 2>&1); then
		# The package lists may be missing (a fresh container): refresh them.
		apt-get update >/dev/null 2>&1 || fail "apt-get update failed (run as root, or set PROMTOOL)"
		(cd "$tmp/deb" && apt-get download prometheus >/dev/null 2>&1) || fail "apt-get download prometheus failed"
	fi
	dpkg -x "$tmp"/deb/prometheus_*.deb "$tmp/deb/x" || fail "cannot extract the prometheus package"
	promtool=$tmp/deb/x/usr/bin/promtool
fi
[ -x "$promtool" ] || fail "promtool $promtool is not executable"

go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
(cd "$repo" && "$go" build -o "$tmp/lanseedd" ./cmd/lanseedd) || fail "go build failed"

mkdir "$tmp/state" "$tmp/content"
"$tmp/lanseedd" run -state "$tmp/state" -content "$tmp/content" \
	-http 127.0.0.1:0 -tracker 127.0.0.1:0 -admin "$admin" -peer-port 0 \
	-public-url http://127.0.0.1 >"$tmp/daemon.log" 2>&1 &
pid=$!

# Wait for the admin listener; the daemon exits early if the port is taken.
i=0
until curl -fsS "http://$admin/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if ! kill -0 "$pid" 2>/dev/null || [ "$i" -gt 300 ]; then
		cat "$tmp/daemon.log" >&2
		fail "the daemon did not come up on $admin"
	fi
	sleep 0.1
done
curl -fsS "http://$admin/metrics" >"$tmp/metrics" || fail "GET /metrics failed"
grep -q '^lanseedd_build_info{' "$tmp/metrics" || fail "/metrics lacks lanseedd_build_info"

status=0
echo "== promtool check metrics"
"$promtool" check metrics <"$tmp/metrics" || status=1
echo "== promtool check rules"
"$promtool" check rules "$here/lanseedd-alerts.yml" || status=1
echo "== promtool test rules"
(cd "$here" && "$promtool" test rules lanseedd-alerts.test.yml) || status=1

echo "== metrics named by the rules and the dashboard"
names=$(grep -ohE '\b(lanseedd|process|go)_[a-z_]+' "$here/lanseedd-alerts.yml" "$here/../grafana/lanseedd.json" | sort -u)
for name in $names; do
	if ! grep -q "^# TYPE $name " "$tmp/metrics"; then
		echo "$name: not in /metrics" >&2
		status=1
	fi
done
echo "$(echo "$names" | wc -l) names checked"

kill "$pid"
wait "$pid" || fail "the daemon exited with an error on SIGTERM: $(tail -5 "$tmp/daemon.log")"
pid=
[ "$status" -eq 0 ] || fail "promtool found problems"
echo "check.sh: ok"
