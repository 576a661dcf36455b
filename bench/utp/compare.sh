#!/usr/bin/env bash
# compare.sh — what uTP costs the seeder against TCP: lanseedd seeds one
# file; a libtorrent 2.0 client (Debian's python3-libtorrent) downloads it
# from the seeder, given as its only peer, over TCP only and over uTP only,
# RUNS times each, alternately, on loopback. Prints for every download the
# seconds, the rate and lanseedd's CPU time per MiB served (user + system,
# from /proc), then the medians, and which transport libtorrent picks with
# its own settings.
#
#   bench/utp/compare.sh
#   SIZE_MIB=256 RUNS=5 bench/utp/compare.sh
#
# lanseedd is built as the package builds it (CGO_ENABLED=0: anacrolix's
# pure-Go uTP). Run it from the repository root on a quiet machine: the load
# average is printed first.
set -euo pipefail

size_mib=${SIZE_MIB:-128}
runs=${RUNS:-3}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || { echo "python3-libtorrent missing: apt-get install python3-libtorrent" >&2; exit 1; }
(cd "$repo" && CGO_ENABLED=${CGO_ENABLED:-0} go build -o "$work/lanseedd" ./cmd/lanseedd)

mkdir -p "$work/content" "$work/state"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/content/data.bin"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http=$(port) tracker=$(port) admin=$(port) peer=$(port)
lsd() { "$work/lanseedd" "$@" --config /dev/null --state "$work/state" --content "$work/content"; }
"$work/lanseedd" run --config /dev/null --state "$work/state" --content "$work/content" --http 127.0.0.1:"$http" --tracker 127.0.0.1:"$tracker" --admin 127.0.0.1:"$admin" \
	--peer-port "$peer" --public-url http://127.0.0.1:"$http" --log-level warn >"$work/lanseedd.log" 2>&1 &
pid=$!
sleep 1
id=$(lsd files add data.bin | cut -f1)
for _ in $(seq 600); do
	curl -fs -o "$work/data.torrent" "http://127.0.0.1:$http/t/$id.torrent" && break
	sleep 0.2
done
[ -s "$work/data.torrent" ] || { echo "the row never became ready" >&2; cat "$work/lanseedd.log" >&2; exit 1; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   cores: $(nproc)   file: $size_mib MiB"
ticks=$(getconf CLK_TCK)
# cpu prints lanseedd's user + system CPU time in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
: >"$work/tcp" && : >"$work/utp"
for i in $(seq "$runs"); do
	for transport in tcp utp; do
		rm -rf "$work/dl" && mkdir "$work/dl"
		before=$(cpu)
		secs=$(/usr/bin/python3 "$repo/bench/utp/get.py" "$work/data.torrent" "$work/dl" "$transport" 127.0.0.1:"$peer")
		after=$(cpu)
		cmp -s "$work/dl/data.bin" "$work/content/data.bin" || { echo "$transport: the download differs from the file" >&2; exit 1; }
		ms=$(awk -v t=$((after - before)) -v hz="$ticks" -v m="$size_mib" 'BEGIN { printf "%.2f", t * 1000 / hz / m }')
		rate=$(awk -v s="$secs" -v m="$size_mib" 'BEGIN { printf "%.1f", m * 1.048576 / s }')
		printf 'run %d %s: %6.2f s  %7.1f MB/s  %6s ms CPU/MiB\n' "$i" "$transport" "$secs" "$rate" "$ms"
		echo "$secs $rate $ms" >>"$work/$transport"
	done
done
# conns prints the seeder's connections so far: TCP, then uTP.
conns() {
	curl -fs "http://127.0.0.1:$admin/api/stats" |
		/usr/bin/python3 -c 'import json, sys; s = json.load(sys.stdin)["seeder"]; print(s["connections_tcp"], s["connections_utp"])'
}
read -r tcp0 utp0 < <(conns)
rm -rf "$work/dl" && mkdir "$work/dl"
/usr/bin/python3 "$repo/bench/utp/get.py" "$work/data.torrent" "$work/dl" default 127.0.0.1:"$peer" >/dev/null
read -r tcp1 utp1 < <(conns)
echo "libtorrent with its own settings connected over: $((tcp1 - tcp0)) TCP, $((utp1 - utp0)) uTP"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for transport in tcp utp; do
	printf 'median %s: %s MB/s, %s ms CPU/MiB\n' "$transport" \
		"$(cut -d' ' -f2 "$work/$transport" | median)" "$(cut -d' ' -f3 "$work/$transport" | median)"
done
