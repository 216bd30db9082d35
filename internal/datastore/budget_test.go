package datastore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
)

// slowBackend answers nothing until its context ends, as a database
// stuck on a statement whose context is honoured.
type slowBackend struct{ datastore.Backend }

func (slowBackend) Get(ctx context.Context, _ datastore.Tenant, _, _ string) (datastore.Record, error) {
	<-ctx.Done()
	return datastore.Record{}, ctx.Err()
}

func (slowBackend) Search(ctx context.Context, _ datastore.Tenant, _ datastore.Query) ([]datastore.Record, int, error) {
	<-ctx.Done()
	return nil, 0, ctx.Err()
}

// TestBudget: past the budget a search is SEARCH_TOO_COSTLY and a read is
// Unavailable with a Retry-After; a caller's own cancellation stays its
// own error.
func TestBudget(t *testing.T) {
	s := datastore.New(slowBackend{}, nil, regIndex{searchparam.Default()}, nil)
	s.SetBudget(20 * time.Millisecond)
	ctx := context.Background()
	start := time.Now()
	_, err := s.Search(ctx, "org_1", datastore.Query{Type: "Patient", Limit: 10})
	if errs.ReasonOf(err) != errs.ReasonSearchTooCostly || time.Since(start) > time.Second {
		t.Fatalf("search past the budget: %v after %v, want SEARCH_TOO_COSTLY at the budget", err, time.Since(start))
	}
	_, err = s.Read(ctx, "org_1", "Patient", "pt-1")
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Unavailable || e.RetryAfter <= 0 {
		t.Fatalf("read past the budget: %v, want Unavailable with a Retry-After", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	s.SetBudget(time.Second)
	if _, err := s.Search(cctx, "org_1", datastore.Query{Type: "Patient", Limit: 10}); errs.ReasonOf(err) != "" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the caller's deadline: %v, want the caller's context error", err)
	}
}
