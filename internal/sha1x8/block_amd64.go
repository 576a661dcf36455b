//go:build !purego

package sha1x8

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go

// Fast says the vector kernel runs on this CPU. Without it a Digest still
// gives the right sums, one lane after the other, slower than crypto/sha1.
var Fast = cpu.X86.HasAVX2

//go:noescape
func block(h *[5][Lanes]uint32, p *[Lanes]*byte, blocks int)

func blocks(h *[5][Lanes]uint32, p *[Lanes]*byte, n int) {
	if Fast {
		block(h, p, n)
		return
	}
	blocksGeneric(h, p, n)
}
