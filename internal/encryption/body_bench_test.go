package encryption

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkBodyGCM is what encrypting each PostgreSQL resource body with
// AES-256-GCM would cost per body, sealed on write and opened on every
// read and for every search match (README, "Encryption at rest",
// PostgreSQL): 1 KiB is a typical Patient, 16 KiB a large resource.
func BenchmarkBodyGCM(b *testing.B) {
	g := newGCM(bytes.Repeat([]byte{7}, KeySize))
	for _, size := range []int{1 << 10, 16 << 10} {
		body := make([]byte, size)
		rand.Read(body)
		nonce := make([]byte, g.NonceSize())
		sealed := g.Seal(nil, nonce, body, nil)
		b.Run(fmt.Sprintf("seal/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			out := make([]byte, 0, len(sealed))
			for b.Loop() {
				out = g.Seal(out[:0], nonce, body, nil)
			}
		})
		b.Run(fmt.Sprintf("open/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			out := make([]byte, 0, size)
			for b.Loop() {
				var err error
				if out, err = g.Open(out[:0], nonce, sealed, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
