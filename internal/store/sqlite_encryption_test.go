package store_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// filesHolding lists the files under dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			hits = append(hits, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func insertPatient(t *testing.T, d *store.Datastore, id, family string) {
	t.Helper()
	r := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: time.Now().UTC(),
		Content: []byte(`{"resourceType":"Patient","id":"` + id + `","name":[{"family":"` + family + `"}]}`)}
	idx := []fhir.Value{{Param: "name", Type: fhir.String, Text: strings.ToLower(family), Exact: family}}
	if err := d.Insert(context.Background(), "org_a", r, idx); err != nil {
		t.Fatal(err)
	}
}

func readFamily(t *testing.T, d *store.Datastore, id, family string) {
	t.Helper()
	r, err := d.Get(context.Background(), "org_a", "Patient", id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(r.Content, []byte(family)) {
		t.Fatalf("read %s back as %s", id, r.Content)
	}
}

// TestSQLiteDatastoreEncrypted: with a data key, no file of the datastore
// (database, write-ahead log) holds a resource's text, neither while open
// nor after; it reads back with the key, another key is refused with
// ErrWrongDatastoreKey, and a plain file is encrypted in place on the
// first open with a key, saying so.
func TestSQLiteDatastoreEncrypted(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	key := storetest.DatastoreKey("sqlite")
	d, err := store.OpenDatastore(ctx, "", dir, "enc", key, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	for i, fam := range []string{"Quenbyfarrow", "Ostlemarquin", "Vantrewelly"} {
		insertPatient(t, d, "p"+string(rune('a'+i)), fam)
	}
	for _, fam := range []string{"Quenbyfarrow", "Ostlemarquin", "Vantrewelly", "quenbyfarrow"} {
		if hits := filesHolding(t, dir, fam); len(hits) > 0 {
			t.Fatalf("open: %v hold %q", hits, fam)
		}
	}
	d.Close()
	if hits := filesHolding(t, dir, "Quenbyfarrow"); len(hits) > 0 {
		t.Fatalf("closed: %v hold the name", hits)
	}
	d, err = store.OpenDatastore(ctx, "", dir, "enc", key, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	readFamily(t, d, "pa", "Quenbyfarrow")
	d.Close()

	other := storetest.DatastoreKey("sqlite")
	if _, err := store.OpenDatastore(ctx, "", dir, "enc", other, nil, log); !errors.Is(err, store.ErrWrongDatastoreKey) {
		t.Fatalf("another key: %v", err)
	}
	if _, err := store.OpenSQLite(ctx, store.DatastoreFile(dir, "enc"), nil); err == nil {
		t.Fatal("opened without a key")
	}

	// A datastore written before encryption is encrypted in place.
	plainDir := t.TempDir()
	p, err := store.OpenDatastore(ctx, "", plainDir, "old", nil, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	insertPatient(t, p, "pa", "Wemblethorpe")
	p.Close()
	if hits := filesHolding(t, plainDir, "Wemblethorpe"); len(hits) == 0 {
		t.Fatal("the plain datastore does not hold the name: the check below proves nothing")
	}
	var logged bytes.Buffer
	p, err = store.OpenDatastore(ctx, "", plainDir, "old", key, nil, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "datastore file encrypted in place") || !strings.Contains(logged.String(), "fhir-old.db") {
		t.Fatalf("logged %q", logged.String())
	}
	if strings.Contains(logged.String(), "raw:") {
		t.Fatal("the key was logged")
	}
	readFamily(t, p, "pa", "Wemblethorpe")
	insertPatient(t, p, "pb", "Yarrowdencey")
	p.Close()
	for _, fam := range []string{"Wemblethorpe", "Yarrowdencey"} {
		if hits := filesHolding(t, plainDir, fam); len(hits) > 0 {
			t.Fatalf("encrypted in place: %v hold %q", hits, fam)
		}
	}
	p, err = store.OpenDatastore(ctx, "", plainDir, "old", key, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	readFamily(t, p, "pa", "Wemblethorpe")
	readFamily(t, p, "pb", "Yarrowdencey")
}

// TestSQLiteDatastoreHMACSHA512FileKeepsOpening: a datastore file
// encrypted before pages moved to HMAC-SHA256 (SQLCipher 4's default
// HMAC-SHA512) keeps opening with its key, reads back, takes new writes
// through the log and its checkpoint, and stays sealed; another key is
// still refused.
func TestSQLiteDatastoreHMACSHA512FileKeepsOpening(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := storetest.DatastoreKey("sqlite")
	log := slog.New(slog.DiscardHandler)
	current := *store.SQLiteCipher
	*store.SQLiteCipher = *store.SQLiteCipherSHA512
	d, err := store.OpenDatastore(ctx, "", dir, "old", key, nil, log)
	if err != nil {
		*store.SQLiteCipher = current
		t.Fatal(err)
	}
	insertPatient(t, d, "p1", "Oldscheme")
	d.Close()
	*store.SQLiteCipher = current
	if cur, err := store.SQLiteSchemeIsCurrent(store.DatastoreFile(dir, "old"), key); err != nil || cur {
		t.Fatalf("the file written with HMAC-SHA512 opens with the current scheme (%v, %v)", cur, err)
	}

	d, err = store.OpenDatastore(ctx, "", dir, "old", key, nil, log)
	if err != nil {
		t.Fatalf("a file of the previous scheme does not open: %v", err)
	}
	readFamily(t, d, "p1", "Oldscheme")
	insertPatient(t, d, "p2", "Laterwrite")
	if _, err := d.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	readFamily(t, d, "p2", "Laterwrite")
	if hits := filesHolding(t, dir, "Laterwrite"); len(hits) > 0 {
		t.Fatalf("plain text in %v", hits)
	}
	d.Close()
	d, err = store.OpenDatastore(ctx, "", dir, "old", key, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	readFamily(t, d, "p1", "Oldscheme")
	readFamily(t, d, "p2", "Laterwrite")
	d.Close()
	// New files, and plain ones encrypted in place, get HMAC-SHA256.
	d, err = store.OpenDatastore(ctx, "", dir, "new", key, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	insertPatient(t, d, "p3", "Newscheme")
	d.Close()
	plain, err := store.OpenDatastore(ctx, "", dir, "plain", nil, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	insertPatient(t, plain, "p4", "Wasplain")
	plain.Close()
	for _, name := range []string{"new", "plain"} {
		if name == "plain" {
			if err := store.EncryptDatastoreFile(ctx, store.DatastoreFile(dir, name), key, log); err != nil {
				t.Fatal(err)
			}
		}
		if cur, err := store.SQLiteSchemeIsCurrent(store.DatastoreFile(dir, name), key); err != nil || !cur {
			t.Fatalf("%s: not the current scheme (%v, %v)", name, cur, err)
		}
	}
	other := bytes.Repeat([]byte{9}, 32)
	if err := store.CheckSQLiteKey(ctx, store.DatastoreFile(dir, "old"), other); !errors.Is(err, store.ErrWrongDatastoreKey) {
		t.Fatalf("another key: %v", err)
	}
}

// TestSQLitePagesCarryHMACSHA256 checks every page of a datastore file,
// after its log was copied in by a checkpoint, against SQLCipher 4's page
// format computed with Go's crypto: ciphertext, then the page's 16-byte
// IV, then HMAC-SHA256 over both and the page number (little-endian),
// keyed with PBKDF2-HMAC-SHA512(data key, salt ^ 0x3a, 2 rounds). It
// proves the pages are authenticated, that SQLite's SHA-256 (on the SHA
// extensions where the processor has them) computes SHA-256, and that the
// checkpoint's copy of encrypted frames leaves valid pages.
func TestSQLitePagesCarryHMACSHA256(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := storetest.DatastoreKey("sqlite")
	d, err := store.OpenDatastore(ctx, "", dir, "mac", key, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		insertPatient(t, d, fmt.Sprintf("p%03d", i), "Checkedpage")
	}
	if _, err := d.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	b, err := os.ReadFile(store.DatastoreFile(dir, "mac"))
	if err != nil {
		t.Fatal(err)
	}
	const pageSize, reserved = 4096, 16 + 32
	if len(b) < 10*pageSize || len(b)%pageSize != 0 {
		t.Fatalf("file of %d bytes", len(b))
	}
	macKey := pageMACKey(t, b, key)
	for pg := 1; pg <= len(b)/pageSize; pg++ {
		page := b[(pg-1)*pageSize : pg*pageSize]
		start := 0
		if pg == 1 {
			start = 16 // the salt
		}
		checkPageMAC(t, macKey, page, pg, len(b)/pageSize, start, pageSize-reserved)
	}
}

// pageMACKey is the HMAC key of an encrypted datastore file b written with
// the data key key: PBKDF2-HMAC-SHA512(key, salt ^ 0x3a, 2 rounds).
func pageMACKey(t *testing.T, b, key []byte) []byte {
	t.Helper()
	salt := bytes.Clone(b[:16])
	for i := range salt {
		salt[i] ^= 0x3a
	}
	macKey, err := pbkdf2.Key(sha512.New, string(key), salt, 2, 32)
	if err != nil {
		t.Fatal(err)
	}
	return macKey
}

// checkPageMAC fails unless page pg (from its byte start on, n bytes of
// ciphertext then the 16-byte IV) carries its HMAC-SHA256 after them.
func checkPageMAC(t *testing.T, macKey, page []byte, pg, pages, start, n int) {
	t.Helper()
	m := hmac.New(sha256.New, macKey)
	m.Write(page[start : n+16])
	m.Write([]byte{byte(pg), byte(pg >> 8), byte(pg >> 16), byte(pg >> 24)})
	if !hmac.Equal(m.Sum(nil), page[n+16:]) {
		t.Fatalf("page %d of %d: its HMAC-SHA256 does not check", pg, pages)
	}
}

// TestSQLitePagesDecryptWithGoAES decrypts every page of an encrypted
// datastore file with Go's AES-256-CBC (the data key used as it is, each
// page's IV after its ciphertext) into a plain file, which must then be a
// sound SQLite database holding every row written. Concurrent writers
// share commits of many pages, which the log encrypts four at a time with
// their cipher chains interleaved (AES-NI): this proves each such page is
// exactly what AES-256-CBC makes of it, carrying its HMAC-SHA256 (computed
// two pages at a time on SHA-NI), and that no two pages share an IV.
func TestSQLitePagesDecryptWithGoAES(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := storetest.DatastoreKey("sqlite")
	d, err := store.OpenDatastore(ctx, "", dir, "aes", key, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				insertPatient(t, d, fmt.Sprintf("w%02d-%03d", w, i), fmt.Sprintf("Family%03d", (w*each+i)%97))
			}
		}()
	}
	wg.Wait()
	if _, err := d.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	// Closing copies the whole log into the file, even when the
	// background checkpointer held the log at the checkpoint just made.
	if _, err := os.Stat(store.DatastoreFile(dir, "aes") + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the write-ahead log is still there after closing: %v", err)
	}
	b, err := os.ReadFile(store.DatastoreFile(dir, "aes"))
	if err != nil {
		t.Fatal(err)
	}
	const pageSize, reserved = 4096, 16 + 32
	n := pageSize - reserved
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	macKey := pageMACKey(t, b, key)
	plain := make([]byte, len(b))
	ivs := map[string]int{}
	for pg := 1; pg <= len(b)/pageSize; pg++ {
		page, out := b[(pg-1)*pageSize:pg*pageSize], plain[(pg-1)*pageSize:pg*pageSize]
		start := 0
		if pg == 1 {
			start = 16 // the salt, where the plain file has its magic string
			copy(out, "SQLite format 3\x00")
		}
		checkPageMAC(t, macKey, page, pg, len(b)/pageSize, start, n)
		iv := page[n : n+16]
		if other, seen := ivs[string(iv)]; seen {
			t.Fatalf("pages %d and %d have the same IV", other, pg)
		}
		ivs[string(iv)] = pg
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out[start:n], page[start:n])
		copy(out[n:], page[n:])
	}
	path := filepath.Join(t.TempDir(), "plain.db")
	if err := os.WriteFile(path, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("the file decrypted with Go's AES: integrity_check %q, %v", check, err)
	}
	var rows, named int
	if err := db.QueryRow("SELECT COUNT(*), COUNT(CASE WHEN content LIKE '%Family%' THEN 1 END) FROM resources").Scan(&rows, &named); err != nil {
		t.Fatal(err)
	}
	if rows != writers*each || named != rows {
		t.Fatalf("the file decrypted with Go's AES holds %d resources (%d with their name), want %d", rows, named, writers*each)
	}
	t.Logf("%d pages decrypted, %d distinct IVs", len(b)/pageSize, len(ivs))
}
