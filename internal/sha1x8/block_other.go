//go:build !amd64 || purego

package sha1x8

// Fast says the vector kernel runs on this CPU: only on amd64 with AVX2.
var Fast = false

func blocks(h *[5][Lanes]uint32, p *[Lanes]*byte, n int) { blocksGeneric(h, p, n) }
