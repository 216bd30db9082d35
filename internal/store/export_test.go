package store

import "context"

// SQLiteCipher lets a benchmark compare SQLite3 Multiple Ciphers' schemes.
var SQLiteCipher = &sqliteCipher

// Healthy reports whether the sync lets the cache serve reads.
func (s *CacheSync) Healthy() bool { return s.healthy() }

// ListenerName is the application_name of the sync's listening connection.
func (s *CacheSync) ListenerName() string { return s.listenerName() }

// CacheHits counts the reads by id the datastore served from its cache.
func (d *Datastore) CacheHits() uint64 { return d.cache.hits.Load() }

// CacheLease is how long an instance serves cached reads without news.
const CacheLease = cacheLease

// OpenPostgres opens a PostgreSQL control database.
func OpenPostgres(dsn string) (*DB, error) { return openPostgres(context.Background(), dsn) }

// SQLiteCipherSHA512 is the scheme of files encrypted before HMAC-SHA256.
var SQLiteCipherSHA512 = &sqliteCipherSHA512

// SQLiteSchemeIsCurrent reports whether the encrypted file at path opens
// with the current scheme (not the one before).
func SQLiteSchemeIsCurrent(path string, key []byte) (bool, error) {
	s, err := sqliteScheme(context.Background(), path, key)
	return err == nil && len(s) == len(sqliteCipher), err
}

// HoldCreateBatches makes fn run first in every create batch (PostgreSQL),
// with the batch's size; it reports false where creates are not batched
// so (SQLite). Set it before the datastore serves creates.
func (d *Datastore) HoldCreateBatches(fn func(n int)) bool {
	if d.create == nil {
		return false
	}
	d.create.hold = fn
	return true
}

// CreateBatchPlaces is how many creates the create batches take at once.
const CreateBatchPlaces = maxCreateBatches * maxCreatesPerBatch

// MaxCreateBatches is how many create batches run at once.
const MaxCreateBatches = maxCreateBatches
