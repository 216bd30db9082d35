package store_test

import (
	"context"
	"testing"

	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

func TestAnalyticsConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		mustUser(t, db, "usr_c", "c@example.com")
		mustUser(t, db, "usr_d", "d@example.com")
		if c, err := db.AnalyticsConsent(ctx, "usr_c"); err != nil || c != product.Unasked {
			t.Fatalf("before any choice: %q, %v; want unasked", c, err)
		}
		if err := db.SetAnalyticsConsent(ctx, "usr_c", product.Refused, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.SetAnalyticsConsent(ctx, "usr_d", product.Granted, t0); err != nil {
			t.Fatal(err)
		}
		if c, err := db.AnalyticsConsent(ctx, "usr_c"); err != nil || c != product.Refused {
			t.Fatalf("after refusing: %q, %v", c, err)
		}
		// A later choice replaces the earlier one.
		if err := db.SetAnalyticsConsent(ctx, "usr_c", product.Granted, t0.Add(1)); err != nil {
			t.Fatal(err)
		}
		if c, err := db.AnalyticsConsent(ctx, "usr_c"); err != nil || c != product.Granted {
			t.Fatalf("after changing to granted: %q, %v", c, err)
		}
		if c, err := db.AnalyticsConsent(ctx, "usr_d"); err != nil || c != product.Granted {
			t.Fatalf("other person: %q, %v", c, err)
		}
	})
}
