//go:build !unix

package store

// LockDataDir is a no-op where flock(2) does not exist; run one server
// per data directory there.
func LockDataDir(dataDir string) (release func() error, err error) {
	return func() error { return nil }, nil
}
