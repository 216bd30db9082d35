package encryption

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

// TestFilesRoundTripAndTamper: files of every size around the chunk
// boundaries read back whole; a flipped byte, a dropped or swapped chunk, a
// cut-off end and another key's file are refused.
func TestFilesRoundTripAndTamper(t *testing.T) {
	f := NewFiles(bytes.Repeat([]byte{7}, KeySize))
	seal := func(plain []byte) []byte {
		var b bytes.Buffer
		w, err := f.Encrypt(&b)
		if err != nil {
			t.Fatal(err)
		}
		// Odd-sized writes cross chunk boundaries.
		for p := plain; len(p) > 0; {
			n := min(len(p), 7777)
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	open := func(g *Files, sealed []byte) ([]byte, error) {
		r, err := g.Decrypt(bytes.NewReader(sealed))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 5} {
		plain := make([]byte, size)
		rand.Read(plain)
		sealed := seal(plain)
		got, err := open(f, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: read back %d bytes, err %v", size, len(got), err)
		}
		// 16 random bytes turn up in a sealed file by chance with odds
		// of about 2^-128; one byte would, often.
		if size >= 16 && bytes.Contains(sealed, plain[:16]) {
			t.Fatalf("size %d: plaintext shows in the file", size)
		}
	}
	plain := bytes.Repeat([]byte("Quentin Zebra\n"), 3*ChunkSize/14)
	sealed := seal(plain)
	chunk := ChunkSize + 16
	flipped := bytes.Clone(sealed)
	flipped[headerSize+chunk+10] ^= 1
	dropped := append(bytes.Clone(sealed[:headerSize+chunk]), sealed[headerSize+2*chunk:]...)
	swapped := append(append(bytes.Clone(sealed[:headerSize]), sealed[headerSize+chunk:headerSize+2*chunk]...), sealed[headerSize:headerSize+chunk]...)
	swapped = append(swapped, sealed[headerSize+2*chunk:]...)
	cut := sealed[:headerSize+2*chunk]
	other := NewFiles(bytes.Repeat([]byte{8}, KeySize))
	for name, c := range map[string]struct {
		g *Files
		b []byte
	}{"flipped": {f, flipped}, "dropped": {f, dropped}, "swapped": {f, swapped}, "cut": {f, cut}, "other key": {other, sealed}, "plain text": {f, plain}} {
		if _, err := open(c.g, c.b); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: err %v, want ErrDamaged", name, err)
		}
	}
}

// TestWrapUnwrap: a wrapped data key opens with its master key and name
// only; another key is told apart as a wrong key.
func TestWrapUnwrap(t *testing.T) {
	m, other := NewKey(), NewKey()
	dk := bytes.Repeat([]byte{3}, KeySize)
	w := m.Wrap("datakey:files", dk)
	if got, err := m.Unwrap("datakey:files", w); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("unwrap: %v", err)
	}
	var wrong *WrongKeyError
	if _, err := other.Unwrap("datakey:files", w); !errors.As(err, &wrong) || wrong.Undecryptable {
		t.Fatalf("other key: %v, want a wrong-key error", err)
	}
	if _, err := m.Unwrap("datakey:other", w); !errors.As(err, &wrong) || !wrong.Undecryptable {
		t.Fatalf("moved to another name: %v, want it refused", err)
	}
	if k, err := ParseKey(m.String()); err != nil || k != m {
		t.Fatalf("parse its own text: %v", err)
	}
	if _, err := ParseKey("too short"); err == nil {
		t.Fatal("a short key parsed")
	}
}
