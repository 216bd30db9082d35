package store_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/usage"
)

// TestUsageAndDisclosureBatchesRoundTrip writes a flush's worth of usage
// records and disclosures in one call each — more rows than one multi-row
// INSERT takes on SQLite; one COPY on PostgreSQL — and reads every field
// of every row back as written.
func TestUsageAndDisclosureBatchesRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		at := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
		var rs []usage.Record
		for i := range 1234 {
			rs = append(rs, usage.Record{Time: at.Add(time.Duration(i) * time.Millisecond), OrgID: fmt.Sprint("org_", i%3), KeyID: fmt.Sprint("key_", i%7),
				Env: []string{"test", "live"}[i%2], Method: "GET", Route: "/v1/fhir/:type/:id", Status: 200 + i%400, Latency: time.Duration(i) * 1500 * time.Microsecond,
				BytesIn: int64(i) << 33, BytesOut: int64(i) * 7, RequestID: fmt.Sprint("req_", i), Code: []string{"", "NOT_FOUND"}[i%2],
				ResourceType: "Patient", ClientIP: "127.0.0.1", UAFamily: "curl — ünïcode"})
		}
		if err := db.InsertUsage(ctx, rs); err != nil {
			t.Fatal(err)
		}
		var got []usage.Record
		for org := range 3 {
			f := analytics.LogFilter{OrgID: fmt.Sprint("org_", org), Limit: 2000}
			list, err := db.ListUsage(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, list...)
		}
		if len(got) != len(rs) {
			t.Fatalf("read back %d usage records, wrote %d", len(got), len(rs))
		}
		slices.SortFunc(got, func(a, b usage.Record) int { return a.Time.Compare(b.Time) })
		for i, g := range got {
			w := rs[i]
			w.ID, w.Time = g.ID, w.Time.UTC().Truncate(time.Microsecond)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("usage record %d:\n got %+v\nwant %+v", i, g, w)
			}
		}

		var ds []disclosure.Disclosure
		for i := range 450 {
			ds = append(ds, disclosure.Disclosure{OrgID: "org_1", PatientID: fmt.Sprint("pt_", i%5), At: at.Add(time.Duration(i) * time.Second), Env: "live",
				ActorType: "api_key", ActorID: "key_1", RequestID: fmt.Sprint("req_", i), Route: "GET /v1/fhir/:type/:id", Operation: "read",
				BulkJob: []string{"", "job_1"}[i%2], Resources: []string{"Patient/pt_1", fmt.Sprint("Observation/ob_", i)}})
		}
		if err := db.InsertDisclosures(ctx, ds); err != nil {
			t.Fatal(err)
		}
		n := 0
		for p := range 5 {
			es, err := db.ListDisclosures(ctx, disclosure.Filter{OrgID: "org_1", PatientID: fmt.Sprint("pt_", p), Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				var i int
				fmt.Sscan(e.RequestID[len("req_"):], &i)
				w := ds[i]
				w.At = w.At.UTC().Truncate(time.Microsecond)
				e.At = e.At.UTC()
				if !reflect.DeepEqual(e.Disclosure, w) {
					t.Fatalf("disclosure %d:\n got %+v\nwant %+v", i, e.Disclosure, w)
				}
				n++
			}
		}
		if n != len(ds) {
			t.Fatalf("read back %d disclosures, wrote %d", n, len(ds))
		}
	})
}
