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
// (sqlcipher: the server's) with a plain one, on reads by id, searches by
// name and creates. The modes alternate, operation by operation, for
// CLINIKAPI_BENCH_ROUNDS rounds (default 3) in one run, so that the
// machine's load falls on all alike:
//
//	go test -run '^$' -bench SQLiteEncryption ./internal/store/
//
// Reads and searches run on a datastore of benchPatients patients per mode
// that nothing writes to during the run; creates go into a datastore of
// their own per mode, with server-assigned ids, so neither the creates'
// log nor their checkpoints fall on the reads. The read cache is off (set
// CLINIKAPI_BENCH_READ_CACHE=on to measure with it), so that every read
// goes to SQLite's pages; SQLite's page caches have the process's default
// share (memory.Default), or CLINIKAPI_BENCH_PAGE_MIB. Besides ns/op, each
// reports cpu-ns/op, the process's CPU time per operation, which the
// machine's other work moves far less.
func BenchmarkSQLiteEncryption(b *testing.B) {
	// sqlcipher is the server's scheme; aes256cbc (AES-256-CBC, no
	// per-page HMAC) is measured beside it.
	modes := []string{"plain", "sqlcipher", "aes256cbc"}
	if mib, _ := strconv.Atoi(os.Getenv("CLINIKAPI_BENCH_PAGE_MIB")); mib > 0 {
		store.SetSQLitePageBudget(int64(mib) << 20)
		defer store.SetSQLitePageBudget(memory.Default().SQLitePages())
	}
	if m := os.Getenv("CLINIKAPI_BENCH_MODES"); m != "" {
		modes = strings.Split(m, ",")
	}
	rounds := 3
	if n, _ := strconv.Atoi(os.Getenv("CLINIKAPI_BENCH_ROUNDS")); n > 0 {
		rounds = n
	}
	var cache *store.ReadCache
	if os.Getenv("CLINIKAPI_BENCH_READ_CACHE") == "on" {
		cache = store.NewReadCache(memory.Default().ReadCache())
	}
	readers, writers := map[string]*store.Datastore{}, map[string]*store.Datastore{}
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
		open := func(name string) *store.Datastore {
			d, err := store.OpenDatastore(context.Background(), "", b.TempDir(), name, key, cache, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.Close() })
			return d
		}
		readers[mode], writers[mode] = open("bench"), open("creates")
		seedBench(b, readers[mode])
		// Start from a checkpointed file, as a datastore does at rest.
		if _, err := readers[mode].SQL().ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
	}
	*store.SQLiteCipher = server
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
		{"create", func(d *store.Datastore, n *atomic.Int64) error {
			fam := benchFamilies[n.Add(1)%int64(len(benchFamilies))]
			return d.Insert(context.Background(), "org_a", benchRecord(datastore.NewID("Patient", time.Now()), fam), benchIndex(fam))
		}},
	}
	for round := 1; round <= rounds; round++ {
		for _, op := range ops {
			for _, mode := range modes {
				d := readers[mode]
				if op.name == "create" {
					d = writers[mode]
				}
				b.Run(fmt.Sprintf("%s/%s/round%d", op.name, mode, round), func(b *testing.B) {
					var n atomic.Int64
					if op.name == "create" {
						b.SetParallelism(8) // writers queue for the one SQLite writer, batched into shared commits
					}
					cpu := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := op.fn(d, &n); err != nil {
								b.Error(err)
								return
							}
						}
					})
					if op.name == "create" {
						// The log copied into the file is part of what a
						// create costs (the checkpointer does it in the
						// background): charge it here.
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
