package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/usage"
)

// BenchmarkAuditBatch is the write-behind cost of one API data operation's
// audit event, written in full batches as the flusher does under load, on
// each engine under test (PostgreSQL with CLINIKAPI_TEST_POSTGRES_URL).
func BenchmarkAuditBatch(b *testing.B) {
	benchBatches(b, audit.BatchSize, func(i int) audit.Event {
		return audit.Event{ID: random.SortableID("aud", time.Now()), OrgID: "org_1", ActorType: audit.ActorAPIKey, ActorID: "key_1",
			Action: "fhir.read", TargetType: "Patient", TargetID: fmt.Sprint("pt_", i), IP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
			Outcome: audit.Success, Detail: map[string]string{"env": "test"}, CreatedAt: time.Now()}
	}, (*store.DB).InsertAuditEvents)
}

// BenchmarkUsageBatch is the same for one request's usage record.
func BenchmarkUsageBatch(b *testing.B) {
	benchBatches(b, usage.BatchSize, func(int) usage.Record {
		return usage.Record{Time: time.Now(), OrgID: "org_1", KeyID: "key_1", Env: "test", Method: "GET", Route: "/v1/fhir/:type/:id",
			Status: 200, Latency: time.Millisecond, BytesOut: 620, RequestID: random.ID("req")}
	}, (*store.DB).InsertUsage)
}

// BenchmarkDisclosureBatch is the same for one read's disclosure: each of
// another patient of 10,000, as reads by id go.
func BenchmarkDisclosureBatch(b *testing.B) {
	benchBatches(b, disclosure.BatchSize, func(i int) disclosure.Disclosure {
		p := fmt.Sprint("pt-", i*7919%10000)
		return disclosure.Disclosure{OrgID: "org_1", PatientID: p, At: time.Now(), Env: "test", ActorType: "api_key", ActorID: "key_1",
			RequestID: random.ID("req"), Route: "GET /v1/fhir/:type/:id", Operation: "read", Resources: []string{"Patient/" + p}}
	}, (*store.DB).InsertDisclosures)
}

// benchBatches writes b.N rows made by row in batches of size with
// insert, on each engine under test, and reports the cost per row.
func benchBatches[T any](b *testing.B, size int, row func(i int) T, insert func(*store.DB, context.Context, []T) error) {
	for _, engine := range storetest.Targets(b) {
		b.Run(engine, func(b *testing.B) {
			db := storetest.Open(b, engine)
			ctx := context.Background()
			batch := make([]T, size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(batch) {
				for j := range batch {
					batch[j] = row(i + j)
				}
				if err := insert(db, ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
