package store

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Under a steady stream of commits, and with readers busy all the while,
// the write-ahead log still starts over once it passes the bound, instead
// of growing for as long as writes last. The file is encrypted, as the
// datastores' are.
func TestCheckpointRestartsTheLogUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "wal.db"), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.stopCheckpoints() // the test checkpoints by itself: two at once would collide
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE id < 50`).Scan(&n); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		v := strings.Repeat("x", 3000) // about a page a commit
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.execWrite(ctx, `INSERT INTO t (v) VALUES ($1)`, v); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(400 * time.Millisecond)
	// A restart that finds a reader outlasting restartWait is tried again
	// at the next tick (on a loaded machine the readers can hold the log
	// that long): within a few ticks the log starts over.
	var before, after int
	for tick := 0; tick < 10; tick++ {
		if before, err = db.checkpointOnce(ctx, 64); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Millisecond)
		if after, _, err = db.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if before > 64 && after < before {
			break
		}
	}
	close(stop)
	wg.Wait()
	if before <= 64 || after >= before {
		t.Fatalf("log of %d pages before the last checkpoint, %d after, ten ticks in a row: it did not start over", before, after)
	}
}
