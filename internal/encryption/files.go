package encryption

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
)

// Files encrypts files with one data key: each file gets a key of its own
// (HMAC-SHA-256 of the data key and the file's random 32-byte salt) and is
// sealed with AES-256-GCM in chunks of ChunkSize, so it streams in both
// directions with flat memory. Each chunk's nonce is its number and
// whether it is the last, and the header is authenticated with every
// chunk: chunks cannot be reordered, dropped, or the file cut short
// without the reader failing.
//
// Format: "CLKENC01" (8 bytes), salt (32 bytes), then chunks of ChunkSize
// bytes of plaintext sealed (ChunkSize + 16 bytes each), the last one
// shorter (possibly empty: 16 bytes).
type Files struct {
	key []byte
}

// NewFiles returns file encryption under dataKey.
func NewFiles(dataKey []byte) *Files { return &Files{key: bytes.Clone(dataKey)} }

// ChunkSize is how much plaintext each sealed chunk holds.
const ChunkSize = 64 << 10

var magic = []byte("CLKENC01")

const headerSize = 8 + 32

// ErrDamaged is a file that is not whole, or not this key's.
var ErrDamaged = errors.New("encrypted file is damaged, cut short or not encrypted with this server's key")

func (f *Files) fileKey(salt []byte) []byte {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte("clinikapi-file-key\n"))
	m.Write(salt)
	return m.Sum(nil)
}

func nonce(n uint64, last bool) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b[3:11], n)
	if last {
		b[11] = 1
	}
	return b
}

// Writer encrypts what is written to it; Close seals the last chunk (it
// does not close the underlying writer).
type Writer struct {
	w      io.Writer
	header []byte
	seal   func(dst, nonce, plain, aad []byte) []byte
	buf    []byte
	out    []byte
	n      uint64
	err    error
}

// Encrypt returns a Writer encrypting into w.
func (f *Files) Encrypt(w io.Writer) (*Writer, error) {
	header := make([]byte, headerSize)
	copy(header, magic)
	if _, err := rand.Read(header[8:]); err != nil {
		return nil, err
	}
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	g := newGCM(f.fileKey(header[8:]))
	return &Writer{w: w, header: header, seal: g.Seal, buf: make([]byte, 0, ChunkSize)}, nil
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == ChunkSize && len(p) > 0 {
			// A full chunk is sealed once more data follows: the last
			// chunk is always shorter than ChunkSize.
			if w.err = w.flush(false); w.err != nil {
				return n, w.err
			}
		}
	}
	return n, nil
}

func (w *Writer) flush(last bool) error {
	w.out = w.seal(w.out[:0], nonce(w.n, last), w.buf, w.header)
	w.n++
	w.buf = w.buf[:0]
	_, err := w.w.Write(w.out)
	return err
}

// Close seals what is buffered as the last chunk.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == ChunkSize {
		if w.err = w.flush(false); w.err != nil {
			return w.err
		}
	}
	w.err = w.flush(true)
	if w.err == nil {
		w.err = errors.New("encryption: write after close")
		return nil
	}
	return w.err
}

// Reader decrypts a file Encrypt wrote.
type Reader struct {
	r      io.Reader
	header []byte
	open   func(dst, nonce, sealed, aad []byte) ([]byte, error)
	in     []byte
	plain  []byte
	n      uint64
	done   bool
}

// Decrypt returns a Reader decrypting r.
func (f *Files) Decrypt(r io.Reader) (*Reader, error) {
	header := make([]byte, headerSize)
	if _, err := io.ReadFull(r, header); err != nil || !bytes.Equal(header[:8], magic) {
		return nil, ErrDamaged
	}
	g := newGCM(f.fileKey(header[8:]))
	return &Reader{r: r, header: header, open: g.Open, in: make([]byte, ChunkSize+16)}, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.done {
			return 0, io.EOF
		}
		n, err := io.ReadFull(r.r, r.in)
		last := false
		switch {
		case err == io.ErrUnexpectedEOF:
			last = true
		case err == io.EOF:
			return 0, ErrDamaged // no last chunk: cut short
		case err != nil:
			return 0, err
		}
		plain, oerr := r.open(r.in[:0:0], nonce(r.n, last), r.in[:n], r.header)
		if oerr != nil {
			return 0, ErrDamaged
		}
		r.n++
		r.plain, r.done = plain, last
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}
