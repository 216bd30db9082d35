package random

import (
	"strings"
	"testing"
	"time"
)

func TestSortableIDsSortByTime(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 2000 {
		id := SortableID("aud", t0.Add(time.Duration(i/4)*time.Millisecond))
		if len(id) != len(ID("aud")) || !strings.HasPrefix(id, "aud_") {
			t.Fatalf("id %q: want the shape of ID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		// Ids of a later millisecond sort after every id of an earlier one.
		if i%4 == 0 && id <= prev {
			t.Fatalf("id %q made later sorts before %q", id, prev)
		}
		prev = max(prev, id)
	}
}
