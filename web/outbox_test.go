package web_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/records"
)

// TestAuditOutboxExactlyOnce: the audit event of a change travels with it
// through the datastore's outbox; relaying it again after a failure (the
// event reached the audit log, its outbox row was not yet deleted) still
// leaves exactly one event, and an emptied outbox relays nothing more.
func TestAuditOutboxExactlyOnce(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		ctx := context.Background()
		st, tenant, err := env.App.Records.Datastore(ctx, a.org, "test")
		if err != nil {
			t.Fatal(err)
		}
		var event audit.Event
		rec, err := st.Create(ctx, tenant, fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Outbox"}}},
			func(rec datastore.Record) datastore.Events {
				event = env.App.Audit.Prepare(ctx, audit.Event{OrgID: a.org, ActorType: audit.ActorSystem, ActorID: "test",
					Action: records.ActionCreate, TargetType: rec.Type, TargetID: rec.ID})
				b, _ := json.Marshal(event)
				return datastore.Events{Audit: b}
			})
		if err != nil {
			t.Fatal(err)
		}
		// As if a relay wrote the event and stopped before deleting it.
		if err := env.App.Audit.Write(ctx, []audit.Event{event}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := env.App.Records.RelayAudit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if left, err := st.OutboxEvents(ctx, 10); err != nil || len(left) != 0 {
			t.Fatalf("outbox after the relay: %d events, %v", len(left), err)
		}
		events, err := env.App.Audit.List(ctx, audit.Filter{OrgID: a.org, Action: records.ActionCreate})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.TargetID == rec.ID {
				n++
				if e.ID != event.ID {
					t.Fatalf("the relayed event has id %s, want %s", e.ID, event.ID)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d audit events for Patient/%s, want exactly 1", n, rec.ID)
		}
	})
}
