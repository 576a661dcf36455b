package sha1x8

import (
	"bytes"
	"crypto/sha1"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// lanes returns eight different messages of n bytes each.
func lanes(rng *rand.Rand, n int) *[Lanes][]byte {
	var p [Lanes][]byte
	for j := range p {
		p[j] = make([]byte, n)
		for i := range p[j] {
			p[j][i] = byte(rng.Uint32())
		}
	}
	return &p
}

// check hashes p in writes of chunk bytes and compares every lane's sum
// with crypto/sha1's.
func check(t *testing.T, p *[Lanes][]byte, chunk int) {
	t.Helper()
	var d Digest
	d.Reset()
	n := len(p[0])
	for off := 0; off < n; off += chunk {
		var q [Lanes][]byte
		for j := range q {
			q[j] = p[j][off:min(off+chunk, n)]
		}
		d.Write(&q)
	}
	var got [Lanes][sha1.Size]byte
	d.Sum(&got)
	for j := range Lanes {
		if want := sha1.Sum(p[j]); got[j] != want {
			t.Fatalf("%d bytes in writes of %d: lane %d: %x, want %x", n, chunk, j, got[j], want)
		}
	}
}

func TestSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 64, 128, 192, 1024, 16 << 10, 1 << 20} {
		p := lanes(rng, n)
		check(t, p, max(n, BlockSize))
		check(t, p, BlockSize)
		check(t, p, 3*BlockSize)
	}
}

// TestGeneric holds the Go compression function, the one used where the
// kernel cannot run, to crypto/sha1 too.
func TestGeneric(t *testing.T) {
	if !Fast {
		t.Skip("the kernel does not run here: TestSums tested the Go function")
	}
	Fast = false
	defer func() { Fast = true }()
	TestSums(t)
}

// TestSameData gives every lane the same bytes, some of them the same
// slice, as a piece repeated in a file would.
func TestSameData(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	one := lanes(rng, 4096)[0]
	var p [Lanes][]byte
	for j := range p {
		p[j] = one
	}
	check(t, &p, 1024)
}

func TestWritePanicsOnUnevenLanes(t *testing.T) {
	for name, p := range map[string]*[Lanes][]byte{
		"not a block": lanes(rand.New(rand.NewPCG(5, 6)), 100),
		"uneven":      func() *[Lanes][]byte { p := lanes(rand.New(rand.NewPCG(5, 6)), 128); p[3] = p[3][:64]; return p }(),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Write did not panic")
				}
			}()
			var d Digest
			d.Reset()
			d.Write(p)
		})
	}
}

// The two benchmarks hash the same bytes, eight 1 MiB pieces: with the
// kernel, and one piece after the other with crypto/sha1 (with the CPU's
// SHA-1 instructions where it has them).
func BenchmarkDigest(b *testing.B) {
	p := lanes(rand.New(rand.NewPCG(7, 8)), 1<<20)
	b.SetBytes(Lanes << 20)
	var d Digest
	var out [Lanes][sha1.Size]byte
	for b.Loop() {
		d.Reset()
		d.Write(p)
		d.Sum(&out)
	}
}

func BenchmarkSHA1(b *testing.B) {
	p := lanes(rand.New(rand.NewPCG(7, 8)), 1<<20)
	b.SetBytes(Lanes << 20)
	for b.Loop() {
		for j := range p {
			sha1.Sum(p[j])
		}
	}
}

// TestGenerated: block_amd64.s is what asm_gen.go writes.
func TestGenerated(t *testing.T) {
	out := filepath.Join(t.TempDir(), "block_amd64.s")
	if b, err := exec.Command("go", "run", "asm_gen.go", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("go run asm_gen.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("block_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("block_amd64.s differs from what asm_gen.go writes: run go generate ./internal/sha1x8")
	}
}
