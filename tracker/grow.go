package tracker

import (
	"sort"
	"unsafe"
)

// sizeClasses are the Go allocator's small object sizes. Growing a peer
// slice to exactly a size class wastes no memory to rounding, and growing by
// about an eighth (instead of append's doubling) keeps a swarm's slice at
// most ~12% larger than its peers.
var sizeClasses = [...]int{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
	6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
	20480, 21760, 24576, 27264, 28672, 32768,
}

// roundAlloc returns the number of bytes the allocator hands out for a
// request of n bytes.
func roundAlloc(n int) int {
	if n <= sizeClasses[len(sizeClasses)-1] {
		return sizeClasses[sort.SearchInts(sizeClasses[:], n)]
	}
	const page = 8192
	return (n + page - 1) &^ (page - 1)
}

// insertAt inserts e at index i of v, growing it with growFor.
func insertAt[T any](v []T, i int, e T) []T {
	v = growFor(v, 1)
	v = v[:len(v)+1]
	copy(v[i+1:], v[i:])
	v[i] = e
	return v
}

// growFor returns v with room for extra more elements, reallocating by about
// an eighth when it is full.
func growFor[T any](v []T, extra int) []T {
	need := len(v) + extra
	if need <= cap(v) {
		return v
	}
	size := int(unsafe.Sizeof(*new(T)))
	want := need + len(v)/8
	c := roundAlloc(want*size) / size
	nv := make([]T, len(v), c)
	copy(nv, v)
	return nv
}

// shrink reallocates v when it uses less than half of its capacity, so that
// memory held by swarms that lost their peers is given back.
func shrink[T any](v []T) []T {
	if len(v) == 0 {
		return nil
	}
	if cap(v) <= 4 || len(v) > cap(v)/2 {
		return v
	}
	size := int(unsafe.Sizeof(*new(T)))
	nv := make([]T, len(v), roundAlloc(len(v)*size)/size)
	copy(nv, v)
	return nv
}
