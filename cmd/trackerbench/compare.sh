#!/usr/bin/env bash
# compare.sh runs opentracker and `lanseedd tracker` side by side on
# loopback, each pinned to core 0, with trackerbench on core 1, and prints
# UDP and HTTP announces per second and resident memory per peer for both.
#
#   cmd/trackerbench/compare.sh            # full run (~2.5 minutes)
#   DURATION=3s cmd/trackerbench/compare.sh
#
# Needs Debian's opentracker (apt-get install opentracker), taskset, and two
# cores. Run it from the repository root.
set -euo pipefail

DURATION=${DURATION:-10s}
OT_PORT=${OT_PORT:-16970}
OUR_PORT=${OUR_PORT:-16969}
SWARMS_MAX=100000

command -v opentracker >/dev/null || { echo "opentracker missing: apt-get install opentracker" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset missing (util-linux)" >&2; exit 1; }

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/lanseedd" ./cmd/lanseedd
go build -o "$work/trackerbench" ./cmd/trackerbench
bench() { taskset -c 1 "$work/trackerbench" -q "$@"; }

# Debian's opentracker serves only whitelisted infohashes; it chroots to
# -d, so the whitelist path is relative to that directory.
bench -swarms $SWARMS_MAX -write-whitelist "$work/whitelist.txt"
chmod 644 "$work/whitelist.txt"

start_ot() {
	taskset -c 0 opentracker -i 127.0.0.1 -p $OT_PORT -P $OT_PORT -u nobody -d "$work" -w /whitelist.txt >"$work/ot.log" 2>&1 &
	ot=$!
	pids+=("$ot")
}
start_ours() {
	taskset -c 0 "$work/lanseedd" tracker -listen 127.0.0.1:$OUR_PORT -udp-sockets 1 >"$work/ours.log" 2>&1 &
	ours=$!
	pids+=("$ours")
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
wait_up() { sleep 1.5; }

cpu() { sed -n 's/.*(\([0-9]*\)% of one core).*/\1/p' | head -1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -1; }
# ratio prints lanseedd's figure over opentracker's.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }'; }

printf '%-44s %14s %14s %7s\n' "" "opentracker" "lanseedd" "ratio"
row() { printf '%-44s %14s %14s %7s\n' "$1" "$2" "$3" "$4"; }

# Memory first, on fresh processes: 1,000,000 peers in 100,000 swarms.
start_ot; start_ours; wait_up
ot_mem=$(bench -target 127.0.0.1:$OT_PORT -proto udp -swarms $SWARMS_MAX -peers 10 -fill -rss-pid "$ot" | field 'bytes\/peer')
our_mem=$(bench -target 127.0.0.1:$OUR_PORT -proto udp -swarms $SWARMS_MAX -peers 10 -fill -rss-pid "$ours" | field 'bytes\/peer')
row "RSS bytes/peer, 1M peers in 100k swarms" "$ot_mem" "$our_mem" "$(ratio "$ot_mem" "$our_mem")"
stop "$ot"; stop "$ours"

start_ot; start_ours; wait_up
run() { # label, extra args for both, extra args for ours only
	local label=$1 args=$2 ourargs=${3:-}
	local a b oa ob
	oa=$(bench -target 127.0.0.1:$OT_PORT -cpu-pid "$ot" -duration "$DURATION" $args)
	sleep 1
	ob=$(bench -target 127.0.0.1:$OUR_PORT -cpu-pid "$ours" -duration "$DURATION" $args $ourargs)
	sleep 1
	printf 'opentracker %s\nlanseedd    %s\n' "$oa" "$ob" | tr -s '\n' >>"$work/raw"
	a=$(field 'replies\/s' <<<"$oa")
	b=$(field 'replies\/s' <<<"$ob")
	row "$label" "$a/s" "$b/s" "$(ratio "$a" "$b")"
	# How busy each tracker's core was: below ~95% the generator, not the
	# tracker, set the pace, and replies per CPU-second compare better.
	row "  tracker CPU" "$(cpu <<<"$oa")%" "$(cpu <<<"$ob")%" ""
	a=$(field 'replies\/cpu-s' <<<"$oa")
	b=$(field 'replies\/cpu-s' <<<"$ob")
	row "  replies per CPU-second" "$a" "$b" "$(ratio "$a" "$b")"
}
run "UDP announces, 10k swarms" "-proto udp -swarms 10000"
run "UDP announces, 100k swarms" "-proto udp -swarms 100000"
run "HTTP announces, no keep-alive" "-proto http -swarms 10000"
run "HTTP, ours keep-alive vs theirs without" "-proto http -swarms 10000" "-keepalive"
echo
echo "trackerbench output (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
cat "$work/raw"
