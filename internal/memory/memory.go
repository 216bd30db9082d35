// Package memory divides the process's one cache memory budget
// (CLINIKAPI_CACHE_MEMORY) between its caches, however many datastores are
// open, and describes the caches' figures for the operator metrics.
package memory

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// DefaultBudget is the least default cache memory, and the default where
// the machine's memory cannot be read.
const DefaultBudget = 256 << 20

// MaxDefaultBudget is the most the default takes, however large the
// machine: past it a deployment sets CLINIKAPI_CACHE_MEMORY itself.
const MaxDefaultBudget = 4 << 30

// Default is the cache memory of a process when nothing is set: an eighth
// of the memory it may use (its cgroup's limit, or the machine's memory),
// from DefaultBudget to MaxDefaultBudget, and never more than a quarter of
// that memory on small machines.
// It is read once.
var Default = sync.OnceValue(func() Budget { return DefaultFor(Available("/")) })

// DefaultFor is Default for a process that may use total bytes (0:
// unknown).
func DefaultFor(total int64) Budget {
	if total <= 0 {
		return DefaultBudget
	}
	b := max(total/8, DefaultBudget)
	b = min(b, total/4, MaxDefaultBudget)
	return Budget(max(b, MinBudget))
}

// Available is the memory a process under root may use, in bytes: the
// smallest of the machine's memory (/proc/meminfo) and its cgroup's limit
// (cgroup v2 memory.max, or v1 memory.limit_in_bytes); 0 when none can be
// read.
func Available(root string) int64 {
	var total int64
	if f, err := os.Open(filepath.Join(root, "proc/meminfo")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kib, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total = kib << 10
				}
			}
		}
		f.Close()
	}
	for _, p := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			continue
		}
		// "max" (v2) or a huge number (v1) means no limit.
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && n < 1<<50 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// MinBudget is the smallest budget accepted: below it the SQLite page
// caches get too few pages for an index lookup to stay in memory.
const MinBudget = 16 << 20

// Budget is the memory, in bytes, that every cache of the process shares.
// Its shares are fixed fractions, so no cache grows with the number of
// open datastores: each share is divided again among whatever uses it.
type Budget int64

// ReadCache is the share of the resources served to reads by id (one
// cache for every SQLite datastore): half.
func (b Budget) ReadCache() int64 { return int64(b) / 2 }

// SQLitePages is the share of SQLite's page caches, over every connection
// of every SQLite database of the process: three eighths.
func (b Budget) SQLitePages() int64 { return int64(b) * 3 / 8 }

// APIKeys is the share of the API key verification cache: the rest (an
// eighth).
func (b Budget) APIKeys() int64 { return int64(b) - b.ReadCache() - b.SQLitePages() }

// Stats are one cache's figures.
type Stats struct {
	Kind      string // read_cache, sqlite_page_cache, api_key_cache
	Bytes     int64  // held now (estimated for the Go caches, measured for SQLite)
	Budget    int64
	Entries   int64
	Hits      uint64
	Misses    uint64
	Evictions uint64 // entries dropped to stay within the budget
}

// ParseSize reads a size with a unit: 256MiB, 1GiB, 512KiB, or the decimal
// KB, MB, GB; a bare number is bytes.
func ParseSize(s string) (int64, error) {
	v := strings.TrimSpace(s)
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size (example: 256MiB or 1GiB)", s)
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (example: 256MiB or 1GiB)", s)
	}
	unit := strings.ToLower(strings.TrimSpace(v[i:]))
	mult := map[string]int64{
		"": 1, "b": 1,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		"k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q has an unknown unit %q (use B, KiB, MiB, GiB, KB, MB or GB)", s, v[i:])
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}
