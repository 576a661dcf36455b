package sha1x8

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// blocksGeneric is SHA-1's compression function in Go, for each lane in
// turn: where the vector kernel cannot run, and to test it.
func blocksGeneric(h *[5][Lanes]uint32, p *[Lanes]*byte, n int) {
	for j := range Lanes {
		data := unsafe.Slice(p[j], n*BlockSize)
		a, b, c, d, e := h[0][j], h[1][j], h[2][j], h[3][j], h[4][j]
		for len(data) > 0 {
			var w [16]uint32
			for i := range w {
				w[i] = binary.BigEndian.Uint32(data[4*i:])
			}
			h0, h1, h2, h3, h4 := a, b, c, d, e
			for t := range 80 {
				if t >= 16 {
					w[t&15] = bits.RotateLeft32(w[(t-3)&15]^w[(t-8)&15]^w[(t-14)&15]^w[t&15], 1)
				}
				var f, k uint32
				switch {
				case t < 20:
					f, k = d^(b&(c^d)), 0x5a827999
				case t < 40:
					f, k = b^c^d, 0x6ed9eba1
				case t < 60:
					f, k = (b&c)|(d&(b|c)), 0x8f1bbcdc
				default:
					f, k = b^c^d, 0xca62c1d6
				}
				a, b, c, d, e = bits.RotateLeft32(a, 5)+f+e+k+w[t&15], a, bits.RotateLeft32(b, 30), c, d
			}
			a, b, c, d, e = a+h0, b+h1, c+h2, d+h3, e+h4
			data = data[BlockSize:]
		}
		h[0][j], h[1][j], h[2][j], h[3][j], h[4][j] = a, b, c, d, e
	}
}
