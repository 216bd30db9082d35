package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/clinikapi/clinikapi/internal/product"
)

var _ product.ConsentStore = (*DB)(nil)

// AnalyticsConsent implements product.ConsentStore.
func (db *DB) AnalyticsConsent(ctx context.Context, userID string) (product.Choice, error) {
	var c string
	err := db.sql.QueryRowContext(ctx, `SELECT choice FROM analytics_consent WHERE user_id = $1`, userID).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return product.Unasked, nil
	}
	if err != nil {
		return product.Unasked, err
	}
	return product.ParseChoice(c), nil
}

// SetAnalyticsConsent implements product.ConsentStore.
func (db *DB) SetAnalyticsConsent(ctx context.Context, userID string, c product.Choice, at time.Time) error {
	_, err := db.execWrite(ctx, `INSERT INTO analytics_consent (user_id, choice, decided_at) VALUES ($1, $2, $3)
	ON CONFLICT (user_id) DO UPDATE SET choice = excluded.choice, decided_at = excluded.decided_at`, userID, string(c), utc(at))
	return err
}
