package store

import "context"

// SQLiteCipher lets a benchmark compare SQLite3 Multiple Ciphers' schemes.
var SQLiteCipher = &sqliteCipher

// SQLiteCipherSHA512 is the scheme of files encrypted before HMAC-SHA256.
var SQLiteCipherSHA512 = &sqliteCipherSHA512

// SQLiteSchemeIsCurrent reports whether the encrypted file at path opens
// with the current scheme (not the one before).
func SQLiteSchemeIsCurrent(path string, key []byte) (bool, error) {
	s, err := sqliteScheme(context.Background(), path, key)
	return err == nil && len(s) == len(sqliteCipher), err
}
