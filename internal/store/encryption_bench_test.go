package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/memory"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// BenchmarkSQLiteEncryption compares datastores whose pages are encrypted
// (sqlcipher: the server's) with a plain one, on reads by id, searches by name and
// creates, each datastore holding benchPatients patients. The two
// alternate, operation by operation, for benchRounds rounds in one run, so
// that the machine's load falls on both alike:
//
//	go test -run '^$' -bench SQLiteEncryption ./internal/store/
//
// The read cache is off so that every read goes to SQLite's pages (its
// page cache as configured, 32 MiB a connection). Besides ns/op, each
// reports cpu-ns/op, the process's CPU time per operation, which the
// machine's other work moves far less.
func BenchmarkSQLiteEncryption(b *testing.B) {
	// sqlcipher is the server's scheme; aes256cbc (AES-256-CBC, no
	// per-page HMAC) is measured beside it.
	modes := []string{"plain", "sqlcipher", "aes256cbc"}
	if mib, _ := strconv.Atoi(os.Getenv("CLINIKAPI_BENCH_PAGE_MIB")); mib > 0 {
		store.SetSQLitePageBudget(int64(mib) << 20)
		defer store.SetSQLitePageBudget(memory.Budget(memory.DefaultBudget).SQLitePages())
	}
	if m := os.Getenv("CLINIKAPI_BENCH_MODES"); m != "" {
		modes = strings.Split(m, ",")
	}
	stores := map[string]*store.Datastore{}
	created := map[string]*atomic.Int64{}
	server := *store.SQLiteCipher
	defer func() { *store.SQLiteCipher = server }()
	for _, mode := range modes {
		var key []byte
		*store.SQLiteCipher = server
		switch mode {
		case "sqlcipher":
			key = storetest.DatastoreKey("sqlite")
		case "aes256cbc":
			key = storetest.DatastoreKey("sqlite")
			*store.SQLiteCipher = [][2]string{{"cipher", "aes256cbc"}}
		}
		d, err := store.OpenDatastore(context.Background(), "", b.TempDir(), "bench", key, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		seedBench(b, d)
		stores[mode], created[mode] = d, new(atomic.Int64)
	}
	ops := []struct {
		name string
		fn   func(d *store.Datastore, n *atomic.Int64) error
	}{
		{"read", func(d *store.Datastore, n *atomic.Int64) error {
			_, err := d.Get(context.Background(), "org_a", "Patient", fmt.Sprintf("p%06d", n.Add(7919)%benchPatients))
			return err
		}},
		{"search", func(d *store.Datastore, n *atomic.Int64) error {
			fam := benchFamilies[n.Add(1)%int64(len(benchFamilies))]
			_, _, err := d.Search(context.Background(), "org_a", datastore.Query{Type: "Patient", Limit: 20,
				Conditions: []datastore.Condition{{Param: "name", Type: fhir.String, Values: []datastore.Match{{Text: fam}}}}})
			return err
		}},
		{"create", nil},
	}
	for round := 1; round <= benchRounds; round++ {
		for _, op := range ops {
			for _, mode := range modes {
				d := stores[mode]
				b.Run(fmt.Sprintf("%s/%s/round%d", op.name, mode, round), func(b *testing.B) {
					var n atomic.Int64
					fn := op.fn
					if fn == nil { // create: ids go on across rounds
						b.SetParallelism(8) // writers queue for the one SQLite writer, batched into shared commits
						n := created[mode]
						fn = func(d *store.Datastore, _ *atomic.Int64) error {
							return d.Insert(context.Background(), "org_a", benchRecord(fmt.Sprintf("c%09d", n.Add(1)), "creates"), benchIndex("creates"))
						}
					}
					cpu := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := fn(d, &n); err != nil {
								b.Error(err)
								return
							}
						}
					})
					if op.fn == nil {
						// The log copied into the file is part of what a
						// create costs (the checkpointer does it in the
						// background): charge it here, not to the reads
						// of the next round.
						if _, err := d.SQL().ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
							b.Fatal(err)
						}
					}
					// The process's CPU time per operation: on a machine
					// shared with other work it moves far less than ns/op.
					b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// cpuTime is the CPU time the process has used, user and system, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchRounds is how many times BenchmarkSQLiteEncryption alternates.
const benchRounds = 3

const benchPatients = 20000

var benchFamilies = []string{"ashworth", "brennan", "castellano", "dubois", "eriksen", "fontaine", "gallagher", "hoffmann", "ivanova", "jovanovic"}

func benchRecord(id, family string) datastore.Record {
	return datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: time.Now().UTC(),
		Content: []byte(`{"resourceType":"Patient","id":"` + id + `","active":true,"name":[{"use":"official","family":"` + family +
			`","given":["Alex","Jordan"]}],"gender":"female","birthDate":"1984-03-12","telecom":[{"system":"phone","value":"+1 555 0100"}],` +
			`"address":[{"line":["12 Harbour Road"],"city":"Springfield","postalCode":"12345","country":"US"}]}`)}
}

func benchIndex(family string) []fhir.Value {
	return []fhir.Value{{Param: "name", Type: fhir.String, Text: family, Exact: family},
		{Param: "family", Type: fhir.String, Text: family, Exact: family},
		{Param: "given", Type: fhir.String, Text: "alex", Exact: "Alex"},
		{Param: "gender", Type: fhir.Token, Code: "female"}}
}

func seedBench(b *testing.B, d *store.Datastore) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1) - 1)
				if j >= benchPatients {
					return
				}
				fam := benchFamilies[j%len(benchFamilies)]
				if err := d.Insert(context.Background(), "org_a", benchRecord(fmt.Sprintf("p%06d", j), fam), benchIndex(fam)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
