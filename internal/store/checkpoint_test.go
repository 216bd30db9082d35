package store

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Under a steady stream of commits, and with readers busy all the while,
// the write-ahead log still starts over once it passes the bound, instead
// of growing for as long as writes last.
func TestCheckpointRestartsTheLogUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "wal.db"))
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
	before, err := db.checkpointOnce(ctx, 64)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	close(stop)
	wg.Wait()
	after, _, err := db.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before <= 64 || after >= before {
		t.Fatalf("log of %d pages before the checkpoint, %d after: it did not start over", before, after)
	}
}
