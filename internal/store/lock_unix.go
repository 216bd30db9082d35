//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockDataDir takes the lock that makes a server the only one serving the
// SQLite files of dataDir: the FHIR read cache is exact only while one
// process changes existing resources. A second server on the same
// directory gets an error instead of starting; admin commands, which only
// add data, do not take the lock. The lock goes with the process (or
// release).
func LockDataDir(dataDir string) (release func() error, err error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, "server.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another clinikapi server is using the data directory %s (stop it, or give this one its own CLINIKAPI_DATA_DIR)", dataDir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil
}
