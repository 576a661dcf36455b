// Package sha1x8 computes the SHA-1 of eight messages of the same length
// at once, one per 32-bit lane of AVX2's vector registers. Eight pieces of a
// torrent hash this way in less time than one after the other with the
// CPU's SHA-1 instructions: those run one message's rounds in sequence,
// while the vector units have room for eight (measured in the package's
// benchmarks).
package sha1x8

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// Lanes is how many messages a Digest hashes at once.
const Lanes = 8

// BlockSize is SHA-1's block size: each Write gives every lane a multiple
// of it, and so is each message's length.
const BlockSize = 64

// A Digest is the state of eight SHA-1 computations over messages of the
// same length, a multiple of BlockSize (a torrent's piece length is).
type Digest struct {
	h [5][Lanes]uint32 // word i of lane j's state in h[i][j]
	n int64            // bytes written to each lane
}

var initial = [5]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}

// Reset starts eight new messages.
func (d *Digest) Reset() {
	for i, v := range initial {
		for j := range Lanes {
			d.h[i][j] = v
		}
	}
	d.n = 0
}

// Write adds p[j] to message j. The eight slices must have the same
// length, a multiple of BlockSize.
func (d *Digest) Write(p *[Lanes][]byte) {
	n := len(p[0])
	if n%BlockSize != 0 {
		panic(fmt.Sprintf("sha1x8: write of %d bytes, not a multiple of %d", n, BlockSize))
	}
	if n == 0 {
		return
	}
	var ptr [Lanes]*byte
	for j := range Lanes {
		if len(p[j]) != n {
			panic(fmt.Sprintf("sha1x8: lane %d has %d bytes, lane 0 %d", j, len(p[j]), n))
		}
		ptr[j] = &p[j][0]
	}
	blocks(&d.h, &ptr, n/BlockSize)
	d.n += int64(n)
}

// Sum writes the eight messages' SHA-1 sums to out, in lane order, and
// resets d.
func (d *Digest) Sum(out *[Lanes][sha1.Size]byte) {
	// Every message has the same length, a multiple of the block size, so
	// every lane ends with the same block: 0x80, zeros, the length in bits.
	var pad [BlockSize]byte
	pad[0] = 0x80
	binary.BigEndian.PutUint64(pad[BlockSize-8:], uint64(d.n)*8)
	var ptr [Lanes]*byte
	for j := range Lanes {
		ptr[j] = &pad[0]
	}
	blocks(&d.h, &ptr, 1)
	for j := range Lanes {
		for i := range 5 {
			binary.BigEndian.PutUint32(out[j][4*i:], d.h[i][j])
		}
	}
	d.Reset()
}

// Faster says whether a Digest hashes eight messages in less time than
// crypto/sha1 hashes them one after the other, on this machine: the kernel
// runs (Fast), and it beat crypto/sha1 by a tenth when both were timed on
// the same 256 KiB, once per process (under a millisecond). Vector units
// differ from CPU to CPU (some split each 256-bit operation in two, some
// have quick SHA-1 instructions), so this is measured, not assumed.
func Faster() bool {
	fasterOnce.Do(func() { faster = Fast && measure() })
	return faster
}

var (
	fasterOnce sync.Once
	faster     bool
)

// measure times both ways three times each on the same bytes and compares
// their fastest runs: a run can be slowed by what it does not cause (being
// preempted), never sped up.
func measure() bool {
	const n = 32 << 10
	buf := make([]byte, Lanes*n)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var p [Lanes][]byte
	for j := range p {
		p[j] = buf[j*n : (j+1)*n]
	}
	var d Digest
	var sums [Lanes][sha1.Size]byte
	vec, one := time.Duration(1<<62), time.Duration(1<<62)
	for range 3 {
		start := time.Now()
		d.Reset()
		d.Write(&p)
		d.Sum(&sums)
		vec = min(vec, time.Since(start))
		start = time.Now()
		for j := range p {
			sums[j] = sha1.Sum(p[j])
		}
		one = min(one, time.Since(start))
	}
	return vec < one*9/10
}
