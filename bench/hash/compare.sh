#!/bin/sh
# compare.sh — hashing throughput of `lanseedd create` against `mktorrent`,
# side by side in one run, on the same file from a warm page cache with the
# same piece length and thread count.
#
#   bench/hash/compare.sh [FILE]
#
# Without FILE a file of SIZE_MIB (1024) MiB of random bytes is made in a
# temporary directory. RUNS (5) alternating runs of each; the best and the
# median of each are printed, then the ratio of the medians. The two
# infohashes must be the same, or the script fails.
# FROM_DISK=1 drops the file from the page cache and reads it back before
# the runs (how the kernel caches a file read from disk differs from how
# it caches one just written, and the cost of mapping it does too).
# THREADS (number of cores) goes to both tools; PIECE_EXP (20: 1 MiB) is
# mktorrent's -l. Needs mktorrent (Debian package mktorrent), Go and python3.
# Run it on a quiet machine: the load average is printed first.
set -eu

runs=${RUNS:-5}
size_mib=${SIZE_MIB:-1024}
threads=${THREADS:-$(nproc)}
piece_exp=${PIECE_EXP:-20}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

command -v mktorrent >/dev/null || { echo "mktorrent not found: apt-get install mktorrent" >&2; exit 1; }
# Built as the Makefile builds the binary that ships.
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/lanseedd" ./cmd/lanseedd)

file=${1:-}
if [ -z "$file" ]; then
	file=$work/data.bin
	head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$file"
fi
bytes=$(stat -c %s "$file")
if [ "${FROM_DISK:-0}" = 1 ]; then
	# Out of the page cache, then read back: the cache then holds the file
	# as read from disk (in large folios) rather than as written.
	sync "$file"
	dd if="$file" iflag=nocache count=0 status=none
fi
cat "$file" >/dev/null # into the page cache

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   cores: $(nproc)   threads: $threads"
echo "file: $file ($bytes bytes), piece length 2^$piece_exp"

now() { date +%s.%N; }
# seconds CMD... — runs CMD, prints its wall time in seconds
seconds() {
	t0=$(now)
	"$@" >/dev/null 2>&1
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}

: >"$work/mk.times"
: >"$work/ours.times"
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	rm -f "$work/mk.torrent" "$work/ours.torrent"
	mk=$(seconds mktorrent -t "$threads" -l "$piece_exp" -d -a http://bench/announce -o "$work/mk.torrent" "$file")
	ours=$(seconds "$work/lanseedd" create -workers "$threads" -piece-length "$piece_exp" -no-date \
		-announce http://bench/announce -o "$work/ours.torrent" "$file")
	printf 'run %d: mktorrent %.3f s (%.2f GB/s)   lanseedd %.3f s (%.2f GB/s)\n' "$i" \
		"$mk" "$(echo "$bytes / $mk / 1000000000" | bc -l)" "$ours" "$(echo "$bytes / $ours / 1000000000" | bc -l)"
	echo "$mk" >>"$work/mk.times"
	echo "$ours" >>"$work/ours.times"
done

# infohash FILE — prints the SHA-1 of the bencoded info dictionary of a
# .torrent, taken byte for byte as written.
infohash() {
	python3 - "$1" <<'EOF'
import hashlib, sys

b = open(sys.argv[1], "rb").read()

def end(i):  # the index just past the bencoded value that starts at i
    c = b[i:i + 1]
    if c == b"i":
        return b.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while b[i:i + 1] != b"e":
            i = end(i)
        return i + 1
    colon = b.index(b":", i)
    return colon + 1 + int(b[i:colon])

i = 1
while b[i:i + 1] != b"e":
    key_end = end(i)
    value_end = end(key_end)
    if b[b.index(b":", i) + 1:key_end] == b"info":
        print(hashlib.sha1(b[key_end:value_end]).hexdigest())
        break
    i = value_end
EOF
}
mk_ih=$(infohash "$work/mk.torrent")
ours_ih=$(infohash "$work/ours.torrent")
echo "infohash: mktorrent $mk_ih   lanseedd $ours_ih"
if [ -z "$mk_ih" ] || [ "$mk_ih" != "$ours_ih" ]; then
	echo "the infohashes differ" >&2
	exit 1
fi

median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
best() { sort -n "$1" | head -1; }
mk_med=$(median "$work/mk.times")
ours_med=$(median "$work/ours.times")
printf 'mktorrent -t %s: median %.2f GB/s, best %.2f GB/s\n' "$threads" \
	"$(echo "$bytes / $mk_med / 1000000000" | bc -l)" "$(echo "$bytes / $(best "$work/mk.times") / 1000000000" | bc -l)"
printf 'lanseedd create: median %.2f GB/s, best %.2f GB/s\n' \
	"$(echo "$bytes / $ours_med / 1000000000" | bc -l)" "$(echo "$bytes / $(best "$work/ours.times") / 1000000000" | bc -l)"
printf 'ratio (lanseedd / mktorrent, medians): %.2f\n' "$(echo "$mk_med / $ours_med" | bc -l)"
